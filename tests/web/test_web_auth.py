"""Signing in and out, CSRF refusal, security headers and cookie flags."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from crawler.db.models_web import User
from crawler.db.session import make_engine, session_factory, session_scope
from crawler.web.app import create_app
from crawler.web.headers import CSP
from tests.web.support import PASSWORD, SECRET, WebData, csrf_of, login

pytestmark = pytest.mark.timeout(120)
Client = Callable[[str | None], TestClient]


@pytest.fixture
def db_backend() -> str:
    """These tests do not depend on the backend: SQLite only (the scope tests run both)."""
    return "sqlite"


def test_web_login_failure_is_refused_with_one_message(client_for: Client) -> None:
    client = client_for(None)
    for username, password in (("alice", "wrong password"), ("nobody", PASSWORD),
                               ("alice", "")):
        response = login(client, username, password)
        assert response.status_code in (401, 200), response.status_code
        assert "Wrong user name or password." in response.text or password == ""
        assert client.get("/queue", follow_redirects=False).status_code == 303
    assert login(client, "alice").status_code == 303
    assert client.get("/queue").status_code == 200


def test_web_pages_need_sign_in(client_for: Client, web_data: tuple[str, Path, WebData]) -> None:
    _, _, data = web_data
    client = client_for(None)
    for url in ("/queue", f"/requests/{data.xss_request}", "/overview", "/runs",
                f"/evidence/{data.image_evidence}", f"/sellers/{data.warner_seller}"):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/login?next=")
    token = csrf_of(client.get("/login").text)
    response = client.post("/queue/decide", data={"csrf_token": token, "ids": "1",
                                                  "action": "approve"})
    assert response.status_code == 401


def test_web_sign_in_redirect_stays_on_this_site(client_for: Client) -> None:
    client = client_for(None)
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                           "csrf_token": token, "next": "//evil.example/x"},
                           follow_redirects=False)
    assert response.headers["location"] == "/queue"


def test_web_csrf_missing_or_wrong_token_is_refused(
    client_for: Client, web_data: tuple[str, Path, WebData],
) -> None:
    _, _, data = web_data
    alice = client_for("alice")
    rid = data.warner_requests[2]
    form = {"ids": str(rid), "action": "approve", "reason": ""}
    assert alice.post("/queue/decide", data=form).status_code == 403
    assert alice.post("/queue/decide", data={**form, "csrf_token": "x" * 43}).status_code == 403
    token = csrf_of(alice.get("/queue").text)
    cross = alice.post("/queue/decide", data={**form, "csrf_token": token},
                       headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    assert alice.post("/logout", data={}).status_code == 403
    page = alice.get(f"/requests/{rid}").text
    assert "pending review" in page and "user:alice" not in page
    # Sign-in itself is CSRF-protected (login CSRF).
    fresh = client_for(None)
    assert fresh.post("/login", data={"username": "alice",
                                      "password": PASSWORD}).status_code == 403


def test_web_headers_and_cookie_flags(
    client_for: Client, web_data: tuple[str, Path, WebData],
) -> None:
    db_url, store_dir, data = web_data
    client = client_for(None)
    login_page = client.get("/login")
    assert login_page.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
    assert login_page.headers["x-content-type-options"] == "nosniff"
    assert login_page.headers["referrer-policy"] == "same-origin"
    cookie = login_page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    alice = client_for("alice")
    page = alice.get(f"/requests/{data.xss_request}")
    assert page.headers["content-security-policy"] == CSP
    assert page.headers["cache-control"] == "no-store"
    assert ' style="' not in page.text and "<script>" not in page.text  # nothing inline

    https_app = create_app(db_url, secret=SECRET, evidence_dir=store_dir, https=True)
    with TestClient(https_app, base_url="https://127.0.0.1") as secure:
        assert "secure" in secure.get("/login").headers["set-cookie"].lower()


def test_web_sign_out_and_disabled_user(
    client_for: Client, web_data: tuple[str, Path, WebData],
) -> None:
    db_url, _, _ = web_data
    alice = client_for("alice")
    token = csrf_of(alice.get("/queue").text)
    assert alice.post("/logout", data={"csrf_token": token},
                      follow_redirects=False).status_code == 303
    assert alice.get("/queue", follow_redirects=False).status_code == 303

    bob = client_for("bob")
    assert bob.get("/queue").status_code == 200
    engine = make_engine(db_url)
    try:
        with session_scope(session_factory(engine)) as session:
            session.execute(update(User).where(User.username == "bob").values(disabled=True))
    finally:
        engine.dispose()
    assert bob.get("/queue", follow_redirects=False).status_code == 303
    assert login(client_for(None), "bob").status_code == 401


def test_web_repeated_failed_sign_ins_are_throttled(client_for: Client) -> None:
    from crawler.web.throttle import MAX_PER_ADDRESS

    client = client_for(None)
    for _ in range(MAX_PER_ADDRESS):
        assert login(client, "alice", "not the password").status_code == 401
    # Locked: even the right password is refused, with the same page for any guess.
    refused = login(client, "alice")
    assert refused.status_code == 429 and "Too many failed sign-ins" in refused.text
    assert client.get("/queue", follow_redirects=False).status_code == 303
    # Only that name from that address: another user at the same address signs in.
    assert login(client, "bob").status_code == 303


def test_web_sign_in_limit_counts_per_address_and_name(web_data: tuple[str, Path, WebData]
                                                       ) -> None:
    from datetime import datetime, timedelta

    from crawler.db.models import utcnow
    from crawler.web.throttle import SignInLimit

    db_url, _, _ = web_data
    engine = make_engine(db_url)
    try:
        limit = SignInLimit(session_factory(engine), max_per_address=2, max_per_name=3,
                            window_s=10)
        t0 = utcnow()

        def at(s: float) -> datetime:
            return t0 + timedelta(seconds=s)

        assert limit.admit("Alice", "10.0.0.1", now=at(0)) == 0
        assert limit.admit("alice", "10.0.0.1", now=at(1)) == 0  # names count case-blind
        assert limit.admit("alice", "10.0.0.1", now=at(2)) == pytest.approx(8)
        assert limit.admit("bob", "10.0.0.1", now=at(2)) == 0  # another name, same address
        assert limit.admit("alice", "10.0.0.2", now=at(3)) == 0  # the name's third attempt
        assert limit.admit("alice", "10.0.0.3", now=at(4)) == pytest.approx(6)  # name full
        assert limit.admit("alice", "10.0.0.1", now=at(10)) == 0  # a new window
        limit.succeeded("ALICE", "10.0.0.1")  # clears the name and this address
        assert limit.admit("alice", "10.0.0.3", now=at(11)) == 0
    finally:
        engine.dispose()
