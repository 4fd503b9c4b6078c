"""What the dashboard tests share: a small populated database built through the real code
paths (``crawler.db.repo``, the evidence store and chain, the takedown queue and its state
machine, ``crawler.db.runs``), two members with their own requests, users, and a signed-in
``TestClient``.

No settings affect this module.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from crawler.db import repo
from crawler.db.models import Match, utcnow
from crawler.db.models_takedown import TakedownRequest
from crawler.db.runs import finish_run, record_event, start_run
from crawler.db.session import session_scope
from crawler.evidence import chain
from crawler.evidence.store import EvidenceStore
from crawler.takedown.queue import enqueue_from_match
from crawler.web.users import add_user
from tests.sellers_support import add_listing, add_works, seller_of

WARNER = "Warner Bros. Entertainment"
SONY = "Sony Pictures Entertainment"
PASSWORD = "correct horse battery"
XSS = "<img src=x onerror=alert(1)>黑客帝国 蓝光 DVD"
SECRET = "test-secret-" + "x" * 40


@dataclass
class WebData:
    warner_requests: list[int] = field(default_factory=list)
    sony_requests: list[int] = field(default_factory=list)
    xss_request: int = 0
    xss_listing: int = 0
    image_evidence: int = 0
    warc_evidence: int = 0
    sony_evidence: int = 0
    warner_seller: int = 0
    sony_seller: int = 0
    run_id: int = 0


def png_bytes(text: str = "listing photo") -> bytes:
    image = Image.new("RGB", (360, 240), (226, 232, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 340, 220), outline=(37, 99, 235), width=6)
    draw.text((40, 110), text, fill=(17, 24, 39))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _evidence(session: Session, store: EvidenceStore, listing_id: int, kind: str, data: bytes,
              media_type: str) -> int:
    stored = store.put(data)
    [record] = chain.append(session, [chain.NewEntry(
        kind=kind, sha256=stored.sha256, size=stored.size, media_type=media_type,
        captured_at=utcnow() - timedelta(hours=1), listing_id=listing_id,
        marketplace="demomart")])
    return record.id


def _request(session: Session, listing_id: int, member: str, catalog_id: str,
             score: float) -> int:
    decision = {"decision": "takedown", "score": score, "catalog_ids": [catalog_id],
                "member_catalog_ids": {member: [catalog_id]}}
    result = enqueue_from_match(session, listing_id, member, decision)
    assert result.request_id is not None, result
    return result.request_id


def build(sessions: sessionmaker[Session], store_dir: Path, warner_listings: int = 6) -> WebData:
    """Two members' requests (Warner's on seller ``pirate_one``, Sony's on ``sony_pirate``),
    evidence for the XSS listing and one of Sony's, a crawl run with blocked pages, users."""
    store = EvidenceStore(store_dir, fsync=False)
    data = WebData()
    with session_scope(sessions) as session:
        add_works(session)
        repo.upsert_catalog_titles(session, [
            {"id": "son-spider-man-2002", "member": SONY, "title": "Spider-Man", "year": 2002,
             "aliases": ["蜘蛛侠"]}])
        for i in range(warner_listings):
            title = XSS if i == 0 else f"黑客帝国 蓝光 DVD 光盘 货号{i}"
            lid = add_listing(session, f"w{i}", title=title, seller="pirate_one",
                              seller_name="盗版影音店", sales=10 + i)
            rid = _request(session, lid, WARNER, "war-the-matrix-1999", 0.6 + i * 0.05)
            data.warner_requests.append(rid)
            if i == 0:
                data.xss_request, data.xss_listing = rid, lid
                session.add(Match(
                    listing_id=lid, member=WARNER, catalog_id="war-the-matrix-1999",
                    catalog_ids=["war-the-matrix-1999"], decision="takedown", score=0.6,
                    signals=[{"name": "title_match", "weight": 0.55,
                              "evidence": 'found "黑客帝国" <script>alert(2)</script>'},
                             {"name": "offer_copy", "weight": 0.3, "evidence": "蓝光, DVD"}]))
                data.image_evidence = _evidence(session, store, lid, "image", png_bytes(),
                                                "image/png")
                data.warc_evidence = _evidence(session, store, lid, "warc",
                                               b"WARC/1.1\r\n<script>alert(3)</script>",
                                               "application/warc")
        for i in range(3):
            lid = add_listing(session, f"s{i}", title=f"蜘蛛侠 DVD 光盘 {i}",
                              seller="sony_pirate")
            data.sony_requests.append(_request(session, lid, SONY, "son-spider-man-2002", 0.9))
            if i == 0:
                data.sony_evidence = _evidence(session, store, lid, "image",
                                               png_bytes("sony"), "image/png")
        data.warner_seller = seller_of(session, data.xss_listing)
        sony_request = session.get(TakedownRequest, data.sony_requests[0])
        assert sony_request is not None
        data.sony_seller = seller_of(session, sony_request.listing_id)
        data.run_id = start_run(session, "monitor:test", ["demomart", "demobay"])
        record_event(session, data.run_id, "blocked", "http://127.0.0.1:9/search?q=1",
                     "slider captcha <b>bold</b>", "demomart")
        record_event(session, data.run_id, "error", "http://127.0.0.1:9/item.htm?id=2",
                     "HTTP 500", "demobay")
        finish_run(session, data.run_id, "finished", "finished",
                   {"reelguard/pages/demomart": 40, "item_scraped_count": 9}, pages=40,
                   listings=9)
        add_user(session, "root", PASSWORD, admin=True)
        add_user(session, "alice", PASSWORD, member=WARNER)
        add_user(session, "bob", PASSWORD, member=SONY)
    return data


def login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    """Sign ``client`` in through the form (the CSRF token read from the page)."""
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token, "next": "/queue"},
                       follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)
