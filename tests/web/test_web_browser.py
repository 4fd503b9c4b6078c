"""End to end in Debian's chromium (Playwright): a member's reviewer signs in, filters the
queue, approves and rejects with the keyboard, opens a request and its evidence, verifies it,
decides on the request page, sees the state change, is refused another member's request, and
sees hostile text as text; an administrator looks at a seller, the runs and the overview.
Every page is screenshot (``$REELGUARD_WEB_SCREENSHOTS`` or the test's tmp dir)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select

from crawler.db.models_takedown import TakedownEvent
from crawler.db.session import make_engine, session_factory, session_scope
from crawler.web.app import create_app
from tests.web.server import running_server
from tests.web.support import PASSWORD, SECRET, XSS, WebData

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CHROMIUM = os.environ.get("REELGUARD_CHROMIUM_PATH", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def db_backend() -> str:
    return "sqlite"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("REELGUARD_WEB_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser_page(web_data: tuple[str, Path, WebData]) -> Iterator[tuple[Page, str, list[str]]]:
    """A chromium page and the dashboard's base URL; the list collects dialogs and console
    errors (an XSS would open a dialog; a CSP violation logs an error)."""
    db_url, store_dir, _ = web_data
    app = create_app(db_url, secret=SECRET, evidence_dir=store_dir)
    problems: list[str] = []
    with running_server(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.set_default_timeout(15000)

            def on_dialog(dialog: Any) -> None:
                problems.append(f"dialog: {dialog.message}")
                dialog.dismiss()

            page.on("dialog", on_dialog)
            page.on("console", lambda m: problems.append(f"console: {m.text}")
                    if m.type == "error" and "404" not in m.text else None)
            yield page, base, problems
        finally:
            browser.close()


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/queue")


def _user_events(db_url: str) -> list[tuple[int, str, str, str | None]]:
    engine = make_engine(db_url)
    try:
        with session_scope(session_factory(engine)) as session:
            return [tuple(r) for r in session.execute(  # type: ignore[misc]
                select(TakedownEvent.request_id, TakedownEvent.to_state, TakedownEvent.actor,
                       TakedownEvent.reason)
                .where(TakedownEvent.actor.like("user:%")).order_by(TakedownEvent.id)).all()]
    finally:
        engine.dispose()


def test_browser_member_reviews_a_day(
    browser_page: tuple[Page, str, list[str]], web_data: tuple[str, Path, WebData], shots: Path,
) -> None:
    page, base, problems = browser_page
    db_url, _, data = web_data
    page.goto(f"{base}/login")
    page.screenshot(path=str(shots / "login.png"))
    _sign_in(page, base, "alice")

    # The queue: alice's member only; the hostile title is text.
    rows = page.locator("tr[data-id]")
    expect(rows).to_have_count(len(data.warner_requests))
    expect(page.locator(f'tr[data-id="{data.xss_request}"] td.title a')).to_have_text(XSS)
    expect(page.locator(f'tr[data-id="{data.sony_requests[0]}"]')).to_have_count(0)

    # Filter by score, then clear.
    page.fill("input[name=min_score]", "0.7")
    page.click("form.filters button[type=submit]")
    expect(rows).to_have_count(4)
    page.click("text=Clear")
    expect(rows).to_have_count(len(data.warner_requests))
    page.screenshot(path=str(shots / "queue.png"))

    # Keyboard: j x j x a approves the first two rows (newest first).
    first_two = [int(rows.nth(i).get_attribute("data-id") or 0) for i in range(2)]
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator("#selected-count")).to_have_text("2 selected")
    page.screenshot(path=str(shots / "queue-selected.png"))
    page.keyboard.press("a")
    expect(page.locator("#flash")).to_contain_text("2 request(s) approved")
    expect(rows).to_have_count(len(data.warner_requests) - 2)

    # r: reject the current row with a reason typed in the bar, Enter.
    third = int(rows.nth(0).get_attribute("data-id") or 0)
    page.keyboard.press("j")
    page.keyboard.press("r")
    page.keyboard.type("official store, licensed")
    page.keyboard.press("Enter")
    expect(page.locator("#flash")).to_contain_text("1 request(s) rejected")
    assert _user_events(db_url) == [
        (first_two[0], "approved", "user:alice", None),
        (first_two[1], "approved", "user:alice", None),
        (third, "rejected", "user:alice", "official store, licensed"),
    ]

    # The request page: listing beside catalogue entry, evidence, verify, decide.
    page.click(f'tr[data-id="{data.xss_request}"] a.open')
    page.wait_for_url(f"{base}/requests/{data.xss_request}")
    expect(page.locator("#listing-title")).to_have_text(XSS)
    expect(page.locator(".catalogue")).to_contain_text("The Matrix")
    shot = page.locator("img.shot")
    expect(shot).to_be_visible()
    assert page.evaluate("document.querySelector('img.shot').naturalWidth") == 360
    page.click("#verify")
    expect(page.locator("#verify-result")).to_contain_text("Verified: 2 artefacts")
    page.screenshot(path=str(shots / "request.png"), full_page=True)
    page.fill(".decidebar input[name=reason]", "bootleg disc, seller has strikes")
    page.click(".decidebar button[value=approve]")
    page.wait_for_url(f"{base}/requests/{data.xss_request}")
    expect(page.locator("#flash")).to_contain_text("1 request(s) approved")
    expect(page.locator("#history")).to_contain_text("user:alice")
    expect(page.locator("#history")).to_contain_text("bootleg disc, seller has strikes")
    expect(page.locator("h1 + div .badge").first).to_have_text("approved")

    # The picture opens by evidence id; another member's request and evidence do not.
    response = page.goto(f"{base}/evidence/{data.image_evidence}")
    assert response is not None and response.headers["content-type"] == "image/png"
    response = page.goto(f"{base}/requests/{data.sony_requests[0]}")
    assert response is not None and response.status == 404
    expect(page.locator("main")).to_contain_text("belongs to another member")
    page.screenshot(path=str(shots / "not-found.png"))
    response = page.goto(f"{base}/evidence/{data.sony_evidence}")
    assert response is not None and response.status == 404

    # The approved requests show their new state in the queue.
    page.goto(f"{base}/queue?state=approved")
    for rid in [*first_two, data.xss_request]:
        expect(page.locator(f'tr[data-id="{rid}"] .badge.state-approved')).to_be_visible()
    assert problems == []


def test_browser_admin_seller_runs_overview(
    browser_page: tuple[Page, str, list[str]], web_data: tuple[str, Path, WebData], shots: Path,
) -> None:
    page, base, problems = browser_page
    _, _, data = web_data
    _sign_in(page, base, "root")
    expect(page.locator("tr[data-id]")).to_have_count(
        len(data.warner_requests) + len(data.sony_requests))
    page.screenshot(path=str(shots / "queue-admin.png"))
    # Reject without a reason: the page asks for one instead of sending the form.
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.click("#bulk button[value=reject]")
    expect(page.locator("#bulk input[name=reason]")).to_have_class("need")
    expect(page.locator("#bulk input[name=reason]")).to_be_focused()
    assert page.url == f"{base}/queue"

    page.goto(f"{base}/sellers/{data.warner_seller}")
    expect(page.locator("h1")).to_contain_text("盗版影音店")
    expect(page.locator("#investigate")).to_be_visible()
    page.click("text=Show the listings")
    expect(page.locator("details td.title").first).to_be_visible()
    page.screenshot(path=str(shots / "seller.png"), full_page=True)

    page.goto(f"{base}/runs")
    page.click(f'a[href="/runs/{data.run_id}"]')
    expect(page.locator("main")).to_contain_text("slider captcha <b>bold</b>")
    page.screenshot(path=str(shots / "run.png"), full_page=True)
    page.goto(f"{base}/runs")
    page.screenshot(path=str(shots / "runs.png"))

    page.goto(f"{base}/overview")
    expect(page.locator("svg.chart")).to_have_count(5)
    expect(page.locator("main")).to_contain_text("Sony Pictures Entertainment")
    page.screenshot(path=str(shots / "overview.png"), full_page=True)
    assert problems == []
