"""Notices: batches of at most 300 listings, the pre-filing check, evidence, CSV export, intake."""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawler.db.models_takedown import NoticeBatch, TakedownRequest
from crawler.db.session import session_scope
from crawler.demo.server import ServerThread, build_app
from crawler.takedown.config import TakedownConfig
from crawler.takedown.export import csv_rows, neutralise, to_csv
from crawler.takedown.notices import (
    MAX_BATCH,
    canonical_json,
    prefiling_check,
    prepare_batches,
    sha256_hex,
)
from crawler.takedown.queue import enqueue_from_match
from tests.takedown_support import MEMBER, TAKEDOWN, add_listings, config


def _approved(sessions: sessionmaker[Session], n: int) -> list[int]:
    lids = add_listings(sessions, n)
    with session_scope(sessions) as session:
        return [enqueue_from_match(session, lid, MEMBER, TAKEDOWN, config=config()).request_id
                for lid in lids]  # type: ignore[misc]


def test_batches_hold_at_most_300_listings_per_member_and_marketplace(
    db_sessions: sessionmaker[Session],
) -> None:
    _approved(db_sessions, 650)
    with session_scope(db_sessions) as session:
        result = prepare_batches(session, config(), "w", allow_without_evidence=True)
    assert result.refused == [] and result.listings == 650
    with session_scope(db_sessions) as session:
        batches = list(session.execute(select(NoticeBatch).order_by(NoticeBatch.id)).scalars())
        unbatched = session.execute(select(TakedownRequest.id).where(
            TakedownRequest.notice_batch_id.is_(None))).all()
    assert [b.listing_count for b in batches] == [300, 300, 50]
    assert unbatched == []
    for b in batches:
        assert len(b.payload["listings"]) == b.listing_count <= MAX_BATCH
        assert b.payload_sha256 == sha256_hex(canonical_json(b.payload))
        assert prefiling_check(b.payload, require_evidence=False) == []
        assert b.payload["works"][0]["catalog_id"] == "war-the-matrix-1999"
    assert len({b.idempotency_key for b in batches}) == 3
    with session_scope(db_sessions) as session:  # nothing left to batch: idempotent
        assert prepare_batches(session, config(), "w", allow_without_evidence=True).batches == []


def test_listing_without_evidence_is_refused_unless_allowed(
    db_sessions: sessionmaker[Session],
) -> None:
    _approved(db_sessions, 3)
    with session_scope(db_sessions) as session:
        result = prepare_batches(session, config(), "w")
    assert result.batches == [] and len(result.refused) == 3
    assert all(r.missing == ["no evidence"] for r in result.refused)
    with session_scope(db_sessions) as session:  # refused requests stay approved, claimable
        assert len(prepare_batches(session, config(), "w", allow_without_evidence=True)
                   .batches) == 1


def test_prefiling_check_names_every_missing_field(db_sessions: sessionmaker[Session]) -> None:
    cfg = TakedownConfig.from_dict({
        "defaults": {"good_faith_statement": "good faith", "accuracy_statement": "accurate"},
        "members": {MEMBER: {"legal_name": "", "auto_approve_takedown": True,
                             "agent": {"name": "Agent", "email": "a@example.org"}}},
    })
    lids = add_listings(db_sessions, 2)
    with session_scope(db_sessions) as session:
        for lid in lids:
            enqueue_from_match(session, lid, MEMBER, TAKEDOWN, config=cfg)
    with session_scope(db_sessions) as session:
        result = prepare_batches(session, cfg, "w", allow_without_evidence=True)
    assert result.batches == [] and len(result.refused) == 1
    missing = " ".join(result.refused[0].missing)
    for field in ("rights_holder.name", "agent.address", "agent.phone", "signature.text"):
        assert field in missing
    assert "agent.email" not in missing and "statements" not in missing


def test_csv_export_neutralises_formula_cells() -> None:
    assert [neutralise(v) for v in ("=HYPERLINK(1)", "+1", "-2", "@SUM", "\tx", "\rx", "ok")] \
        == ["'=HYPERLINK(1)", "'+1", "'-2", "'@SUM", "'\tx", "'\rx", "ok"]
    notice = {"notice": "draft-1", "status": "draft", "complaint_id": None,
              "payload_sha256": "0" * 64, "payload": {
                  "member": MEMBER, "marketplace": "demobay",
                  "rights_holder": {"name": "=cmd|' /C calc'!A0"},
                  "agent": {"name": "a", "email": "e", "address": "x", "phone": "+1-555"},
                  "signature": {"text": "@sig"},
                  "listings": [{"request_id": 1, "listing_id": "9", "url": "http://x/9",
                                "title": "-=2+3 pirated", "seller_id": "@evil", "works": ["w"],
                                "evidence": [{"sha256": "ab"}], "cites": None}]}}
    row = next(csv.DictReader(io.StringIO(to_csv([notice]))))
    assert row["rights_holder"].startswith("'=") and row["title"] == "'-=2+3 pirated"
    assert row["seller_id"] == "'@evil" and row["signature"] == "'@sig"
    assert csv_rows([notice])[0]["evidence_sha256"] == "ab"


def _post(url: str, body: dict, key: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Idempotency-Key": key} if key else {})}
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers,
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("site", ["demomart", "demobay"])
def test_intake_limits_validates_and_deduplicates_by_key(site: str) -> None:
    app = build_app(site)
    some = next(iter(app.state.site.listings if site == "demomart"
                     else app.state.site.data.listings))
    notice = {"rights_holder": {"name": "R"}, "agent": {"name": "A", "email": "e",
              "address": "x", "phone": "1"}, "statements": {"good_faith": "g", "accuracy": "a"},
              "signature": {"text": "s"},
              "listings": [{"listing_id": some, "url": f"http://x/{some}"}]}
    with ServerThread(app) as server:
        url = server.url + "/ip/complaints"
        too_many = {**notice, "listings": notice["listings"] * 301}
        assert _post(url, too_many, "k0")[0] == 413
        status, body = _post(url, {**notice, "signature": {}}, "k1")
        assert status == 422 and body["missing"] == ["signature.text"]
        assert _post(url, notice, None)[0] == 400
        first = _post(url, notice, "key-1")
        again = _post(url, notice, "key-1")
        other = _post(url, notice, "key-2")
    assert first[0] == 201 and again[0] == 200 and again[1]["replayed"]
    assert first[1]["complaint_id"] == again[1]["complaint_id"] != other[1]["complaint_id"]
    assert app.state.site.intake.complaint_count == 2
