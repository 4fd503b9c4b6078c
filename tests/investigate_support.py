"""What the investigation tests share: a case database filled by hand, table by table.

:func:`fill_case` writes, without any of the seller/licence/linking code, what a case reads: a
seller with listings (one titled with hostile HTML), sightings in two runs, matches, takedown
requests with their audit log (a removal, a relisting citing the removed request, a
rejection), strikes, an escalation, a licence finding citing its shop-page capture, a linked
account sharing a phone (with both proofs) in one cluster, and evidence captures (WARC, HTML,
screenshot PNG, fields, decision) of the listings and the shop page.

No settings affect this module.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from struct import pack
from typing import Any

from scrapy.http import HtmlResponse, Request
from sqlalchemy.orm import Session, sessionmaker

from crawler.db import repo
from crawler.db.catalog import upsert_catalog_titles
from crawler.db.models import Match
from crawler.db.models_sellers import (
    LicenceFinding,
    SellerCluster,
    SellerEvent,
    SellerIdentifier,
    SellerLink,
    Strike,
)
from crawler.db.models_takedown import TakedownEvent, TakedownRequest
from crawler.db.session import session_scope
from crawler.evidence import chain
from crawler.evidence.capture import Artefact, record_artefacts
from crawler.evidence.store import EvidenceStore
from crawler.evidence.warc import build_warc
from crawler.items import Licence, ListingItem, SellerItem

HOSTILE = "<img src=x onerror=alert(1)>蓝光 <script>alert(2)</script>"
BASE = "http://127.0.0.1:9"
MEMBER = "Warner Bros. Entertainment"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def png(width: int = 40, height: int = 24, colour: tuple[int, int, int] = (31, 78, 140)) -> bytes:
    """A small valid PNG of one colour (so a browser really draws it)."""
    row = b"\x00" + bytes(colour) * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return pack(">I", len(data)) + kind + data + pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


def _warc(url: str, body: str, when: datetime, key: str | None) -> bytes:
    req = Request(url, headers={"User-Agent": "Reelguard-test"})
    resp = HtmlResponse(
        url,
        body=body.encode("utf-8"),
        request=req,
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    return build_warc(
        resp,
        captured_at=when,
        marketplace="demomart",
        run_id=None,
        user_agent="Reelguard-test",
        listing_key=key,
        capture_id="t",
    )


def capture(
    sessions: sessionmaker[Session],
    store: EvidenceStore,
    *,
    url: str,
    title: str,
    when: datetime,
    listing_db_id: int | None,
    key: str | None,
    run_id: int | None,
    fields: dict[str, Any] | None = None,
) -> list[Any]:
    body = f"<html><head><title>{title}</title></head><body>{title}</body></html>"
    artefacts = [
        Artefact("warc", _warc(url, body, when, key), "application/warc"),
        Artefact("html", body.encode("utf-8"), "text/html; charset=utf-8"),
        Artefact("screenshot", png(colour=(len(title) * 7 % 255, 90, 160)), "image/png"),
        Artefact(
            "fields",
            chain.canonical_json(fields or {"listing_id": key, "title": title}),
            "application/json",
        ),
        Artefact(
            "decision",
            chain.canonical_json({"decision": {"decision": "takedown"}}),
            "application/json",
        ),
    ]
    return record_artefacts(
        sessions,
        store,
        artefacts,
        captured_at=when,
        listing_id=listing_db_id,
        marketplace="demomart",
        listing_key=key,
        url=url,
        run_id=run_id,
    )


@dataclass
class FilledCase:
    seller_db_id: int
    linked_db_id: int
    other_db_id: int
    run_ids: list[int]
    listing_keys: list[str]
    licence_sha256: str
    listing_ids: dict[str, int]


def fill_case(sessions: sessionmaker[Session], store: EvidenceStore) -> FilledCase:
    """Fill the tables (see the module docstring); return the ids the tests look for."""
    with session_scope(sessions) as s:
        upsert_catalog_titles(
            s,
            [
                {
                    "id": "war-the-matrix-1999",
                    "member": MEMBER,
                    "title": "The Matrix",
                    "year": 1999,
                },
                {"id": "war-inception-2010", "member": MEMBER, "title": "Inception", "year": 2010},
            ],
        )
        market = repo.ensure_marketplace(s, "demomart", BASE)
        run1 = repo.start_run(s, job="monitor:demo", marketplaces=["demomart"])
        run2 = repo.start_run(s, job="investigate", marketplaces=["demomart"])
        seller_item = SellerItem(
            seller_id="shop-1",
            name="大片网盘资源铺",
            shop_name="大片网盘资源铺",
            shop_url=f"{BASE}/shop/shop-1",
            location="浙江 杭州",
            licence=Licence(
                number="新出发浙零字第Z123号", holder="某某公司", valid_to="2023-01-01"
            ),
            has_licence_block=True,
        )
        seller = repo.upsert_seller(s, market, seller_item, run2, T0, full_profile=True)
        linked = repo.upsert_seller(
            s, market, SellerItem(seller_id="shop-2", name="蓝海影音"), run1, T0
        )
        other = repo.upsert_seller(
            s, market, SellerItem(seller_id="shop-9", name="书香阁"), run1, T0
        )
        titles = {
            "1001": "盗梦空间 Inception 蓝光 BD50",
            "1002": HOSTILE,
            "1003": "黑客帝国 The Matrix DVD 三部曲",
            "1004": "黑客帝国 网盘 高清",
        }
        ids: dict[str, int] = {}
        for n, (key, title) in enumerate(titles.items()):
            status = "removed" if key == "1003" else "active"
            item = ListingItem(
                listing_id=key,
                url=f"{BASE}/item.htm?id={key}",
                title=title,
                price=25.0 + n,
                currency="CNY",
                seller_id="shop-1",
                status="active",
                source="storefront",
            )
            ids[key], _ = repo.upsert_listing(s, market, item, seller, run1, T0)
            repo.record_observation(s, ids[key], run1, item, T0 + timedelta(minutes=n))
            item.status = status
            repo.upsert_listing(s, market, item, seller, run2, T0 + timedelta(days=3))
            repo.record_observation(s, ids[key], run2, item, T0 + timedelta(days=3, minutes=n))
            work = "war-inception-2010" if key == "1001" else "war-the-matrix-1999"
            s.add(
                Match(
                    listing_id=ids[key],
                    member=MEMBER,
                    catalog_id=work,
                    catalog_ids=[work],
                    decision="takedown" if key != "1004" else "review",
                    score=0.95,
                    signals=[],
                    run_id=run1,
                    first_decided_at=T0,
                    decided_at=T0,
                )
            )
        other_item = ListingItem(
            listing_id="2001",
            url=f"{BASE}/item.htm?id=2001",
            title="黑客帝国 同款 网盘",
            seller_id="shop-2",
        )
        ids["2001"], _ = repo.upsert_listing(s, market, other_item, linked, run1, T0)
        s.flush()

        def request(
            key: str, states: list[str], *, cites: int | None = None, at: datetime = T0
        ) -> int:
            req = TakedownRequest(
                listing_id=ids[key],
                member=MEMBER,
                marketplace="demomart",
                catalog_ids=["war-the-matrix-1999"],
                decision="takedown",
                score=0.95,
                state=states[-1],
                opened_at=at,
                updated_at=at,
                cites_request_id=cites,
                complaint_id="C-77",
                platform_status="accepted" if "removed" in states else None,
            )
            s.add(req)
            s.flush()
            prev = None
            for i, state in enumerate(states):
                s.add(
                    TakedownEvent(
                        request_id=req.id,
                        at=at + timedelta(hours=i + 1),
                        from_state=prev,
                        to_state=state,
                        actor="platform:demomart"
                        if state in ("removed", "rejected", "relisted")
                        else "system:auto-approve",
                        reason="counterfeit" if state == "rejected" else None,
                    )
                )
                prev = state
            if "removed" in states:
                req.removed_at = at + timedelta(hours=states.index("removed") + 1)
            return req.id

        first = request("1003", ["approved", "submitted", "removed", "relisted"])
        request("1003", ["approved", "submitted"], cites=first, at=T0 + timedelta(days=2))
        request("1001", ["approved", "submitted", "rejected"])
        s.add(
            Strike(
                seller_id=seller,
                marketplace="demomart",
                request_id=first,
                listing_id=ids["1003"],
                member=MEMBER,
                catalog_id="war-the-matrix-1999",
                work="The Matrix",
                offence="disc",
                struck_at=T0 + timedelta(hours=3),
            )
        )
        s.add(
            SellerEvent(
                seller_id=seller,
                at=T0 + timedelta(hours=4),
                kind="escalation",
                policy="three-strikes",
                from_level=None,
                to_level="warning",
                reason="1 accepted removal in 90 days: 1 needed for warning",
                evidence=[{"strike": 1}],
            )
        )
    shop = capture(
        sessions,
        store,
        url=f"{BASE}/shop/shop-1?page=1",
        title="大片网盘资源铺 店铺",
        when=T0 + timedelta(days=3),
        listing_db_id=None,
        key=None,
        run_id=run2,
        fields={"seller_id": "shop-1", "has_licence_block": True},
    )
    for n, key in enumerate(("1001", "1002", "1003", "1004")):
        capture(
            sessions,
            store,
            url=f"{BASE}/item.htm?id={key}",
            title=titles[key],
            when=T0 + timedelta(days=3, seconds=n),
            listing_db_id=ids[key],
            key=key,
            run_id=run2,
        )
    proof_a = capture(
        sessions,
        store,
        url=f"{BASE}/item.htm?id=1004",
        title="电话 177",
        when=T0 + timedelta(days=1),
        listing_db_id=ids["1004"],
        key="1004",
        run_id=run1,
    )
    proof_b = capture(
        sessions,
        store,
        url=f"{BASE}/item.htm?id=2001",
        title="电话 177 b",
        when=T0 + timedelta(days=1),
        listing_db_id=ids["2001"],
        key="2001",
        run_id=run1,
    )
    # An unrelated capture in the earlier run: must stay out of the case.
    capture(
        sessions,
        store,
        url=f"{BASE}/item.htm?id=9999",
        title="unrelated",
        when=T0,
        listing_db_id=None,
        key="9999",
        run_id=run1,
    )
    licence_sha = next(r.sha256 for r in shop if r.kind == "html")
    with session_scope(sessions) as s:
        s.add(
            LicenceFinding(
                seller_id=seller,
                marketplace="demomart",
                status="expired",
                sells_discs=True,
                disc_listings=3,
                number="新出发浙零字第Z123号",
                holder="某某公司",
                valid_to=date(2023, 1, 1),
                problems=["the licence expired on 2023-01-01"],
                evidence_sha256=licence_sha,
                evidence_url=f"{BASE}/shop/shop-1?page=1",
                checked_at=T0 + timedelta(days=3),
            )
        )
        a = SellerIdentifier(
            seller_id=seller,
            kind="phone",
            value="17759336022",
            shown="电话 177-5933-6022",
            listing_id=ids["1004"],
            url=f"{BASE}/item.htm?id=1004",
            evidence_sha256=proof_a[0].sha256,
        )
        b = SellerIdentifier(
            seller_id=linked,
            kind="phone",
            value="17759336022",
            shown="Tel 17759336022",
            listing_id=ids["2001"],
            url=f"{BASE}/item.htm?id=2001",
            evidence_sha256=proof_b[0].sha256,
        )
        s.add_all([a, b])
        s.flush()
        lo, hi = sorted((seller, linked))
        s.add(
            SellerLink(
                seller_a=lo,
                seller_b=hi,
                kind="phone",
                value="17759336022",
                identifier_a=a.id if lo == seller else b.id,
                identifier_b=b.id if lo == seller else a.id,
            )
        )
        for sid in (seller, linked):
            s.add(SellerCluster(seller_id=sid, cluster_id=lo, size=2))
    return FilledCase(seller, linked, other, [run1, run2], list(titles), licence_sha, ids)


@dataclass
class Rendered:
    text: str
    headings: list[str]
    pdf: bytes
    foreign_requests: list[str]  # anything the page asked for outside file: and data:
    injected: int  # elements a hostile title would have created
    images_loaded: int


def render_reports(paths: list[Any], shots: Any) -> list[Rendered]:
    """Open each report.html from file:// in one chromium with JavaScript off; save
    screenshots of the top of the page and of each section under ``shots``."""
    import asyncio

    from playwright.async_api import async_playwright

    from crawler.browser.launch import launch_options

    async def one(context: Any, path: Any, n: int) -> Rendered:
        page = await context.new_page()
        foreign: list[str] = []
        page.on(
            "request",
            lambda r: foreign.append(r.url) if not r.url.startswith(("file:", "data:")) else None,
        )
        await page.goto(path.resolve().as_uri(), wait_until="load")
        await page.screenshot(path=str(shots / f"report-{n}-top.png"))
        for section in ("summary", "listings", "licence", "linked"):
            await page.locator(f"#{section}").screenshot(
                path=str(shots / f"report-{n}-{section}.png")
            )
        text = await page.inner_text("body")
        headings = await page.locator("h2").all_inner_texts()
        injected = await page.locator("img[src='x'], img[onerror], script").count()
        # Playwright's own evaluation still runs with the page's JavaScript off.
        loaded = await page.evaluate(
            "Array.from(document.images).filter(i => i.naturalWidth > 0).length"
        )
        pdf = await page.pdf(format="A4", print_background=True)
        await page.close()
        return Rendered(text, headings, pdf, foreign, injected, loaded)

    async def run() -> list[Rendered]:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(**launch_options())
            try:
                context = await browser.new_context(
                    java_script_enabled=False, viewport={"width": 1280, "height": 900}
                )
                return [await one(context, path, n) for n, path in enumerate(paths)]
            finally:
                await browser.close()

    return asyncio.run(run())


def pdf_pages(pdf: bytes) -> int:
    import re

    return len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf))
