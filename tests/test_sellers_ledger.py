"""The strike ledger and escalations on SQLite and PostgreSQL, with the database state made by
the real code paths (repo upserts, the evidence chain, the takedown queue and state machine):
only accepted, confirmed removals become strikes, once each; a strike's work, offence and
evidence; escalation events written once, with their evidence; linked accounts pooled; a
seller's whole history.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crawler.db.models_sellers import (
    SellerCluster,
    SellerEvent,
    SellerIdentifier,
    SellerLink,
    Strike,
)
from crawler.db.session import session_scope
from crawler.sellers.escalate import evaluate_all
from crawler.sellers.history import ledger_for, resolve_seller
from crawler.sellers.ledger import SellerLookupError, update_strikes
from crawler.sellers.policy import load_policy
from crawler.takedown.queue import enqueue_from_match
from tests.sellers_support import (
    MEMBER,
    T0,
    add_listing,
    capture,
    drive,
    open_request,
    seller_of,
    strike_listing,
)

DAY = timedelta(days=1)
THREE = load_policy("three_strikes")
POINTS = load_policy("points")


def _strikes(session: Session) -> list[Strike]:
    return list(session.execute(select(Strike).order_by(Strike.request_id)).scalars())


def _events(session: Session, seller_id: int | None = None) -> list[SellerEvent]:
    stmt = select(SellerEvent).order_by(SellerEvent.id)
    if seller_id is not None:
        stmt = stmt.where(SellerEvent.seller_id == seller_id)
    return list(session.execute(stmt).scalars())


def test_only_accepted_confirmed_removals_become_strikes_once(
    db_sessions: sessionmaker[Session],
) -> None:
    at = T0 - 10 * DAY
    with session_scope(db_sessions) as session:
        counted = strike_listing(session, "1001", at)
        # Accepted, removed, then put back: the removal still happened (a relisting follows).
        came_back = strike_listing(session, "1002", at)
        relisting = open_request(session, add_listing(session, "1002"), at=at + DAY)
        # Everything that is not an accepted, confirmed removal:
        add_listing(session, "1003")  # a detection only: a listing, no request
        pending = open_request(session, add_listing(session, "1004"), at=at)
        for key, state in (
            ("1005", "submitted"),
            ("1006", "acknowledged"),
            ("1007", "rejected_by_platform"),
            ("1008", "withdrawn"),
            ("1009", "removed_unconfirmed"),
        ):
            listing = add_listing(session, key)
            capture(session, listing, at - DAY)
            drive(session, open_request(session, listing, at=at - DAY), state, at)
    with session_scope(db_sessions) as session:
        assert update_strikes(session) == 2
    with session_scope(db_sessions) as session:
        assert update_strikes(session) == 0  # idempotent
        rows = _strikes(session)
        assert [r.request_id for r in rows] == [counted, came_back]
        assert relisting not in [r.request_id for r in rows] and pending != relisting
        assert all(r.struck_at == at and r.member == MEMBER for r in rows)
    # A removal confirmed later is added by the next update, and only it.
    with session_scope(db_sessions) as session:
        drive(session, pending, "removed", at + 2 * DAY)
    with session_scope(db_sessions) as session:
        assert update_strikes(session) == 1
        assert session.execute(select(func.count()).select_from(Strike)).scalar_one() == 3


def test_strike_records_work_offence_and_evidence_before_removal(
    db_sessions: sessionmaker[Session],
) -> None:
    at = T0 - 5 * DAY
    with session_scope(db_sessions) as session:
        disc = add_listing(session, "2001", title="黑客帝国 1999 蓝光 DVD 光盘 国语中字")
        html_first = capture(session, disc, at - 3 * DAY, kind="html")
        warc = capture(session, disc, at - 2 * DAY, kind="warc")
        capture(session, disc, at + DAY, kind="warc")  # after removal: the "removed" page
        drive(session, open_request(session, disc, at=at - 2 * DAY), "removed", at)
        drive_only_html = add_listing(session, "2002", title="盗梦空间 百度网盘 4K资源 秒发")
        html = capture(session, drive_only_html, at - DAY, kind="html")
        drive(
            session,
            open_request(session, drive_only_html, "war-inception-2010", at=at - DAY),
            "removed",
            at,
        )
        late = add_listing(session, "2003", title="Inception HD Streaming Link Lifetime Access")
        capture(session, late, at + DAY)
        drive(
            session, open_request(session, late, "war-inception-2010", at=at - DAY), "removed", at
        )
        update_strikes(session)
    with session_scope(db_sessions) as session:
        rows = {r.listing_id: r for r in _strikes(session)}
        assert rows[disc].evidence_sha256 == warc != html_first
        assert (rows[disc].work, rows[disc].catalog_id, rows[disc].offence) == (
            "The Matrix (1999)",
            "war-the-matrix-1999",
            "disc",
        )
        assert (rows[drive_only_html].evidence_sha256, rows[drive_only_html].offence) == (
            html,
            "download",
        )
        assert rows[late].evidence_sha256 is None and rows[late].offence == "streaming"
        assert rows[late].work == "Inception (2010)"


def test_escalation_events_written_once_with_their_evidence(
    db_sessions: sessionmaker[Session],
) -> None:
    with session_scope(db_sessions) as session:
        first = strike_listing(session, "3001", T0)
        for n, key in enumerate(("3002", "3003")):
            strike_listing(session, key, T0 + (n + 1) * DAY)
        seller = seller_of(session, add_listing(session, "3001"))
        update_strikes(session)
    with session_scope(db_sessions) as session:
        (esc,) = evaluate_all(session, THREE, as_of=T0 + 3 * DAY)
        assert (esc.level, esc.previous_level, esc.changed, esc.event_kind) == (
            "termination_request",
            None,
            True,
            "escalation",
        )
        assert esc.reason == "3 accepted removals in 90 days: 3 needed for termination request"
    with session_scope(db_sessions) as session:
        (again,) = evaluate_all(session, THREE, as_of=T0 + 4 * DAY)
        assert not again.changed and again.event_id is None
        (event,) = _events(session)
        assert (event.kind, event.policy, event.from_level, event.to_level) == (
            "escalation",
            "three_strikes",
            None,
            "termination_request",
        )
        assert event.seller_id == seller and event.actor == "system:sellers-policy"
        evidence = event.evidence or []
        assert len(evidence) == 3 and all(len(e["sha256"]) == 64 for e in evidence)
        assert {"strike_id", "request_id", "listing_id", "sha256"} <= set(evidence[0])
        assert evidence[0]["request_id"] == first
    # 90 days after the first removal it ages out: one de-escalation, once.
    with session_scope(db_sessions) as session:
        (down,) = evaluate_all(session, THREE, as_of=T0 + 90 * DAY)
        assert (down.level, down.event_kind) == ("restriction_request", "deescalation")
        assert not evaluate_all(session, THREE, as_of=T0 + 90 * DAY)[0].changed
    with session_scope(db_sessions) as session:
        kinds = [(e.kind, e.from_level, e.to_level) for e in _events(session)]
        assert kinds == [
            ("escalation", None, "termination_request"),
            ("deescalation", "termination_request", "restriction_request"),
        ]
        # Another policy keeps its own track: its first judgement is an escalation.
        (points,) = evaluate_all(session, POINTS, as_of=T0 + 4 * DAY)
        assert (points.level, points.event_kind, points.points) == (
            "restriction_request",
            "escalation",
            36,
        )


def test_strikes_without_evidence_never_escalate(db_sessions: sessionmaker[Session]) -> None:
    with session_scope(db_sessions) as session:
        for n in range(4):
            strike_listing(session, f"400{n}", T0 + n * DAY, evidence=False)
        update_strikes(session)
        assert all(r.evidence_sha256 is None for r in _strikes(session))
    with session_scope(db_sessions) as session:
        (esc,) = evaluate_all(session, THREE, as_of=T0 + 5 * DAY)
        assert esc.level is None and not esc.changed and esc.strikes == 0
        assert "4 accepted removals without evidence not counted" in esc.reason
        assert _events(session) == []


def test_linked_accounts_are_judged_on_pooled_strikes(db_sessions: sessionmaker[Session]) -> None:
    with session_scope(db_sessions) as session:
        ids = []
        for n, seller in enumerate(("shop_a", "shop_b", "shop_c")):
            strike_listing(session, f"500{n}", T0 + n * DAY, seller=seller)
            ids.append(seller_of(session, add_listing(session, f"500{n}", seller=seller)))
        quiet = seller_of(session, add_listing(session, "5009", seller="shop_quiet"))
        strike_listing(session, "5010", T0, seller="loner")
        loner = seller_of(session, add_listing(session, "5010", seller="loner"))
        for sid in [*ids, quiet]:
            session.add(SellerCluster(seller_id=sid, cluster_id=min(ids), size=4))
        update_strikes(session)
    with session_scope(db_sessions) as session:
        found = {e.seller_id: e for e in evaluate_all(session, THREE, as_of=T0 + 3 * DAY)}
        assert set(found) == {*ids, quiet, loner}
        for sid in ids:
            esc = found[sid]
            assert esc.own.level == "warning" and esc.level == "termination_request"
            assert esc.cluster is not None and esc.cluster_size == 4
            assert esc.reason == (
                "3 accepted removals in 90 days across 4 linked accounts: "
                "3 needed for termination request"
            )
            assert {e["seller_id"] for e in esc.evidence} == set(ids)
        assert found[quiet].own.level is None and found[quiet].level == "termination_request"
        assert found[loner].level == "warning" and found[loner].cluster is None
        assert [
            e.seller_id for e in evaluate_all(session, THREE, as_of=T0 + 3 * DAY) if e.changed
        ] == []
    # "ignore" judges each account alone.
    alone = replace(THREE, name="alone", pool_linked=False)
    with session_scope(db_sessions) as session:
        levels = {e.seller_id: e.level for e in evaluate_all(session, alone, as_of=T0 + 3 * DAY)}
        assert quiet not in levels and {levels[s] for s in ids} == {"warning"}
    # The history names the linked accounts and the identifiers that prove each link.
    with session_scope(db_sessions) as session:
        shared = []
        for sid in (ids[0], quiet):
            ident = SellerIdentifier(
                seller_id=sid,
                kind="phone",
                value="13800138000",
                shown="138-0013-8000",
                url=f"http://127.0.0.1:9/shop/{sid}",
                evidence_sha256=f"{sid:064x}",
            )
            session.add(ident)
            session.flush()
            shared.append(ident.id)
        session.add(
            SellerLink(
                seller_a=min(ids[0], quiet),
                seller_b=max(ids[0], quiet),
                kind="phone",
                value="13800138000",
                identifier_a=shared[0],
                identifier_b=shared[1],
            )
        )
    with session_scope(db_sessions) as session:
        cluster = ledger_for(session, quiet, as_of=T0 + 3 * DAY, policy=THREE).cluster
        assert cluster is not None and cluster["cluster_id"] == min(ids)
        assert sorted(m["seller_id"] for m in cluster["members"]) == sorted([*ids, quiet])
        (link,) = cluster["links"]
        assert link["kind"] == "phone" and {p["sha256"] for p in link["proof"]} == {
            f"{ids[0]:064x}",
            f"{quiet:064x}",
        }
        assert ledger_for(session, loner).cluster is None


def test_relisting_by_linked_account_counts_against_cluster(
    db_sessions: sessionmaker[Session],
) -> None:
    with session_scope(db_sessions) as session:
        strike_listing(session, "6001", T0, seller="first_shop", seen=T0 - 20 * DAY)
        # The same work, put up by a linked account after the first removal.
        strike_listing(session, "6002", T0 + 30 * DAY, seller="second_shop", seen=T0 + 10 * DAY)
        a = seller_of(session, add_listing(session, "6001", seller="first_shop"))
        b = seller_of(session, add_listing(session, "6002", seller="second_shop"))
        session.add_all(
            [
                SellerCluster(seller_id=a, cluster_id=a, size=2),
                SellerCluster(seller_id=b, cluster_id=a, size=2),
            ]
        )
        update_strikes(session)
    with session_scope(db_sessions) as session:
        found = {e.seller_id: e for e in evaluate_all(session, POINTS, as_of=T0 + 31 * DAY)}
        assert found[b].own.relistings == 0 and found[b].own.total == 12
        assert found[b].cluster is not None and found[b].cluster.relistings == 1
        assert found[b].points == 12 + 12 + 12 and found[b].level == "restriction_request"
        assert (
            "1 relisting x 12" in found[b].reason and "across 2 linked accounts" in found[b].reason
        )


def test_ledger_for_gives_the_whole_history(db_sessions: sessionmaker[Session]) -> None:
    with session_scope(db_sessions) as session:
        request = strike_listing(
            session, "7001", T0, seller="history_shop", sales=40, seller_name="历史\x1b[31m店"
        )
        listing = add_listing(session, "7001", seller="history_shop")
        seller = seller_of(session, listing)
        relisted = enqueue_from_match(
            session,
            listing,
            MEMBER,
            {"decision": "review", "score": 0.6, "catalog_ids": ["war-the-matrix-1999"]},
            now=T0 + DAY,
        ).request_id
        update_strikes(session)
        evaluate_all(session, THREE, as_of=T0 + 2 * DAY)
    with session_scope(db_sessions) as session:
        ledger = ledger_for(session, seller, as_of=T0 + 2 * DAY, observations=True, policy=THREE)
        assert ledger.seller["seller_key"] == "history_shop"
        assert ledger.seller["marketplace"] == "demomart"
        assert [s.listing_key for s in ledger.sightings] == ["7001"]
        assert [r.id for r in ledger.requests] == [request, relisted]
        assert ledger.requests[1].cites_request_id == request
        assert ledger.requests[0].state == "relisted"
        (strike,) = ledger.strikes
        assert (
            strike.request_id == request
            and strike.counted
            and len(strike.evidence_sha256 or "") == 64
        )
        assert [e["kind"] for e in ledger.events] == ["escalation"]
        assert ledger.standing is not None and ledger.standing.level == "warning"
        kinds = [t.kind for t in ledger.timeline]
        assert kinds[0] == "sighting" and {"takedown", "strike", "seller_event"} <= set(kinds)
        assert [t.at for t in ledger.timeline] == sorted(t.at for t in ledger.timeline)
        assert any("relisting of request" in t.detail for t in ledger.timeline)
        data = json.loads(json.dumps(ledger.as_dict()))
        assert data["strikes"][0]["struck_at"].startswith("2026-03-01T12:00:00")
        assert data["standing"]["level_words"] == "warning"
        assert data["licence"]["has_licence_block"] is False


def test_resolve_seller_by_key_name_or_id(db_sessions: sessionmaker[Session]) -> None:
    with session_scope(db_sessions) as session:
        one = seller_of(session, add_listing(session, "8001", seller="dup", seller_name="影音"))
        two = seller_of(session, add_listing(session, "8002", seller="dup", marketplace="demobay"))
        assert resolve_seller(session, "dup", "demobay") == two
        assert resolve_seller(session, "影音") == one
        assert resolve_seller(session, f"#{two}") == two
        with pytest.raises(SellerLookupError, match="more than one seller"):
            resolve_seller(session, "dup")
        with pytest.raises(SellerLookupError, match="no seller 'nobody' on demomart"):
            resolve_seller(session, "nobody", "demomart")
