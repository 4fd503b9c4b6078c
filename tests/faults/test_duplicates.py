"""Fault 13: the same listing found by two keywords, in two crawls, under two URL variants.

The catalogue is the sample one. Two listings: ``M1`` names one member's work (Inception,
Warner), ``M2`` two members' works (Inception and Forrest Gump: Warner and Paramount). The
first crawl searches two keywords whose result pages both show both listings, one linking to
``/item.htm?id=…&spm=…`` (a tracking variant), the other to ``/item.htm?id=…``; the second
crawl re-checks the listings from both URL variants (``crawl listing --urls``: a variant is
fetched as the listing's own URL, ``crawler.spider_fetch.FetchingSpider.make_request``). Each crawl fetches each
listing page once (the server's request log; the evidence pipeline's screenshot renders it at
most once more, in chromium), and the database holds one row per listing, one match per listing
and member, and one takedown request per listing and member.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from crawler.catalog.store import import_catalog
from crawler.db.models import Listing, Match
from crawler.db.models_takedown import TakedownRequest
from crawler.storage import open_database
from tests.crawl_support import REPO, opened, runs, sqlite_url, stored_listings
from tests.faults.conftest import crawl, no_traceback
from tests.faults.server import Exchange, FaultServer, Item, search_html

pytestmark = pytest.mark.faults

CATALOG = REPO / "fixtures" / "catalogs" / "sample_catalog.csv"
WARNER, PARAMOUNT = "Warner Bros. Entertainment", "Paramount Pictures"
ITEMS_13 = [
    Item("M1", "盗梦空间 蓝光 BD50 高清 网盘 秒发", "5.00"),
    Item("M2", "盗梦空间 + 阿甘正传 两部合集 蓝光 网盘", "8.00"),
]
KEYWORDS = ("盗梦空间", "阿甘正传")
MEMBERS = {"M1": {WARNER}, "M2": {WARNER, PARAMOUNT}}


def _search(ex: Exchange) -> None:
    """Both listings for either keyword; the first keyword's links carry a tracking ``spm``."""
    q = ex.hit.query.get("q", "")
    body = search_html(q, ITEMS_13)
    if q == KEYWORDS[0]:
        for x in ITEMS_13:
            body = body.replace(f'href="/item.htm?id={x.id}"',
                                f'href="/item.htm?id={x.id}&amp;spm=a21bo.kw1.{x.id}"')
    ex.respond(200, body)


def _listing_fetches(server: FaultServer, since: int, browser: bool = False) -> Counter[str]:
    """Requests of each listing page since hit ``since``: the crawl's own (Scrapy), or those of
    the evidence screenshot's chromium (``browser``, which sends ``sec-fetch-*`` headers)."""
    return Counter(h.query.get("id", "") for h in server.hits[since:]
                   if h.path == "/item.htm" and ("sec-fetch-mode" in h.headers) == browser)


def _rows(db: str):  # type: ignore[no-untyped-def]
    with opened(db) as s:
        keys = dict(s.execute(select(Listing.id, Listing.listing_key)).all())
        matches = [(keys[lid], m) for lid, m in s.execute(select(Match.listing_id, Match.member))]
        requests = [(keys[lid], m) for lid, m in s.execute(
            select(TakedownRequest.listing_id, TakedownRequest.member))]
    return matches, requests


@pytest.mark.timeout(120)
def test_one_listing_by_two_keywords_two_crawls_two_url_variants(tmp_path: Path) -> None:
    db = sqlite_url(tmp_path, "faults.db")
    database = open_database(db)
    try:
        import_catalog(database, str(CATALOG))
    finally:
        database.engine.dispose()

    with FaultServer(items=list(ITEMS_13)) as server:
        server.on("/search", _search)
        first = crawl(tmp_path, server.url, "search", "--keywords", ",".join(KEYWORDS),
                      timeout=90)
        assert first.returncode == 0, first.output
        no_traceback(first)
        searched = [h.query["q"] for h in server.requests_for("/search")]
        assert sorted(searched) == sorted(KEYWORDS)
        # Found twice (two keywords, two URL variants), fetched once.
        assert _listing_fetches(server, 0) == {"M1": 1, "M2": 1}, server.hits
        assert max(_listing_fetches(server, 0, browser=True).values(), default=0) <= 1

        since = len(server.hits)
        variants = [f"{server.url}/item.htm?id={quote(x.id)}{suffix}"
                    for x in ITEMS_13 for suffix in (f"&spm=a21bo.kw1.{x.id}", "")]
        second = crawl(tmp_path, server.url, "listing", "--urls", ",".join(variants),
                       timeout=90)
        assert second.returncode == 0, second.output
        no_traceback(second)
        assert _listing_fetches(server, since) == {"M1": 1, "M2": 1}, server.hits[since:]
        assert max(_listing_fetches(server, since, browser=True).values(), default=0) <= 1

    stored = stored_listings(second.db)
    assert Counter(x.listing_id for x in stored) == {"M1": 1, "M2": 1}
    matches, requests = _rows(second.db)
    expected = Counter((lid, m) for lid, members in MEMBERS.items() for m in members)
    assert Counter(matches) == expected, matches  # one match per listing and member
    assert Counter(requests) == expected, requests  # one takedown request per listing and member
    run1, run2 = runs(second.db)
    assert run1.status == run2.status == "finished"
    assert run1.stats["reelguard/queue/opened"] == len(expected)
    assert "reelguard/queue/opened" not in run2.stats  # the second crawl kept them
    assert run2.stats["reelguard/queue/kept"] == len(expected)
