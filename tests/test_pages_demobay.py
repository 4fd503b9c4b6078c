"""demobay's page objects on live pages of the demo site, checked against the data files.

The site runs on loopback (``ServerThread``) over the committed ``fixtures/sites/demobay/`` data;
ids, keywords and sellers are chosen from the data files, never hard-coded.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from web_poet import HttpResponse, HttpResponseHeaders

from crawler.demo.demobay import STOP_WORDS, make_app, tokenize
from crawler.demo.server import SITES_DIR, ServerThread, SiteOptions
from crawler.items import BlockedPage, ListingItem, RemovedListing, SearchResults, Storefront
from crawler.pages import get_pages
from crawler.pages.base import clean_text
from crawler.pages.demobay import (
    PAGES,
    DemobayBlockedPage,
    DemobayListingPage,
    DemobayRemovedPage,
    DemobaySearchPage,
    DemobayShopPage,
    classify,
)

DATA_DIR = SITES_DIR / "demobay"


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    listings = load_jsonl(DATA_DIR / "listings.jsonl")
    return {
        "listings": {str(x["id"]): x for x in listings},
        "active": [x for x in listings if x.get("status") != "removed"],
        "removed": [x for x in listings if x.get("status") == "removed"],
        "sellers": {str(s["id"]): s for s in load_jsonl(DATA_DIR / "sellers.jsonl")},
    }


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with ServerThread(make_app(DATA_DIR, SiteOptions())) as server:
        yield server.url


def fetch(url: str) -> HttpResponse:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            status, body, headers = resp.status, resp.read(), resp.headers.items()
    except urllib.error.HTTPError as err:
        status, body, headers = err.code, err.read(), err.headers.items()
    return HttpResponse(url=url, body=body, status=status, headers=HttpResponseHeaders(headers))


def extract(page_cls: type, response: HttpResponse) -> Any:
    return asyncio.run(page_cls(response=response).to_item())


def keyword(data: dict[str, Any]) -> str:
    counts: Counter[str] = Counter()
    for x in data["active"]:
        counts.update({t for t in tokenize(x["title"]) if t not in STOP_WORDS})
    return max((n, w) for w, n in counts.items() if w.isalpha() and len(w) > 2)[1]


def busiest_seller(data: dict[str, Any]) -> str:
    per_seller = Counter(str(x["seller_id"]) for x in data["active"])
    return max(per_seller, key=lambda s: (per_seller[s], s))


def price(value: float, prefix: str = "") -> str:
    return f"{prefix}${float(value):,.2f}"


def test_pages_bundle_is_registered_and_its_urls_are_served(base, data):
    assert get_pages("demobay") is PAGES
    assert PAGES.name == "demobay" and PAGES.language == "en"
    listing = data["active"][0]
    assert classify(fetch(PAGES.search_url(base, keyword(data), 0))) == "search"
    assert PAGES.search_url(base, "the matrix", 1).endswith("/sch/i.html?_nkw=the+matrix&_pgn=2")
    assert classify(fetch(PAGES.listing_url(base, str(listing["id"])))) == "item"
    assert classify(fetch(PAGES.shop_url(base, str(listing["seller_id"])))) == "shop"


def test_classify_tells_each_kind_from_the_content(base, data):
    listing = data["active"][0]
    assert classify(fetch(f"{base}/sch/i.html?_nkw={keyword(data)}&_pgn=1")) == "search"
    assert classify(fetch(f"{base}/sch/i.html?_nkw=zzqxj+nonexistent")) == "search"
    assert classify(fetch(f"{base}/itm/{listing['id']}")) == "item"
    assert classify(fetch(PAGES.shop_url(base, busiest_seller(data)))) == "shop"
    # The interstitial is "blocked" whatever URL it answers.
    assert classify(fetch(f"{base}/itm/{listing['id']}?__block=1")) == "blocked"
    assert classify(fetch(f"{base}/sch/i.html?_nkw=x&__block=1")) == "blocked"
    if data["removed"]:
        assert classify(fetch(f"{base}/itm/{data['removed'][0]['id']}")) == "removed"
    unknown = max(int(i) for i in data["listings"]) + 1
    assert classify(fetch(f"{base}/itm/{unknown}")) == "unknown"
    assert classify(fetch(f"{base}/")) == "unknown"


def test_search_cards_match_the_data(base, data):
    results = extract(DemobaySearchPage, fetch(PAGES.search_url(base, keyword(data), 0)))
    assert isinstance(results, SearchResults)
    assert results.listings and results.needs_browser is False
    assert results.total_text and results.total_text.endswith(f"results for {keyword(data)}")
    assert results.next_page_url == PAGES.search_url(base, keyword(data), 1)
    for card in results.listings:
        row = data["listings"][card.listing_id]
        seller = data["sellers"].get(str(row["seller_id"]), {})
        assert card.page_kind == "card" and row.get("status") != "removed"
        assert card.title == clean_text(row["title"])
        assert card.price_text == price(row["price"])
        assert card.seller_id == str(row["seller_id"])
        assert card.seller_name == clean_text(str(seller.get("nick") or row["seller_id"]))
        assert card.condition == clean_text(row.get("condition")) or not row.get("condition")
        assert card.shop_url == PAGES.shop_url(base, str(row["seller_id"]))
        parts = urlsplit(card.url)
        assert f"{parts.scheme}://{parts.netloc}" == base
        assert parts.path == f"/itm/{card.listing_id}" and "_trksid=" in parts.query
        assert all(u.startswith(base + "/img/") for u in card.image_urls)
        assert card.marketplace is None and card.keyword is None and card.source is None


def test_search_last_page_and_no_results(base, data):
    url: str | None = PAGES.search_url(base, keyword(data), 0)
    pages = 0
    while url:
        results = extract(DemobaySearchPage, fetch(url))
        url = results.next_page_url
        pages += 1
    assert pages > 1 and results.listings and results.next_page_url is None
    empty = extract(DemobaySearchPage, fetch(PAGES.search_url(base, "zzqxj nonexistent", 0)))
    assert empty.listings == [] and empty.next_page_url is None
    assert empty.total_text == "0 results for zzqxj nonexistent"


@pytest.mark.parametrize("which", ["first", "hostile", "last"])
def test_listing_page_matches_the_data(base, data, which):
    active = data["active"]
    if which == "hostile":
        danger = "<>&\"'"  # most dangerous first
        hostile = sorted(
            (x for x in active if any(c in x["title"] for c in danger)),
            key=lambda x: min(danger.index(c) for c in x["title"] if c in danger),
        )
        assert hostile, "the data has no hostile title: this test would prove nothing"
        row = hostile[0]
    else:
        row = active[0] if which == "first" else active[-1]
    seller = data["sellers"].get(str(row["seller_id"]), {})
    url = PAGES.listing_url(base, str(row["id"]))
    item = extract(DemobayListingPage, fetch(url))
    assert isinstance(item, ListingItem)
    assert item.listing_id == str(row["id"]) and item.url == url and item.page_kind == "item"
    assert item.title == clean_text(row["title"])
    assert item.price_text == price(row["price"], "US ")
    assert item.seller_id == str(row["seller_id"])
    assert item.seller_name == clean_text(str(seller.get("nick") or row["seller_id"]))
    assert item.shop_url == PAGES.shop_url(base, str(row["seller_id"]))
    if row.get("condition"):
        assert item.condition == clean_text(row["condition"])
    if row.get("location"):
        assert item.location == clean_text(row["location"])
    assert [u.rsplit("/", 1)[-1] for u in item.image_urls] == [
        urllib.request.quote(str(p).rsplit("/", 1)[-1]) for p in row.get("images") or []
    ]
    lines = [clean_text(s) for s in str(row.get("description") or "").splitlines()]
    assert item.description == ("\n".join(s for s in lines if s) or None)
    sales = int(row.get("sales") or 0)
    assert item.sales_text == f"{sales:,} sold"


def test_shop_page_reads_the_seller_and_its_index(base, data):
    seller_id = busiest_seller(data)
    seller = data["sellers"][seller_id]
    expected = sorted(
        (str(x["id"]) for x in data["active"] if str(x["seller_id"]) == seller_id),
        key=lambda i: -int(i),
    )
    url: str | None = PAGES.shop_url(base, seller_id)
    seen: list[str] = []
    first: Storefront | None = None
    while url:
        page = extract(DemobayShopPage, fetch(url))
        first = first or page
        seen += [x.listing_id for x in page.listings]
        assert all(x.seller_id == seller_id and x.page_kind == "card" for x in page.listings)
        url = page.next_page_url
    assert seen == expected
    assert first is not None
    s = first.seller
    assert s.seller_id == seller_id
    assert s.name == clean_text(str(seller.get("nick") or seller_id))
    assert s.shop_name == clean_text(
        str(seller.get("shop_name") or seller.get("nick") or seller_id)
    )
    assert s.shop_url == PAGES.shop_url(base, seller_id)
    assert s.location == clean_text(seller.get("location"))
    assert s.rating_text and s.rating_text.endswith("positive feedback")
    opened = date.fromisoformat(seller["opened"])
    assert s.opened_text == opened.strftime("%b %d, %Y")
    assert s.has_licence_block is False and s.licence is None


def test_removed_page_names_the_listing(base, data):
    assert data["removed"], "the data has no removed listing: this test would prove nothing"
    row = data["removed"][0]
    url = PAGES.listing_url(base, str(row["id"]))
    gone = extract(DemobayRemovedPage, fetch(url))
    assert gone == RemovedListing(
        listing_id=str(row["id"]),
        url=url,
        message="This listing was ended by the seller because the item is no longer available.",
    )


def test_blocked_page_is_a_rate_limit(base):
    url = f"{base}/sch/i.html?_nkw=dvd&_pgn=1&__block=1"
    blocked = extract(DemobayBlockedPage, fetch(url))
    assert isinstance(blocked, BlockedPage)
    assert blocked.url == url and blocked.reason == "rate_limit"
    assert blocked.message and "made us think you were a bot" in blocked.message


def test_blocked_by_the_rate_limit_is_classified_blocked():
    with ServerThread(make_app(DATA_DIR, SiteOptions(rate_limit=1.0, burst=1))) as server:
        fetch(f"{server.url}/")
        response = fetch(f"{server.url}/sch/i.html?_nkw=dvd")
    assert classify(response) == "blocked"
    assert extract(DemobayBlockedPage, response).reason == "rate_limit"
