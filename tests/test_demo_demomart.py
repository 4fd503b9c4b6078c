"""The demomart demo site over real HTTP on loopback: routes, search, encodings, block pages."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from parsel import Selector

from crawler.demo.demomart import make_app
from crawler.demo.demomart_search import SearchIndex, normalise, query_terms
from crawler.demo.server import SITES_DIR, ServerThread, SiteOptions

DATA_DIR = SITES_DIR / "demomart"


# -- data and servers --------------------------------------------------------------------------
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


@pytest.fixture(scope="module")
def data() -> Data:
    return load_data(DATA_DIR)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread(make_app(DATA_DIR, SiteOptions())) as srv:
        yield srv


@dataclass
class Fetched:
    status: int
    headers: Any
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    @property
    def sel(self) -> Selector:
        return Selector(text=self.text)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def get(url: str, follow: bool = True) -> Fetched:
    opener = urllib.request.build_opener() if follow else urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=10) as r:
            return Fetched(r.status, r.headers, r.read(), r.geturl())
    except urllib.error.HTTPError as e:
        return Fetched(e.code, e.headers, e.read(), e.geturl())


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


def cards(page: Fetched) -> list[str]:
    return page.sel.css("#J_ItemList div.item::attr(data-nid)").getall()


# -- search ------------------------------------------------------------------------------------
def test_search_paginates_by_offset_44_a_page(server: ServerThread, data: Data) -> None:
    keyword, ranked = paged_keyword(data)
    seen: list[str] = []
    url: str | None = f"{server.url}/search?q={quote(keyword)}&s=0"
    pages = 0
    while url:
        page = get(url)
        assert page.status == 200
        ids = cards(page)
        nxt = page.sel.css("#J_Pager a[data-role=next]")
        if nxt:
            assert len(ids) == 44
            assert nxt.css("::text").get() == "下一页"
            assert f"s={len(seen) + 44}" in nxt.attrib["href"]
            url = server.url + nxt.attrib["href"]
        else:
            assert 0 < len(ids) <= 44
            url = None
        assert page.sel.css("#J_TotalCount::text").get() == f"共 {len(ranked)} 件宝贝"
        seen += ids
        pages += 1
    assert seen == ranked
    assert pages == -(-len(ranked) // 44)
    last = get(f"{server.url}/search?q={quote(keyword)}&s={(pages - 1) * 44}")
    assert "下一页" not in last.text


def test_search_results_are_active_ranked_and_complete_cards(
    server: ServerThread, data: Data
) -> None:
    keyword, ranked = paged_keyword(data)
    page = get(f"{server.url}/search?q={quote(keyword)}&s=0")
    for card in page.sel.css("#J_ItemList div.item"):
        listing = data.listings[card.attrib["data-nid"]]
        assert listing["status"] == "active"
        title = card.css("a[data-role=title]")
        assert "".join(title.css("::text").getall()).strip() == listing["title"].strip()
        assert "spm=" in title.attrib["href"] and title.attrib["href"].startswith("/item.htm?id=")
        assert "".join(card.css("[data-role=price] ::text").getall()) == f"¥{listing['price']:.2f}"
        assert card.css("[data-role=sales]::text").get() == f"{listing['sales']}人付款"
        shop = card.css("a[data-role=shop]")
        assert shop.attrib["data-userid"] == str(listing["seller_id"])
        assert shop.attrib["href"].startswith(f"/shop/{listing['seller_id']}")
        assert card.css("img.J_ItemPic::attr(src)").get().startswith("/")
    removed = {lid for lid, x in data.listings.items() if x["status"] == "removed"}
    assert not removed & set(ranked)


def test_search_normalises_fullwidth_case_and_spacing(server: ServerThread, data: Data) -> None:
    target = next(x for x in data.active if len(normalise(x["title"])) >= 4)
    # Full-width ASCII, upper case and a space after every CJK character: still the same query.
    fancy = "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else (c + " " if ord(c) > 0x2E80 else c)
        for c in target["title"].upper()
    )
    assert query_terms(fancy) == query_terms(target["title"])
    found: list[str] = []
    s = 0
    while True:
        api = json.loads(get(f"{server.url}/api/search?q={quote(fancy)}&s={s}").body)
        found += [c["id"] for c in api["items"]]
        if not api["next_url"] or str(target["id"]) in found:
            break
        s += 44
    assert str(target["id"]) in found


def test_search_fuzzy_ranking_finds_decoys_and_skips_removed() -> None:
    listings = [
        {"id": "1", "title": "流浪地球2 蓝光 BD", "sales": 5, "status": "active"},
        {"id": "2", "title": "流浪的地球仪 儿童教学", "sales": 900, "status": "active"},  # decoy
        {"id": "3", "title": "地球仪 摆件", "sales": 1000, "status": "active"},  # 1/3: no
        {"id": "4", "title": "流浪地球 全集", "sales": 50, "status": "active"},
        {"id": "5", "title": "流浪地球 下架", "sales": 99, "status": "removed"},
        {"id": "6", "title": "ＷＡＮＤＥＲＩＮＧ Earth bluray", "sales": 1, "status": "active"},
    ]
    index = SearchIndex(listings)
    assert index.search("流浪地球") == ["4", "1", "2"]  # full matches by sales, then the decoy
    assert index.search("流浪 地 球") == ["4", "1", "2"]
    assert index.search("wandering earth") == ["6"]
    assert index.search("！？") == []


# -- JavaScript-only search --------------------------------------------------------------------
def test_js_only_search_is_an_empty_shell_but_api_has_results(
    server: ServerThread, data: Data
) -> None:
    query = data.site["js_only_queries"][0]
    shell = get(f"{server.url}/search?q={quote(query)}")
    assert shell.status == 200
    assert cards(shell) == []
    assert shell.sel.css("#mainsrp-itemlist::attr(data-render)").get() == "js"
    assert shell.sel.css("script[src='/static/search.js']")
    api = json.loads(get(f"{server.url}/api/search?q={quote(query)}&s=0").body)
    assert api["total"] > 0 and api["items"]
    assert api["total"] == len(SearchIndex(data.listings.values()).search(query))
    first = api["items"][0]
    assert set(first) >= {"id", "title", "price", "sales", "location", "seller_id", "nick"}
    script = get(f"{server.url}/static/search.js")
    assert script.status == 200 and b"/api/search" in script.body


# -- listing and shop pages --------------------------------------------------------------------
def _listing_of(data: Data, pred: Any) -> dict[str, Any]:
    for x in data.active:
        if str(x["seller_id"]) in data.sellers and pred(str(x["seller_id"])):
            return x
    raise AssertionError("no listing for this case in the data set")


def test_listing_page_shows_the_listing(server: ServerThread, data: Data) -> None:
    x = _listing_of(data, lambda sid: data.sellers[sid].get("encoding") != "gbk")
    page = get(f"{server.url}/item.htm?id={x['id']}")
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    sel = page.sel
    assert "".join(sel.css("#J_Title ::text").getall()).strip() == x["title"].strip()
    assert "".join(sel.css("#J_StrPrice ::text").getall()) == f"¥{x['price']:.2f}"
    assert sel.css("#J_SellCounter::text").get() == f"{x['sales']}人付款"
    assert sel.css("#J_DetailMeta::attr(data-seller-id)").get() == str(x["seller_id"])
    assert len(sel.css("#J_UlThumb img")) == len(x["images"])


def test_gbk_listing_pages_declare_gbk_in_header_or_only_in_meta(
    server: ServerThread, data: Data
) -> None:
    meta_only = data.meta_only_sellers()
    with_header = _listing_of(
        data, lambda sid: data.sellers[sid].get("encoding") == "gbk" and sid not in meta_only
    )
    bare = _listing_of(data, lambda sid: sid in meta_only)
    for x, content_type in ((with_header, "text/html; charset=GBK"), (bare, "text/html")):
        page = get(f"{server.url}/item.htm?id={x['id']}")
        assert page.headers["content-type"] == content_type
        html = page.body.decode("gbk")
        assert '<meta charset="gbk">' in html
        title = "".join(Selector(text=html).css("#J_Title ::text").getall()).strip()
        assert title == x["title"].strip()


def test_gbk_shop_pages_are_gbk(server: ServerThread, data: Data) -> None:
    for sid in data.gbk_sellers()[:3]:
        page = get(f"{server.url}/shop/{sid}")
        ct = page.headers["content-type"]
        assert ct == ("text/html" if sid in data.meta_only_sellers() else "text/html; charset=GBK")
        nick = Selector(text=page.body.decode("gbk")).css("#shop-info [data-role=nick] ::text")
        assert "".join(nick.getall()).strip() == data.sellers[sid]["nick"].strip()


def test_removed_listing_is_a_200_notice(server: ServerThread, data: Data) -> None:
    removed = next(x for x in data.listings.values() if x["status"] == "removed")
    page = get(f"{server.url}/item.htm?id={removed['id']}")
    assert page.status == 200
    text = page.body.decode(page.headers.get_content_charset() or "gbk")
    assert "很抱歉，您查看的宝贝不存在，可能已下架或者被转移。" in text
    assert "J_DetailMeta" not in text


def test_unknown_listing_and_shop_are_404(server: ServerThread, data: Data) -> None:
    unknown = "9" * 18
    assert unknown not in data.listings and unknown not in data.sellers
    assert get(f"{server.url}/item.htm?id={unknown}").status == 404
    assert get(f"{server.url}/item.htm").status == 404
    assert get(f"{server.url}/shop/{unknown}").status == 404


def test_shop_page_profile_licence_and_pagination(server: ServerThread, data: Data) -> None:
    def shop_ids(sid: str) -> list[str]:
        return [str(x["id"]) for x in data.active if str(x["seller_id"]) == sid]

    utf8 = [sid for sid, s in data.sellers.items() if s.get("encoding") != "gbk"]
    licensed = next(sid for sid in utf8 if data.sellers[sid].get("licence") and shop_ids(sid))
    unlicensed = next(sid for sid in utf8 if not data.sellers[sid].get("licence"))
    page = get(f"{server.url}/shop/{licensed}").sel
    lic = data.sellers[licensed]["licence"]
    assert page.css("#J_ShopLicence h4::text").get() == "出版物经营许可证"
    assert page.css("[data-licence=number]::text").get() == lic["number"]
    assert page.css("[data-licence=valid_to]::text").get() == lic["valid_to"]
    assert not get(f"{server.url}/shop/{unlicensed}").sel.css("#J_ShopLicence")
    assert "出版物经营许可证" not in get(f"{server.url}/shop/{unlicensed}").text

    big = max(utf8, key=lambda sid: len(shop_ids(sid)))
    expected = shop_ids(big)
    got: list[str] = []
    n = 1
    while True:
        sel = get(f"{server.url}/shop/{big}?page={n}").sel
        ids = sel.css("#J_ShopItems dl.item::attr(data-id)").getall()
        assert len(ids) <= 24
        got += ids
        nxt = sel.css("#J_ShopPager a[data-role=next]::attr(href)").get()
        if not nxt:
            break
        assert len(ids) == 24 and f"page={n + 1}" in nxt
        n += 1
    assert got == expected


# -- plumbing ----------------------------------------------------------------------------------
def test_robots_txt(server: ServerThread) -> None:
    robots = get(f"{server.url}/robots.txt")
    assert robots.status == 200
    lines = robots.text.splitlines()
    for path in ("/cart", "/buy", "/member/"):
        assert f"Disallow: {path}" in lines
    assert "crawl-delay" not in robots.text.lower()


def test_home_and_images(server: ServerThread) -> None:
    assert get(f"{server.url}/").status == 200
    a1, a2, b = (get(f"{server.url}/img/{n}") for n in ("a_1.jpg", "a_1.jpg", "b_1.jpg"))
    assert a1.status == 200 and a1.headers["content-type"] == "image/png"
    assert a1.body.startswith(b"\x89PNG") and a1.body == a2.body != b.body


def test_block_hooks_force_captcha_and_login(server: ServerThread, data: Data) -> None:
    x = data.active[0]
    captcha = get(f"{server.url}/item.htm?id={x['id']}&__block=captcha")
    assert captcha.status == 200
    assert "亲，请拖动下方滑块完成验证" in captcha.text
    assert captcha.sel.css("#nc_1_n1z")
    assert "/punish?x5secdata=" in captcha.sel.css("form::attr(action)").get()
    login = get(f"{server.url}/search?q=abc&__block=login", follow=False)
    assert login.status == 302
    assert login.headers["location"].startswith("/member/login.jhtml?redirectURL=http")
    wall = get(server.url + login.headers["location"])
    assert wall.status == 200 and wall.sel.css("#login-form input[name=TPL_password]")


@pytest.mark.timeout(30)
def test_rate_limit_alternates_captcha_and_login_then_recovers() -> None:
    app = make_app(DATA_DIR, SiteOptions(rate_limit=2.0, burst=3))
    with ServerThread(app) as srv:
        url = f"{srv.url}/search?q=abc"
        assert [get(url).status for _ in range(3)] == [200, 200, 200]
        first = get(url, follow=False)
        second = get(url, follow=False)
        assert first.status == 200 and "nc_1_n1z" in first.text
        assert second.status == 302 and "/member/login.jhtml" in second.headers["location"]
        assert get(f"{srv.url}/robots.txt").status == 200  # not limited
        time.sleep(0.6)
        ok = get(url)
        assert ok.status == 200 and "nc_1_n1z" not in ok.text


def test_hostile_strings_are_escaped(tmp_path: Path) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    (tmp_path / "site.json").write_text(
        json.dumps({"name": "demomart", "currency": "CNY", "js_only_queries": [], "page_size": 44})
    )
    seller = {
        "id": "77",
        "nick": hostile,
        "shop_name": hostile,
        "location": hostile,
        "rating": hostile,
        "opened": "2020-01-01",
        "kind": "pirate",
        "encoding": "utf-8",
        "contact": {},
        "licence": {
            "number": hostile,
            "holder": hostile,
            "authority": hostile,
            "valid_from": hostile,
            "valid_to": hostile,
        },
    }
    listing = {
        "id": "88",
        "title": "流浪地球 " + hostile,
        "price": 1,
        "sales": 2,
        "location": hostile,
        "seller_id": "77",
        "images": ['/img/x"onload="alert(1)'],
        "description": hostile,
        "status": "active",
        "category": "disc",
        "catalog_ids": [],
        "infringing": True,
        "encoding": "utf-8",
    }
    (tmp_path / "sellers.jsonl").write_text(json.dumps(seller) + "\n")
    (tmp_path / "listings.jsonl").write_text(json.dumps(listing) + "\n")
    with ServerThread(make_app(tmp_path, SiteOptions())) as srv:
        for path in ("/item.htm?id=88", "/shop/77", f"/search?q={quote('流浪地球')}"):
            page = get(srv.url + path)
            assert page.status == 200
            assert "<script>alert" not in page.text and "<img src=x" not in page.text
            assert "&lt;script&gt;" in page.text
            assert 'x"onload' not in page.text
