"""A member's user sees and changes that member's requests only, on SQLite and PostgreSQL:
another member's request, evidence, seller and verification answer 404 by id, and a bulk
decision naming another member's id refuses it and leaves it as it was."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from crawler.db.models_takedown import TakedownEvent, TakedownRequest
from crawler.db.session import make_engine, session_factory, session_scope
from tests.web.support import WebData, csrf_of

pytestmark = pytest.mark.timeout(120)
Client = Callable[[str | None], TestClient]


def _states(db_url: str, ids: list[int]) -> dict[int, str]:
    engine = make_engine(db_url)
    try:
        with session_scope(session_factory(engine)) as session:
            return dict(session.execute(
                select(TakedownRequest.id, TakedownRequest.state)
                .where(TakedownRequest.id.in_(ids))).all())
    finally:
        engine.dispose()


def test_web_scope_other_members_request_is_not_found(
    web_data: tuple[str, Path, WebData], client_for: Client,
) -> None:
    db_url, _, data = web_data
    alice = client_for("alice")
    bob_request = data.sony_requests[0]
    assert alice.get(f"/requests/{data.xss_request}").status_code == 200
    for url in (f"/requests/{bob_request}", f"/evidence/{data.sony_evidence}",
                f"/sellers/{data.sony_seller}", "/requests/999999"):
        response = alice.get(url)
        assert response.status_code == 404, url
        assert "belongs to another member" in response.text
    token = csrf_of(alice.get("/queue").text)
    assert alice.post(f"/requests/{bob_request}/verify",
                      data={"csrf_token": token}).status_code == 404
    assert alice.post(f"/sellers/{data.sony_seller}/investigate",
                      data={"csrf_token": token}).status_code == 404

    # The queue lists alice's member only, whatever the filter asks for.
    queue = alice.get("/queue", params={"state": "any", "member": "Sony Pictures Entertainment"})
    assert f'href="/requests/{data.xss_request}"' in queue.text
    assert f'href="/requests/{bob_request}"' not in queue.text
    assert "蜘蛛侠" not in queue.text

    # A bulk decision naming bob's request: refused, unchanged, no audit row.
    response = alice.post("/queue/decide", data={
        "csrf_token": token, "ids": [str(bob_request), str(data.warner_requests[1])],
        "action": "reject", "reason": "not ours"}, follow_redirects=True)
    assert "1 request(s) rejected, 1 refused" in response.text
    assert f"#{bob_request}: not found" in response.text
    states = _states(db_url, [bob_request, data.warner_requests[1]])
    assert states == {bob_request: "pending_review", data.warner_requests[1]: "rejected"}
    engine = make_engine(db_url)
    try:
        with session_scope(session_factory(engine)) as session:
            actors = list(session.execute(select(TakedownEvent.actor).where(
                TakedownEvent.request_id == bob_request)).scalars())
    finally:
        engine.dispose()
    assert actors == ["system:queue"]


def test_web_scope_admin_sees_every_member(
    web_data: tuple[str, Path, WebData], client_for: Client,
) -> None:
    _, _, data = web_data
    root = client_for("root")
    queue = root.get("/queue", params={"state": "any"}).text
    for rid in data.warner_requests + data.sony_requests:
        assert f'href="/requests/{rid}"' in queue
    assert root.get(f"/requests/{data.sony_requests[0]}").status_code == 200
    assert root.get(f"/sellers/{data.sony_seller}").status_code == 200
    only_sony = root.get("/queue", params={"state": "any",
                                           "member": "Sony Pictures Entertainment"}).text
    assert f'href="/requests/{data.xss_request}"' not in only_sony
    bob = client_for("bob")
    assert bob.get(f"/requests/{data.xss_request}").status_code == 404
    assert bob.get(f"/evidence/{data.image_evidence}").status_code == 404
