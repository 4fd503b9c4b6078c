"""Issue 14, item 6 and part of 8: a member user sees only its own part of a decision that
concerns several members, and cannot start an investigation.

One listing names a Warner work and a Universal work; the real matching engine decides it
against both catalogues (one decision, Warner's work first), the real queue opens a request
for each member, and the decision artefact the crawl's evidence pipeline would write is
stored and chained. Universal's user then reads every page and download the dashboard
offers and must meet neither Warner's catalogue ids, titles nor name (and the other way
round). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from crawler import storage
from crawler.db import repo
from crawler.db.models import Listing, utcnow
from crawler.db.models_sellers import Investigation, SellerEvent
from crawler.db.session import make_engine, session_factory, session_scope
from crawler.evidence import chain
from crawler.evidence.capture import decision_json, listing_fields
from crawler.evidence.store import EvidenceStore
from crawler.items import CrawledListing, ListingItem
from crawler.matching.store import engine_from_database, upsert_match
from crawler.takedown.queue import enqueue_from_match
from crawler.web.app import create_app
from crawler.web.users import add_user
from pipelines.match import decide_listing
from tests.sellers_support import add_listing, add_works, seller_of
from tests.web.support import PASSWORD, SECRET, WARNER, csrf_of, login

pytestmark = [pytest.mark.hostile, pytest.mark.timeout(180)]

UNIVERSAL = "Universal Pictures"
WARNER_SECRETS = ("war-the-dark-knight-2008", "The Dark Knight", "war-the-matrix-1999",
                  "The Matrix", "Warner")
UNIVERSAL_SECRETS = ("uni-jurassic-park-1993", "Jurassic Park", "Universal")
TITLE = "蝙蝠侠：黑暗骑士 + 侏罗纪公园 蓝光 DVD 合集"


@dataclass
class Shared:
    db_url: str
    store_dir: Path
    listing: int
    seller: int
    requests: dict[str, int]
    evidence: dict[str, int]


def _decided(session: Session, store: EvidenceStore, key: str, title: str
             ) -> tuple[int, dict[str, Any], dict[str, int], dict[str, int]]:
    """A listing decided by the real engine against the stored catalogues, with its match
    rows, a request per member and the fields and decision artefacts a crawl captures."""
    listing_id = add_listing(session, key, title=title, seller="pirate_two")
    match_engine, member_of = engine_from_database(session)
    item = ListingItem(listing_id=key, url=f"http://127.0.0.1:9/item.htm?id={key}",
                       title=title, marketplace="demomart", seller_id="pirate_two",
                       price=10.0, currency="CNY")
    decision = decide_listing(match_engine, member_of, item)
    requests = {}
    for member in decision["member_catalog_ids"]:
        upsert_match(session, listing_id, member, decision, None, utcnow())
        opened = enqueue_from_match(session, listing_id, member, decision)
        assert opened.request_id is not None
        requests[member] = opened.request_id
    crawled = CrawledListing(listing=item, decision=decision,
                             members=sorted(decision["member_catalog_ids"]))
    evidence = {}
    for kind, data in (("fields", listing_fields(crawled)),
                       ("decision", decision_json(crawled))):
        stored = store.put(data)
        [record] = chain.append(session, [chain.NewEntry(
            kind=kind, sha256=stored.sha256, size=stored.size, media_type="application/json",
            captured_at=utcnow(), listing_id=listing_id, marketplace="demomart")])
        evidence[kind] = record.id
    return listing_id, decision, requests, evidence


@pytest.fixture
def shared(db_url: str, tmp_path: Path) -> Iterator[Shared]:
    store = EvidenceStore(tmp_path / "evidence", fsync=False)
    engine = make_engine(db_url)
    try:
        with session_scope(session_factory(engine)) as session:
            add_works(session)
            repo.upsert_catalog_titles(session, [
                {"id": "uni-jurassic-park-1993", "member": UNIVERSAL, "title": "Jurassic Park",
                 "year": 1993, "aliases": ["侏罗纪公园"]}])
            listing_id, decision, requests, evidence = _decided(session, store, "both", TITLE)
            assert decision["decision"] == "takedown"
            assert decision["member"] == WARNER  # Warner's work is the decision's first
            assert set(requests) == {WARNER, UNIVERSAL}
            seller = seller_of(session, listing_id)
            add_user(session, "wb", PASSWORD, member=WARNER)
            add_user(session, "uni", PASSWORD, member=UNIVERSAL)
            add_user(session, "root", PASSWORD, admin=True)
    finally:
        engine.dispose()
    yield Shared(db_url, tmp_path / "evidence", listing_id, seller, requests, evidence)
    cached = storage._open.pop(db_url, None)
    if cached is not None:
        cached.engine.dispose()


def _client(app: object, username: str) -> TestClient:
    client = TestClient(app, base_url="http://127.0.0.1")  # type: ignore[arg-type]
    assert login(client, username).status_code == 303
    return client


def _everything(client: TestClient, s: Shared, request_id: int) -> dict[str, str]:
    """Every page and download the user can reach about the shared listing."""
    urls = ["/queue?state=any", f"/requests/{request_id}", f"/sellers/{s.seller}",
            "/overview", "/runs"] + [f"/evidence/{e}" for e in s.evidence.values()]
    out = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        out[url] = response.text
    return out


@pytest.mark.parametrize(("user", "member", "own", "others"), [
    ("uni", UNIVERSAL, "uni-jurassic-park-1993", WARNER_SECRETS),
    ("wb", WARNER, "war-the-dark-knight-2008", UNIVERSAL_SECRETS),
])
def test_member_sees_only_its_own_part_of_a_shared_decision(
    shared: Shared, user: str, member: str, own: str, others: tuple[str, ...],
) -> None:
    app = create_app(shared.db_url, secret=SECRET, evidence_dir=shared.store_dir)
    with _client(app, user) as client:
        pages = _everything(client, shared, shared.requests[member])
        for url, text in pages.items():
            for secret in others:
                assert secret not in text, f"{user} sees {secret!r} on {url}"
        request_page = pages[f"/requests/{shared.requests[member]}"]
        assert own in request_page and "collection" in request_page  # its own part stays
        view = json.loads(pages[f"/evidence/{shared.evidence['decision']}"])
        assert view["members"] == [member]
        assert view["decision"]["catalog_ids"] == [own]
        assert view["decision"]["member_catalog_ids"] == {member: [own]}
        assert {s["name"] for s in view["decision"]["signals"]} >= {"title_match",
                                                                     "collection"}
        # The other member's request on the listing is not there by id either.
        other = next(rid for m, rid in shared.requests.items() if m != member)
        assert client.get(f"/requests/{other}").status_code == 404


def test_member_view_leaves_the_administrator_the_whole_artefact(shared: Shared) -> None:
    app = create_app(shared.db_url, secret=SECRET, evidence_dir=shared.store_dir)
    with _client(app, "root") as root:
        response = root.get(f"/evidence/{shared.evidence['decision']}")
        raw = EvidenceStore(shared.store_dir).read(response.headers["x-evidence-sha256"])
        assert response.content == raw  # the hashed artefact itself
        decision = json.loads(raw)["decision"]
        assert set(decision["member_catalog_ids"]) == {WARNER, UNIVERSAL}
        page = root.get(f"/requests/{shared.requests[UNIVERSAL]}").text
        assert "war-the-dark-knight-2008" in page and "uni-jurassic-park-1993" in page


def test_member_gets_the_artefact_itself_when_the_decision_is_all_its_own(
    shared: Shared,
) -> None:
    engine = make_engine(shared.db_url)
    try:
        with session_scope(session_factory(engine)) as session:
            _, _, requests, evidence = _decided(
                session, EvidenceStore(shared.store_dir, fsync=False), "wb-only",
                "蝙蝠侠：黑暗骑士 蓝光 DVD")
    finally:
        engine.dispose()
    assert set(requests) == {WARNER}
    app = create_app(shared.db_url, secret=SECRET, evidence_dir=shared.store_dir)
    with _client(app, "wb") as wb:
        response = wb.get(f"/evidence/{evidence['decision']}")
        raw = EvidenceStore(shared.store_dir).read(response.headers["x-evidence-sha256"])
        assert response.content == raw and "x-evidence-view" not in response.headers
        assert json.loads(raw)["decision"]["catalog_ids"] == ["war-the-dark-knight-2008"]


def test_member_cannot_launch_an_investigation(shared: Shared, tmp_path: Path) -> None:
    marker = tmp_path / "child-ran"
    app = create_app(
        shared.db_url, secret=SECRET, evidence_dir=shared.store_dir, log_dir=tmp_path / "log",
        investigate_argv=lambda db, m, s: [sys.executable, "-c",
                                           f"open({str(marker)!r}, 'w').write('ran')"],
    )
    with _client(app, "uni") as uni:
        page = uni.get(f"/sellers/{shared.seller}")
        assert page.status_code == 200 and 'id="investigate"' not in page.text
        refused = uni.post(f"/sellers/{shared.seller}/investigate",
                           data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
        assert refused.status_code in (403, 404)
    time.sleep(1.0)  # a child that had been started would have written its marker by now
    assert not marker.exists()
    assert not (tmp_path / "log").exists() or not list((tmp_path / "log").iterdir())
    engine = make_engine(shared.db_url)
    try:
        with session_scope(session_factory(engine)) as session:
            assert session.execute(select(func.count()).select_from(SellerEvent).where(
                SellerEvent.kind == "investigation_requested")).scalar_one() == 0
            assert session.execute(select(func.count()).select_from(Investigation)
                                   ).scalar_one() == 0
            assert session.get(Listing, shared.listing) is not None
    finally:
        engine.dispose()
    with _client(app, "root") as root:  # an administrator still can
        token = csrf_of(root.get(f"/sellers/{shared.seller}").text)
        started = root.post(f"/sellers/{shared.seller}/investigate",
                            data={"csrf_token": token})
        assert "Investigation started" in started.text
