"""The takedown queue: state machine and audit log, idempotent enqueueing, exclusive claims.

Every test runs on SQLite and PostgreSQL (``db_sessions``).
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crawler.db.models_takedown import TakedownEvent, TakedownRequest
from crawler.db.session import session_scope
from crawler.takedown.queue import claim_requests, enqueue_from_match
from crawler.takedown.states import IllegalTransition, history, transition
from tests.takedown_support import (
    MEMBER,
    REVIEW,
    REVIEWED_MEMBER,
    TAKEDOWN,
    add_listing,
    add_listings,
    config,
)


def _requests(sessions: sessionmaker[Session]) -> list[TakedownRequest]:
    with session_scope(sessions) as session:
        rows = list(session.execute(select(TakedownRequest).order_by(TakedownRequest.id))
                    .scalars())
        session.expunge_all()
        return rows


def test_transitions_legal_moves_are_logged_and_illegal_ones_refused(
    db_sessions: sessionmaker[Session],
) -> None:
    with session_scope(db_sessions) as session:
        lid = add_listing(session, "1")
        rid = enqueue_from_match(session, lid, REVIEWED_MEMBER, REVIEW, config=config()).request_id
    assert rid is not None
    with session_scope(db_sessions) as session, pytest.raises(IllegalTransition,
                                                            match="pending_review -> removed"):
        transition(session, rid, "removed", "user:alice", "skipping ahead")
    with session_scope(db_sessions) as session:
        transition(session, rid, "approved", "user:alice", "looks pirated")
        transition(session, rid, "submitted", "cli", "filed")
        transition(session, rid, "acknowledged", "platform:demobay", "accepted")
        transition(session, rid, "removed", "system:followup", "gone")
    with session_scope(db_sessions) as session, pytest.raises(IllegalTransition, match="from removed: relisted"):
        transition(session, rid, "approved", "user:bob")  # removed -> only relisted
    with session_scope(db_sessions) as session:
        events = history(session, rid)
        req = session.get(TakedownRequest, rid)
        assert req is not None and req.approved_by == "user:alice"
    assert [(e.from_state, e.to_state, e.actor) for e in events] == [
        (None, "pending_review", "system:queue"),
        ("pending_review", "approved", "user:alice"),
        ("approved", "submitted", "cli"),
        ("submitted", "acknowledged", "platform:demobay"),
        ("acknowledged", "removed", "system:followup"),
    ]
    assert all(e.at.tzinfo is not None for e in events)
    assert events[1].reason == "looks pirated"


def test_enqueue_twice_from_keywords_crawls_and_url_variants_keeps_one_request(
    db_sessions: sessionmaker[Session],
) -> None:
    urls = [
        "http://127.0.0.1:9/itm/555?hash=item1:g:abc&_trksid=p2351460.m1686.l7400",
        "http://127.0.0.1:9/itm/555?utm_source=newsletter",
        "http://127.0.0.1:9/itm/555",
    ]
    results = []
    for url in urls:  # three crawls (three keywords), three URL variants of one listing
        with session_scope(db_sessions) as session:
            lid = add_listing(session, "555", url=url)
            results.append(enqueue_from_match(session, lid, MEMBER, TAKEDOWN, config=config()))
    assert [r.created for r in results] == [True, False, False]
    assert len({r.request_id for r in results}) == 1
    rows = _requests(db_sessions)
    assert len(rows) == 1 and rows[0].state == "approved"  # auto-approved member
    with session_scope(db_sessions) as session:
        actors = [e.actor for e in history(session, rows[0].id)]
    assert actors == ["system:queue", "system:auto-approve"]


def test_review_decisions_wait_and_takedown_auto_approval_follows_the_member_rule(
    db_sessions: sessionmaker[Session],
) -> None:
    with session_scope(db_sessions) as session:
        lid = add_listing(session, "7")
        review = enqueue_from_match(session, lid, MEMBER, REVIEW, config=config())
        other = enqueue_from_match(session, lid, REVIEWED_MEMBER, TAKEDOWN, config=config())
        none = enqueue_from_match(session, lid, MEMBER, {**TAKEDOWN, "decision": "none"})
    assert review.state == "pending_review"  # review: a person decides
    assert other.state == "pending_review"  # this member's rule: no auto-approval
    assert none.request_id is None and none.skipped == "decision none"
    with session_scope(db_sessions) as session:  # a later takedown decision upgrades it
        again = enqueue_from_match(session, lid, MEMBER, TAKEDOWN, config=config())
    assert again.request_id == review.request_id and again.state == "approved"


def test_rejected_request_is_not_reopened_by_a_recrawl(db_sessions: sessionmaker[Session]) -> None:
    with session_scope(db_sessions) as session:
        lid = add_listing(session, "8")
        rid = enqueue_from_match(session, lid, REVIEWED_MEMBER, REVIEW).request_id
        assert rid is not None
        transition(session, rid, "rejected", "user:alice", "authorised reseller")
    with session_scope(db_sessions) as session:
        again = enqueue_from_match(session, lid, REVIEWED_MEMBER, REVIEW)
    assert again.request_id is None and again.skipped == "rejected before"
    assert len(_requests(db_sessions)) == 1


def test_removed_listing_seen_again_opens_a_request_citing_the_old_one(
    db_sessions: sessionmaker[Session],
) -> None:
    with session_scope(db_sessions) as session:
        lid = add_listing(session, "9")
        old = enqueue_from_match(session, lid, MEMBER, TAKEDOWN, config=config()).request_id
        assert old is not None
        for to in ("submitted", "acknowledged", "removed"):
            transition(session, old, to, "system:test")
        # Same seller, same title, new listing id: a relisting too.
        other = add_listing(session, "10")
    with session_scope(db_sessions) as session:
        new = enqueue_from_match(session, lid, MEMBER, TAKEDOWN, config=config())
        second = enqueue_from_match(session, other, MEMBER, TAKEDOWN, config=config())
    assert new.created and new.cites_request_id == old
    assert second.created and second.cites_request_id is None  # the old one is relisted now
    states = {r.id: r.state for r in _requests(db_sessions)}
    assert states[old] == "relisted"


def test_relisting_under_the_same_seller_and_title_cites_the_removed_request(
    db_sessions: sessionmaker[Session],
) -> None:
    with session_scope(db_sessions) as session:
        lid = add_listing(session, "11", title="Dark Knight DVD NEW")
        old = enqueue_from_match(session, lid, MEMBER, TAKEDOWN, config=config()).request_id
        assert old is not None
        for to in ("submitted", "acknowledged", "removed"):
            transition(session, old, to, "system:test")
        relist = add_listing(session, "12", title="Dark  Knight DVD new")
        unrelated = add_listing(session, "13", title="Dark Knight DVD NEW", seller="someone")
    with session_scope(db_sessions) as session:
        fresh = enqueue_from_match(session, relist, MEMBER, TAKEDOWN, config=config())
        other = enqueue_from_match(session, unrelated, MEMBER, TAKEDOWN, config=config())
    assert fresh.cites_request_id == old
    assert other.cites_request_id is None


def _run_threads(n: int, target: object) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def wrapped(i: int) -> None:
        try:
            barrier.wait()
            target(i)  # type: ignore[operator]
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_concurrent_enqueue_of_one_listing_opens_one_request(
    db_sessions: sessionmaker[Session],
) -> None:
    lids = add_listings(db_sessions, 5)
    created: list[int] = []

    def worker(_i: int) -> None:
        for lid in lids:
            with session_scope(db_sessions) as session:
                if enqueue_from_match(session, lid, MEMBER, TAKEDOWN, config=config()).created:
                    created.append(lid)

    assert _run_threads(8, worker) == []
    assert sorted(created) == sorted(lids)
    rows = _requests(db_sessions)
    assert len(rows) == 5 and {r.state for r in rows} == {"approved"}
    with session_scope(db_sessions) as session:
        n_events = session.execute(select(func.count()).select_from(TakedownEvent)).scalar_one()
    assert n_events == 10  # opened + auto-approved, once per listing


def test_two_workers_never_claim_the_same_request(db_sessions: sessionmaker[Session]) -> None:
    lids = add_listings(db_sessions, 120)
    with session_scope(db_sessions) as session:
        for lid in lids:
            enqueue_from_match(session, lid, MEMBER, TAKEDOWN, config=config())
    claims: dict[int, list[int]] = {}

    def worker(i: int) -> None:
        mine = claims.setdefault(i, [])
        while True:
            with session_scope(db_sessions) as session:
                got = claim_requests(session, f"w{i}", limit=7)
            if not got:
                return
            mine.extend(got)

    assert _run_threads(4, worker) == []
    everything = [rid for ids in claims.values() for rid in ids]
    assert len(everything) == len(set(everything)) == 120
    assert sum(1 for ids in claims.values() if ids) >= 2  # they really competed
    with session_scope(db_sessions) as session:  # a live lease is not claimable again
        assert claim_requests(session, "late", limit=500) == []
        assert len(claim_requests(session, "late", limit=500, lease_s=-1)) == 120
