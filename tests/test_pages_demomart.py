"""demomart page objects against the live demo site: classification and extraction vs the data."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from web_poet import HttpResponse

from crawler.demo.demomart import make_app
from crawler.demo.demomart_search import SearchIndex
from crawler.demo.server import SITES_DIR, ServerThread, SiteOptions
from crawler.items import ListingItem
from crawler.pages import get_pages
from crawler.pages.demomart import (
    PAGES,
    DemomartBlockedPage,
    DemomartListingPage,
    DemomartRemovedPage,
    DemomartSearchPage,
    DemomartShopPage,
    classify,
)

DATA_DIR = SITES_DIR / "demomart"


# Test-local copies (tests share no modules): the data files and the paged keyword.
@dataclass
class Data:
    site: dict[str, Any]
    sellers: dict[str, dict[str, Any]]
    listings: dict[str, dict[str, Any]]

    @property
    def active(self) -> list[dict[str, Any]]:
        return [x for x in self.listings.values() if x["status"] == "active"]

    def gbk_sellers(self) -> list[str]:
        return [sid for sid, s in self.sellers.items() if s.get("encoding") == "gbk"]

    def meta_only_sellers(self) -> set[str]:
        # The site's rule: every third GBK seller (file order) declares GBK only in the meta tag.
        return {sid for i, sid in enumerate(self.gbk_sellers()) if i % 3 == 2}


def load_data(data_dir: Path) -> Data:
    def jsonl(name: str) -> list[dict[str, Any]]:
        with (data_dir / name).open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    return Data(
        site=json.loads((data_dir / "site.json").read_text(encoding="utf-8")),
        sellers={str(s["id"]): s for s in jsonl("sellers.jsonl")},
        listings={str(x["id"]): x for x in jsonl("listings.jsonl")},
    )


def paged_keyword(data: Data) -> tuple[str, list[str]]:
    """A title word with more than one page of results (not a JS-only one) and its ranking."""
    index = SearchIndex(data.listings.values())
    js_only = set(data.site.get("js_only_queries", []))
    best: tuple[str, list[str]] = ("", [])
    seen: set[str] = set()
    for x in data.active:
        for word in x["title"].split()[:2]:
            if word in seen or word in js_only or len(word) < 2 or len(seen) >= 300:
                continue
            seen.add(word)
            ids = index.search(word)
            if len(ids) > len(best[1]):
                best = (word, ids)
    assert len(best[1]) > 44, "the data set has no keyword with two pages of results"
    return best


@pytest.fixture(scope="module")
def data() -> Data:
    return load_data(DATA_DIR)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread(make_app(DATA_DIR, SiteOptions())) as srv:
        yield srv


def fetch(url: str) -> HttpResponse:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return HttpResponse(r.geturl(), r.read(), status=r.status, headers=dict(r.headers))
    except urllib.error.HTTPError as e:
        return HttpResponse(e.geturl(), e.read(), status=e.code, headers=dict(e.headers))


def item_of(page_cls: type, response: HttpResponse) -> Any:
    return asyncio.run(page_cls(response=response).to_item())


def price_text(listing: dict[str, Any]) -> str:
    return f"¥{listing['price']:.2f}"


def _active(data: Data, pred: Any = lambda sid: True) -> dict[str, Any]:
    return next(
        x for x in data.active if str(x["seller_id"]) in data.sellers and pred(str(x["seller_id"]))
    )


# -- classify ----------------------------------------------------------------------------------
def test_classify_each_page_kind(server: ServerThread, data: Data) -> None:
    keyword, _ = paged_keyword(data)
    listing = _active(data)
    removed = next(x for x in data.listings.values() if x["status"] == "removed")
    base = server.url
    cases = {
        f"/search?q={quote(keyword)}": "search",
        f"/search?q={quote(data.site['js_only_queries'][0])}": "search",
        f"/item.htm?id={listing['id']}": "item",
        f"/item.htm?id={removed['id']}": "removed",
        f"/shop/{listing['seller_id']}": "shop",
        f"/search?q={quote(keyword)}&__block=captcha": "blocked",
        f"/item.htm?id={listing['id']}&__block=login": "blocked",
        "/": "unknown",
        "/item.htm?id=999999999999999999": "unknown",
    }
    for path, kind in cases.items():
        assert classify(fetch(base + path)) == kind, path


def test_bundle_is_registered_and_builds_urls() -> None:
    assert get_pages("demomart") is PAGES
    assert PAGES.search_url("http://h", "流浪 地球", 2) == (
        "http://h/search?q=%E6%B5%81%E6%B5%AA%20%E5%9C%B0%E7%90%83&s=88"
    )
    assert PAGES.shop_url("http://h", "42") == "http://h/shop/42"
    assert PAGES.listing_url("http://h", "7") == "http://h/item.htm?id=7"


# -- extraction --------------------------------------------------------------------------------
def test_search_page_cards_match_the_data(server: ServerThread, data: Data) -> None:
    keyword, ranked = paged_keyword(data)
    result = item_of(DemomartSearchPage, fetch(PAGES.search_url(server.url, keyword, 0)))
    assert [c.listing_id for c in result.listings] == ranked[:44]
    assert result.total_text == f"共 {len(ranked)} 件宝贝"
    assert (
        result.next_page_url.startswith(f"{server.url}/search?") and "s=44" in result.next_page_url
    )
    assert result.needs_browser is False
    for card in result.listings:
        x = data.listings[card.listing_id]
        seller = data.sellers[str(x["seller_id"])]
        assert card.page_kind == "card"
        assert card.title == " ".join(x["title"].split())
        assert card.price_text == price_text(x)
        assert card.sales_text == f"{x['sales']}人付款"
        assert card.seller_id == str(x["seller_id"])
        assert card.seller_name == " ".join(seller["nick"].split())
        assert card.url.startswith(f"{server.url}/item.htm?id={card.listing_id}")
        assert card.shop_url.startswith(f"{server.url}/shop/{x['seller_id']}")
        assert card.marketplace is None and card.keyword is None and card.source is None
    last_index = (len(ranked) - 1) // 44
    last = item_of(DemomartSearchPage, fetch(PAGES.search_url(server.url, keyword, last_index)))
    assert last.next_page_url is None
    assert [c.listing_id for c in last.listings] == ranked[last_index * 44 :]


def test_js_shell_needs_browser(server: ServerThread, data: Data) -> None:
    query = data.site["js_only_queries"][0]
    result = item_of(DemomartSearchPage, fetch(PAGES.search_url(server.url, query, 0)))
    assert result.listings == [] and result.needs_browser is True


@pytest.mark.parametrize("encoding", ["utf-8", "gbk-header", "gbk-meta-only"])
def test_listing_page_matches_the_data(server: ServerThread, data: Data, encoding: str) -> None:
    meta_only = data.meta_only_sellers()
    preds = {
        "utf-8": lambda sid: data.sellers[sid].get("encoding") != "gbk",
        "gbk-header": lambda sid: (
            data.sellers[sid].get("encoding") == "gbk" and sid not in meta_only
        ),
        "gbk-meta-only": lambda sid: sid in meta_only,
    }
    x = _active(data, preds[encoding])
    seller = data.sellers[str(x["seller_id"])]
    item: ListingItem = item_of(
        DemomartListingPage, fetch(PAGES.listing_url(server.url, str(x["id"])))
    )
    assert item.listing_id == str(x["id"])
    assert item.page_kind == "item" and item.status == "active"
    assert item.title == " ".join(x["title"].split())
    assert item.price_text == price_text(x)
    assert item.sales_text == f"{x['sales']}人付款"
    assert item.location == " ".join(x["location"].split())
    assert item.seller_id == str(x["seller_id"])
    assert item.seller_name == " ".join(seller["nick"].split())
    assert item.shop_url.startswith(f"{server.url}/shop/{x['seller_id']}")
    assert len(item.image_urls) == len(x["images"])
    assert all(u.startswith("http") for u in item.image_urls)
    assert item.description == (" ".join(x["description"].split()) or None)


def test_shop_page_matches_the_data(server: ServerThread, data: Data) -> None:
    def shop_ids(sid: str) -> list[str]:
        return [str(x["id"]) for x in data.active if str(x["seller_id"]) == sid]

    licensed = next(sid for sid, s in data.sellers.items() if s.get("licence"))
    unlicensed = next(sid for sid, s in data.sellers.items() if not s.get("licence"))
    for sid in (licensed, unlicensed):
        s = data.sellers[sid]
        shop = item_of(DemomartShopPage, fetch(PAGES.shop_url(server.url, sid)))
        seller = shop.seller
        assert seller.seller_id == sid
        assert seller.name == " ".join(s["nick"].split())
        assert seller.shop_name == " ".join(s["shop_name"].split())
        assert seller.shop_url == f"{server.url}/shop/{sid}"
        assert seller.opened_text == s["opened"]
        assert seller.has_licence_block is bool(s.get("licence"))
        if s.get("licence"):
            lic = s["licence"]
            assert seller.licence.number == lic["number"]
            assert seller.licence.holder == lic["holder"]
            assert seller.licence.authority == lic["authority"]
            assert (seller.licence.valid_from, seller.licence.valid_to) == (
                lic["valid_from"],
                lic["valid_to"],
            )
            assert "出版物经营许可证" in seller.licence.raw_text
        else:
            assert seller.licence is None
        ids = shop_ids(sid)
        assert [c.listing_id for c in shop.listings] == ids[:24]
        assert (shop.next_page_url is not None) == (len(ids) > 24)
        for card in shop.listings:
            assert card.price_text == price_text(data.listings[card.listing_id])
            assert card.seller_id == sid and card.page_kind == "card"


def test_removed_and_blocked_pages(server: ServerThread, data: Data) -> None:
    removed = next(x for x in data.listings.values() if x["status"] == "removed")
    gone = item_of(DemomartRemovedPage, fetch(PAGES.listing_url(server.url, str(removed["id"]))))
    assert gone.listing_id == str(removed["id"])
    assert gone.message == "很抱歉，您查看的宝贝不存在，可能已下架或者被转移。"
    captcha = item_of(DemomartBlockedPage, fetch(f"{server.url}/search?q=x&__block=captcha"))
    assert captcha.reason == "captcha" and captcha.url.endswith("__block=captcha")
    login = item_of(DemomartBlockedPage, fetch(f"{server.url}/search?q=x&__block=login"))
    assert login.reason == "login" and "/member/login.jhtml" in login.url


# -- browser -----------------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.timeout(120)
def test_js_only_search_in_chromium_matches_api(server: ServerThread, data: Data) -> None:
    from playwright.sync_api import sync_playwright

    from crawler.browser.launch import launch_options

    query = data.site["js_only_queries"][0]
    url = PAGES.search_url(server.url, query, 0)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#mainsrp-itemlist[data-rendered]", state="attached")
            html = page.content()
        finally:
            browser.close()
    # Parsed outside the Playwright block: its sync API keeps an event loop running.
    response = HttpResponse(url, html.encode("utf-8"), headers={"content-type": "text/html"})
    assert classify(response) == "search"
    result = item_of(DemomartSearchPage, response)
    with urllib.request.urlopen(f"{server.url}/api/search?q={quote(query)}&s=0") as r:
        api = json.loads(r.read())
    assert result.needs_browser is False
    assert [c.listing_id for c in result.listings] == [c["id"] for c in api["items"]]
    assert [c.title for c in result.listings] == [
        " ".join(c["title"].split()) for c in api["items"]
    ]
    assert [c.price_text for c in result.listings] == [f"¥{c['price']}" for c in api["items"]]
    assert result.total_text == api["total_text"]
    assert (result.next_page_url is None) == (api["next_url"] is None)
