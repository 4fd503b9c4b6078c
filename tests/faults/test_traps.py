"""Fault 16: crawl traps (endless pagination, calendar links): stopped at the configured limits.

The search spider follows "next page" up to ``REELGUARD_MAX_SEARCH_PAGES`` per keyword and the
storefront spider up to ``REELGUARD_MAX_SHOP_PAGES`` per seller, whatever the site offers;
neither follows the other links of a page (hundreds of calendar days), and a "next" link back
to a page already fetched is dropped as a duplicate. Every listing shown on the pages fetched
is stored.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.crawl_support import events, stored_listings
from tests.faults.conftest import crawl, no_traceback, the_run
from tests.faults.server import Exchange, FaultServer, Item, search_html, shop_html

pytestmark = pytest.mark.faults

PER_PAGE = 5
CALENDAR = "".join(
    f'<a href="/calendar?d={dt.date(2024, 1, 1) + dt.timedelta(days=n)}">{n}</a>'
    for n in range(300)
)
NO_FOLLOW = ("--set", "REELGUARD_FOLLOW_LISTINGS=False")


def _endless_search(ex: Exchange) -> None:
    """Every page has new listings, 300 calendar links and a next page, forever."""
    s = int(ex.hit.query.get("s", "0"))
    q = ex.hit.query.get("q", "")
    items = [Item(f"S{s + i}", f"盗梦空间 第{s + i}号 蓝光") for i in range(PER_PAGE)]
    ex.respond(200, search_html(q, items, f"/search?q={quote(q)}&s={s + PER_PAGE}",
                                extra=CALENDAR))


def _calendar_shop(ex: Exchange) -> None:
    """A storefront paged by day: the next page is always the next day."""
    day = dt.date.fromisoformat(ex.hit.query.get("date", "2024-01-01"))
    seller = ex.hit.path.rsplit("/", 1)[1]
    items = [Item(f"D{day:%m%d}{i}", f"黑暗骑士 {day} 第{i}件", seller=seller)
             for i in range(PER_PAGE)]
    nxt = f"/shop/{seller}?date={day + dt.timedelta(days=1)}"
    ex.respond(200, shop_html(seller, items, nxt, extra=CALENDAR))


def _looping_shop(ex: Exchange) -> None:
    """Two pages whose "next" links point at each other."""
    page = int(ex.hit.query.get("page", "1"))
    seller = ex.hit.path.rsplit("/", 1)[1]
    items = [Item(f"P{page}{i}", f"星际穿越 第{page}页 {i}", seller=seller)
             for i in range(PER_PAGE)]
    ex.respond(200, shop_html(seller, items, f"/shop/{seller}?page={3 - page}"))


@pytest.mark.timeout(120)
def test_endless_search_pagination_stops_at_the_page_limit(tmp_path: Path) -> None:
    with FaultServer() as server:
        server.on("/search", _endless_search)
        result = crawl(tmp_path, server.url, "search", "--keywords", "盗梦空间", *NO_FOLLOW,
                       "--set", "REELGUARD_MAX_SEARCH_PAGES=6", timeout=90)
        searches = server.requests_for("/search")
        assert [int(h.query["s"]) for h in searches] == [PER_PAGE * n for n in range(6)]
        assert server.requests_for("/calendar") == []
    assert result.returncode == 0, result.output
    no_traceback(result)
    assert len(stored_listings(result.db)) == 6 * PER_PAGE
    assert the_run(result).status == "finished"
    # The run says the site offered more than was read, once, at the last page fetched.
    [(url, why)] = [(e.url, e.reason) for e in events(result.db) if e.kind == "page_limit"]
    assert url.endswith(f"s={5 * PER_PAGE}") and "REELGUARD_MAX_SEARCH_PAGES=6" in why


@pytest.mark.timeout(120)
def test_calendar_and_looping_storefronts_stop(tmp_path: Path) -> None:
    with FaultServer() as server:
        server.on("/shop/cal", _calendar_shop)
        server.on("/shop/loop", _looping_shop)
        result = crawl(tmp_path, server.url, "storefront", "--seller", "cal,loop", *NO_FOLLOW,
                       "--set", "REELGUARD_MAX_SHOP_PAGES=4", "--set", "REELGUARD_EVIDENCE=False",
                       timeout=90)
        # Pages followed through "next" (the first page of a shop may also be fetched again
        # for the evidence of its licence block).
        days = [h.query["date"] for h in server.requests_for("/shop/cal") if "date" in h.query]
        assert days == ["2024-01-02", "2024-01-03", "2024-01-04"]
        # /shop/loop, then ?page=2, whose "next" (?page=1) is new; its "next" (?page=2) is not.
        assert [h.target for h in server.requests_for("/shop/loop") if "page" in h.query] == [
            "/shop/loop?page=2", "/shop/loop?page=1"]
        assert server.requests_for("/calendar") == []
    assert result.returncode == 0, result.output
    no_traceback(result)
    stored = {x.listing_id for x in stored_listings(result.db)}
    assert len([x for x in stored if x.startswith("D")]) == 4 * PER_PAGE
    assert {x for x in stored if x.startswith("P")} == {f"P{p}{i}" for p in (1, 2)
                                                         for i in range(PER_PAGE)}
    assert the_run(result).status == "finished"
    limited = [e.url for e in events(result.db) if e.kind == "page_limit"]
    assert limited == [f"{server.url}/shop/cal?date=2024-01-04"]  # the loop ended by itself
