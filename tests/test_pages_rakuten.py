"""Rakuten Ichiba page objects (``crawler.pages.rakuten``) and ``reelguard parse`` on its pages.

Pages are ``fixtures/real/rakuten/``: the real 2017 front page (EUC-JP) and hand-made pages
modelled on the markup public Rakuten scrapers read (see that folder's README). Nothing here
reads ``../shared`` or the network.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crawler.pages import KNOWN_MARKETPLACES, parse_pages
from crawler.pages.detect import analyse_saved_page, detect_marketplace
from crawler.pages.rakuten import PAGES, item_key
from crawler.profiles import load_profiles

ROOT = Path(__file__).resolve().parents[1]
RAK = ROOT / "fixtures" / "real" / "rakuten"

pytestmark = pytest.mark.timeout(60)


def page(name: str, url: str | None = None) -> Any:
    return analyse_saved_page((RAK / name).read_bytes(), url=url)


def test_search_results_cards() -> None:
    outcome = page("search-searchresultitem.html")
    assert (outcome.marketplace, outcome.kind) == ("rakuten", "search")
    assert outcome.items == [
        {"listing_id": "eizou-do/4959241714971", "title": "となりのトトロ [DVD] 新品 国内正規品", "price": 3520.0,
         "currency": "JPY", "seller": "映像堂", "url": "https://item.rakuten.co.jp/eizou-do/4959241714971/"},
        # A PR card: its link goes through rd.rakuten.co.jp; the "PR" badge is not in the title.
        {"listing_id": "anime-ichiba/vwdz-8196", "title": "千と千尋の神隠し DVD スタジオジブリ", "price": 2980.0,
         "currency": "JPY", "seller": "アニメ市場", "url": "https://item.rakuten.co.jp/anime-ichiba/vwdz-8196/"},
        {"listing_id": "eizou-do/4959241753024", "title": "もののけ姫 Blu-ray", "price": 5170.0,
         "currency": "JPY", "seller": "映像堂", "url": "https://item.rakuten.co.jp/eizou-do/4959241753024/"},
        {"listing_id": "kaitori-dvd/gh-0042", "title": "【中古】魔女の宅急便 DVD", "price": 1200.0,
         "currency": "JPY", "seller": "買取DVD館", "url": "https://item.rakuten.co.jp/kaitori-dvd/gh-0042/"},
    ]
    assert outcome.next_page == "https://search.rakuten.co.jp/search/mall/%E3%82%B8%E3%83%96%E3%83%AA+dvd/?p=2"


def test_search_results_from_the_initial_state_payload() -> None:
    outcome = page("search-initial-state.html")
    assert (outcome.marketplace, outcome.kind) == ("rakuten", "search")
    # The sponsored slot (cpc, click-tracking redirect) and the JSON-LD SEO carousel are not
    # results; a name with braces does not cut the payload short.
    assert [(i["listing_id"], i["title"], i["price"], i["seller"]) for i in outcome.items] == [
        ("eizou-do/4959241714971", "となりのトトロ [DVD] 【1箱{2枚組}】", 3520.0, "映像堂"),
        ("anime-ichiba/vwdz-8196", "千と千尋の神隠し DVD スタジオジブリ", 2980.0, "アニメ市場"),
        ("kaitori-dvd/gh-0042", "【中古】魔女の宅急便 DVD", 1200.0, "買取DVD館"),
    ]
    assert outcome.items[0]["url"] == "https://item.rakuten.co.jp/eizou-do/4959241714971/"
    # No next link in the markup: the payload's own arithmetic (start 0 + 45 < 1234) says p=2.
    assert outcome.next_page == "https://search.rakuten.co.jp/search/mall/%E3%82%B8%E3%83%96%E3%83%AA+dvd/?p=2"


def test_search_payload_with_no_hits_is_an_empty_search() -> None:
    html = (b'<html><head><meta charset="utf-8"></head><body><script>window.__INITIAL_STATE__ = '
            b'{"state":{"data":{"ichibaSearch":{"items":[],"pagination":{"numFound":0,"start":0,"pageSize":45}}}}};'
            b"</script></body></html>")
    outcome = analyse_saved_page(html)  # recognised as Rakuten by its payload, without a URL
    assert (outcome.marketplace, outcome.kind, outcome.items, outcome.next_page) == ("rakuten", "search", [], None)


def test_search_results_2017_layout() -> None:
    outcome = page("search-2017-rsrSResultSect.html", url="http://search.rakuten.co.jp/search/mall/luxury+bag/")
    assert outcome.kind == "search"
    assert [(i["listing_id"], i["title"], i["price"], i["seller"]) for i in outcome.items] == [
        ("brandshop-a/10001234", "レザー トートバッグ ブラック", 24800.0, "ブランドショップA"),
        ("bag-b/bb-77", "ショルダーバッグ 本革", 12000.0, "バッグのB"),
    ]
    assert outcome.next_page == "http://search.rakuten.co.jp/search/mall/luxury+bag/?p=2"


def test_search_results_after_a_redesign_fall_back_on_cards() -> None:
    outcome = page("search-redesign-no-known-classes.html")
    assert outcome.kind == "search"
    assert [(i["listing_id"], i["price"], i["seller"]) for i in outcome.items] == [
        ("eizou-do/4959241714971", 3520.0, "eizou-do"), ("anime-ichiba/vwdz-8197", 4730.0, "anime-ichiba"),
        ("kaitori-dvd/gh-0043", 980.0, "kaitori-dvd"), ("toy-c/totoro-set", 6600.0, "toy-c"),
    ]


def test_search_without_results_is_an_empty_search() -> None:
    outcome = page("search-no-results.html")
    assert (outcome.kind, outcome.items) == ("search", [])


def test_unrecognised_search_page_is_not_an_empty_success() -> None:
    html = b"<html><head><meta charset='utf-8'></head><body><div class='x'>...</div></body></html>"
    outcome = analyse_saved_page(html, url="https://search.rakuten.co.jp/search/mall/dvd/")
    assert (outcome.marketplace, outcome.kind, outcome.items) == ("rakuten", "unknown", [])
    assert "no search results" in (outcome.message or "")


def test_item_page_legacy_layout_euc_jp() -> None:
    outcome = page("item-legacy.eucjp.html")
    assert (outcome.kind, outcome.encoding) == ("item", "euc_jp")
    assert outcome.items == [{
        "listing_id": "eizou-do/4959241714972", "title": "千と千尋の神隠し [DVD]", "price": 3300.0, "currency": "JPY",
        "seller": "映像堂", "url": "https://item.rakuten.co.jp/eizou-do/4959241714972/",
    }]


def test_item_page_app_data_island_without_url() -> None:
    outcome = page("item-app-data.eucjp.html")  # no canonical, no --url: keyed by the island
    assert (outcome.marketplace, outcome.kind, outcome.encoding) == ("rakuten", "item", "euc_jp")
    assert outcome.items == [{
        "listing_id": "eizou-do/vwdz-8199", "title": "ハウルの動く城 DVD 特典付き", "price": 4400.0,
        "currency": "JPY", "seller": "映像堂", "url": "https://item.rakuten.co.jp/eizou-do/vwdz-8199/",
    }]  # the <br> in the island's title is not kept


def test_item_page_json_ld_and_og_url() -> None:
    outcome = page("item-jsonld.html")
    assert outcome.kind == "item"
    assert outcome.items == [{
        "listing_id": "anime-ichiba/vwbz-1441", "title": "もののけ姫 Blu-ray 特典付き", "price": 5170.0,
        "currency": "JPY", "seller": "アニメ市場", "url": "https://item.rakuten.co.jp/anime-ichiba/vwbz-1441/",
    }]


def test_item_page_object_fields() -> None:
    import asyncio

    from web_poet import HttpResponse

    body = (RAK / "item-legacy.eucjp.html").read_bytes()
    response = HttpResponse(url="https://item.rakuten.co.jp/eizou-do/4959241714972/?scid=x", body=body, encoding="euc_jp")
    assert PAGES.classify(response) == "item"
    item = asyncio.run(PAGES.listing_page(response=response).to_item())
    assert (item.seller_id, item.shop_url) == ("eizou-do", "https://www.rakuten.co.jp/eizou-do/")
    assert item.image_urls == ["https://shop.r10s.jp/eizou-do/cabinet/4959241714972.jpg"]
    assert item.price_text == "3300円"


def test_akamai_refusal_is_blocked() -> None:
    outcome = page("blocked-akamai.html", url="https://search.rakuten.co.jp/search/mall/dvd/")
    assert (outcome.marketplace, outcome.kind, outcome.items) == ("rakuten", "blocked", [])
    assert "rate_limit" in (outcome.message or "")


def test_og_title_shaped_like_the_page_title() -> None:
    html = ('<html><head><meta charset="utf-8"><meta property="og:type" content="product">'
            '<meta property="og:title" content="【楽天市場】トトロ DVD：映像堂">'
            '<link rel="canonical" href="https://item.rakuten.co.jp/eizou-do/x-1/"></head><body></body></html>').encode()
    [item] = analyse_saved_page(html).items
    assert (item["listing_id"], item["title"], item["seller"]) == ("eizou-do/x-1", "トトロ DVD", "映像堂")


def test_login_page_is_blocked() -> None:
    outcome = page("blocked-login.html")
    assert (outcome.marketplace, outcome.kind, outcome.items) == ("rakuten", "blocked", [])
    assert "login" in (outcome.message or "")


def test_real_front_page_stays_unknown() -> None:
    outcome = page("homepage_2017_archive.eucjp.html")
    assert (outcome.marketplace, outcome.kind, outcome.items) == ("rakuten", "unknown", [])
    assert outcome.url == "https://www.rakuten.co.jp/"


@pytest.mark.parametrize(("href", "key"), [
    ("https://item.rakuten.co.jp/eizou-do/4959241714971/", ("eizou-do", "4959241714971")),
    ("https://item.rakuten.co.jp/eizou-do/4959241714971/?s-id=top_normal", ("eizou-do", "4959241714971")),
    ("https://rd.rakuten.co.jp/s2/?R2=https%3A%2F%2Fitem.rakuten.co.jp%2Fshop-x%2Fab-1%2F&D2=3", ("shop-x", "ab-1")),
    ("https://hb.afl.rakuten.co.jp/hgc/1/?pc=https%253A%252F%252Fitem.rakuten.co.jp%252Fshop-y%252Fcd-2%252F", ("shop-y", "cd-2")),
    ("https://www.rakuten.co.jp/eizou-do/", None),
    ("https://search.rakuten.co.jp/search/mall/dvd/", None),
])
def test_item_key(href: str, key: tuple[str, str] | None) -> None:
    assert item_key(href) == key


def test_detection_and_url_builders() -> None:
    assert detect_marketplace(b"<html></html>", "https://item.rakuten.co.jp/a/b/") == "rakuten"
    assert PAGES.search_url("", "ジブリ dvd", 0) == "https://search.rakuten.co.jp/search/mall/%E3%82%B8%E3%83%96%E3%83%AA%20dvd/"
    assert PAGES.search_url("", "dvd", 2).endswith("/search/mall/dvd/?p=3")
    assert PAGES.listing_url("", "eizou-do/4959241714971") == "https://item.rakuten.co.jp/eizou-do/4959241714971/"
    assert PAGES.shop_url("", "eizou-do") == "https://www.rakuten.co.jp/eizou-do/"
    assert parse_pages("rakuten") is PAGES


def test_rakuten_is_parse_only_not_a_crawl_target() -> None:
    # No crawl profile (rate limits, sessions) exists for it: spiders and monitor.yaml refuse it.
    assert "rakuten" not in KNOWN_MARKETPLACES and "rakuten" not in load_profiles()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        check=False, capture_output=True, text=True, encoding="utf-8", cwd=ROOT, timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"},
    )


@pytest.mark.timeout(180)
def test_cli_parse_rakuten_pages() -> None:
    proc = run_cli("parse", str(RAK / "search-searchresultitem.html"), "--marketplace", "rakuten", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["marketplace"], result["kind"], len(result["items"])) == ("rakuten", "search", 4)
    proc = run_cli("parse", str(RAK / "item-legacy.eucjp.html"))
    assert proc.returncode == 0 and "千と千尋の神隠し" in proc.stdout and "euc_jp" in proc.stdout
    proc = run_cli("parse", str(RAK / "homepage_2017_archive.eucjp.html"), "--json")
    assert proc.returncode == 6 and json.loads(proc.stdout)["kind"] == "unknown"
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
