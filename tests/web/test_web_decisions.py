"""Bulk approve and reject: every move through the state machine, written to the audit log
with the user and the reason (SQLite and PostgreSQL)."""

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


def _rows(db_url: str, ids: list[int]) -> tuple[dict[int, str], list[tuple[int, str, str, str]]]:
    engine = make_engine(db_url)
    try:
        with session_scope(session_factory(engine)) as session:
            states = dict(session.execute(select(TakedownRequest.id, TakedownRequest.state)
                                          .where(TakedownRequest.id.in_(ids))).all())
            events = [tuple(r) for r in session.execute(
                select(TakedownEvent.request_id, TakedownEvent.to_state, TakedownEvent.actor,
                       TakedownEvent.reason)
                .where(TakedownEvent.request_id.in_(ids),
                       TakedownEvent.actor.like("user:%"))
                .order_by(TakedownEvent.id)).all()]
            return states, events  # type: ignore[return-value]
    finally:
        engine.dispose()


def test_web_bulk_approve_writes_the_audit_log_with_the_user(
    web_data: tuple[str, Path, WebData], client_for: Client,
) -> None:
    db_url, _, data = web_data
    alice = client_for("alice")
    batch = data.warner_requests[1:4]
    token = csrf_of(alice.get("/queue").text)
    response = alice.post("/queue/decide", data={
        "csrf_token": token, "ids": [str(i) for i in batch], "action": "approve",
        "reason": "checked against the catalogue", "next": "/queue?state=pending_review"},
        follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/queue?state=pending_review"
    page = alice.get(response.headers["location"]).text
    assert "3 request(s) approved" in page
    states, events = _rows(db_url, batch)
    assert set(states.values()) == {"approved"}
    assert events == [(i, "approved", "user:alice", "checked against the catalogue")
                      for i in batch]

    # Approving again is refused by the state machine, with its reason; rejecting works.
    token = csrf_of(page)
    again = alice.post("/queue/decide", data={
        "csrf_token": token, "ids": [str(batch[0]), str(data.warner_requests[4])],
        "action": "approve"}, follow_redirects=True).text
    assert "1 request(s) approved, 1 refused" in again
    assert f"#{batch[0]}: request {batch[0]}: approved -&gt; approved is not allowed" in again
    rejected = alice.post("/queue/decide", data={
        "csrf_token": token, "ids": [str(batch[1])], "action": "reject",
        "reason": "licensed reseller"}, follow_redirects=True).text
    assert "1 request(s) rejected" in rejected
    states, events = _rows(db_url, batch)
    assert states[batch[1]] == "rejected"
    assert events[-1] == (batch[1], "rejected", "user:alice", "licensed reseller")
    history = alice.get(f"/requests/{batch[1]}").text
    assert "user:alice" in history and "licensed reseller" in history


def test_web_bulk_decision_refuses_bad_forms(
    web_data: tuple[str, Path, WebData], client_for: Client,
) -> None:
    db_url, _, data = web_data
    alice = client_for("alice")
    token = csrf_of(alice.get("/queue").text)
    rid = str(data.warner_requests[5])
    for form, message in (
        ({"ids": rid, "action": "reject", "reason": "  "}, "a rejection needs a reason"),
        ({"ids": rid, "action": "delete"}, "unknown action"),
        ({"action": "approve"}, "select at least one request"),
        ({"ids": "1 OR 1=1", "action": "approve"}, "not a request id"),
    ):
        response = alice.post("/queue/decide", data={"csrf_token": token, **form})
        assert response.status_code == 400, form
        assert message in response.text
    states, events = _rows(db_url, [int(rid)])
    assert states[int(rid)] == "pending_review" and events == []
