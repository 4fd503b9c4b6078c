"""The generic page objects (``crawler.pages.generic``) and ``reelguard parse`` on unknown sites.

Pages are the hand-made ``fixtures/real/generic/`` (each names the markup it is modelled on) and
the real saved pages of ``fixtures/pages/`` (web-poet fixtures of the marketplace page objects),
on which the generic reading must find what the marketplace's own page objects find. Nothing
here reads ``../shared`` or the network.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from web_poet import HttpResponse

from crawler.exceptions import ConfigError
from crawler.normalize.fields import parse_price
from crawler.pages import (
    GENERIC,
    KNOWN_MARKETPLACES,
    PARSE_MARKETPLACES,
    cards,
    generic,
    get_pages,
    parse_pages,
    structured,
)
from crawler.pages.cards import price_text
from crawler.pages.detect import analyse_saved_page, parse_saved_page

ROOT = Path(__file__).resolve().parents[1]
GEN = ROOT / "fixtures" / "real" / "generic"
REAL = ROOT / "fixtures" / "real"
PAGES = ROOT / "fixtures" / "pages"

pytestmark = pytest.mark.timeout(60)


def page(name: str, url: str | None = None, marketplace: str | None = None) -> Any:
    return analyse_saved_page((GEN / name).read_bytes(), url=url, marketplace=marketplace)


def html(body: str, url: str = "https://shop.example.com/x/1") -> tuple[str, list[dict[str, Any]]]:
    outcome = analyse_saved_page(f"<html><head><meta charset='utf-8'>{body}</head><body></body></html>".encode(), url=url)
    return outcome.kind, outcome.items


# -- item pages -----------------------------------------------------------------------------------
def test_jsonld_graph_product_is_one_item() -> None:
    outcome = page("item-jsonld-graph.html")
    assert (outcome.marketplace, outcome.kind) == ("filmregal.example.de", "item")
    assert outcome.items == [{
        "listing_id": "FR-10442", "title": "Inception (2010) Blu-ray Steelbook", "price": 24.99,
        "currency": "EUR", "seller": "Filmregal GmbH",
        "url": "https://filmregal.example.de/produkte/inception-steelbook-4k",
    }]  # broken block skipped, breadcrumb and related links ignored, AggregateOffer lowPrice


def test_microdata_product_is_one_item_without_its_similar_products() -> None:
    outcome = page("item-microdata.html", url="https://marketstall.example.co.uk/item/88123")
    assert outcome.kind == "item"
    assert outcome.items == [{
        "listing_id": "MS-88123", "title": "Paddington 2 [DVD] Region 2", "price": 3.49, "currency": "GBP",
        "seller": "bargain_dvds_uk", "url": "https://marketstall.example.co.uk/item/88123",
    }]


def test_opengraph_product_meta_is_an_item() -> None:
    outcome = page("item-opengraph.html")
    assert outcome.kind == "item"
    [item] = outcome.items
    assert (item["title"], item["price"], item["currency"]) == ("Spirited Away Collector's Edition", 49.9, "EUR")
    assert item["url"] == "https://animevault.example.com/products/spirited-away-collectors-edition"
    assert item["listing_id"] == "products/spirited-away-collectors-edition"


def test_jsonld_variants_arrays_types_and_comments() -> None:
    product = '{"@type": ["Product", "Thing"], "name": "Alien DVD", "productID": "A1", "offers": [{"@type": "Offer", "price": 5, "priceCurrency": "USD"}]}'
    assert html(f'<script type="application/ld+json">[{product}]</script>') == ("item", [
        {"listing_id": "A1", "title": "Alien DVD", "price": 5.0, "currency": "USD", "seller": None, "url": "https://shop.example.com/x/1"}])
    typed_url = '{"@context": "http://schema.org", "@type": "http://schema.org/Product", "name": "Heat"}'
    kind, items = html(f'<script type="application/ld+json; charset=utf-8"><!-- {typed_url} --></script>')
    assert kind == "item" and items[0]["title"] == "Heat" and items[0]["price"] is None
    # A film sold on disc may be typed Movie: its offers make it a product.
    movie = '{"@type": "Movie", "name": "Ronin", "offers": {"@type": "Offer", "price": "7.50", "priceCurrency": "GBP"}}'
    assert html(f'<script type="application/ld+json">{movie}</script>')[1][0]["price"] == 7.5
    # Only broken JSON, or only non-product types: nothing is invented.
    assert html('<script type="application/ld+json">{"@type": "Product", "name": }</script>') == ("unknown", [])
    assert html('<script type="application/ld+json">{"@type": "Organization", "name": "Shop"}</script>') == ("unknown", [])


def test_scraped_text_stays_text() -> None:
    hostile = '{"@type": "Product", "name": "<img src=x onerror=alert(1)> DVD", "sku": "../../etc/passwd"}'
    kind, items = html(f'<script type="application/ld+json">{hostile}</script>')
    assert kind == "item" and items[0]["title"] == "<img src=x onerror=alert(1)> DVD"
    assert items[0]["listing_id"] == "../../etc/passwd"  # kept as data, never used as a path


def test_hostile_nesting_is_unknown_not_a_crash() -> None:
    deep = "[" * 100000 + "]" * 100000
    body = (f'<html><head><script type="application/ld+json">{deep}</script></head>'
            f'<body>{"<div>" * 3000}x{"</div>" * 3000}</body></html>').encode()
    outcome = analyse_saved_page(body, url="https://shop.example.com/search?q=x")
    assert (outcome.kind, outcome.items) == ("unknown", [])


# -- search pages ---------------------------------------------------------------------------------
def test_jsonld_itemlist_is_a_search_page() -> None:
    outcome = page("search-jsonld-itemlist.html", url="https://discbarn.example.com/search?q=matrix")
    assert outcome.kind == "search"
    assert [(i["listing_id"], i["title"], i["price"], i["currency"], i["url"]) for i in outcome.items] == [
        ("DB-1", "The Matrix 4K UHD", 19.99, "USD", "https://discbarn.example.com/p/the-matrix-4k-uhd-db-1"),
        ("DB-2", "The Matrix Trilogy Blu-ray", 34.5, "USD", "https://discbarn.example.com/p/the-matrix-trilogy-db-2"),
        ("DB-3", "The Animatrix DVD", 7.0, "USD", "https://discbarn.example.com/p/the-animatrix-db-3"),
    ]  # the ListItem that is an article is not a listing; "#p3" resolved through @id
    assert outcome.next_page == "https://discbarn.example.com/search?q=matrix&page=2"


def test_microdata_product_cards_are_a_search_page() -> None:
    outcome = page("search-microdata.html", url="https://marketstall.example.co.uk/search?q=dvd+box+set")
    assert outcome.kind == "search"
    assert [i["listing_id"] for i in outcome.items] == ["1001", "1002", "1003", "1004"]
    assert outcome.items[2]["price"] == 61.5 and outcome.items[2]["url"] == "https://marketstall.example.co.uk/item/1003"


@pytest.mark.parametrize("url", ["https://machikado.example.jp/search?q=%E3%82%B8%E3%83%96%E3%83%AA+DVD", None])
def test_repeated_priced_cards_are_a_search_page(url: str | None) -> None:
    outcome = page("search-cards.html", url=url)
    assert outcome.kind == "search"
    titles = [i["title"] for i in outcome.items]
    assert titles == ["となりのトトロ DVD 国内正規品", "千と千尋の神隠し DVD", "もののけ姫 Blu-ray",
                      "魔女の宅急便 DVD", "ハウルの動く城 DVD", "風の谷のナウシカ DVD"]
    # Sponsored variants included; screen-reader text, struck-out prices, the menu and the
    # "recently viewed" strip left out; "¥" read as yen on a .jp site or a lang="ja" page.
    assert [(i["listing_id"], i["price"], i["currency"]) for i in outcome.items][:2] == [
        ("70011", 3520.0, "JPY"), ("70012", 2980.0, "JPY")]
    if url:
        assert outcome.items[0]["url"] == "https://machikado.example.jp/goods/70011?ref=s1"
        assert outcome.next_page == "https://machikado.example.jp/search?q=%E3%82%B8%E3%83%96%E3%83%AA+DVD&page=2"


def test_cents_typeset_apart_are_the_decimals() -> None:
    outcome = page("search-cards-split-cents.html", url="https://aisle9.example.com/search?q=blu-ray")
    assert outcome.kind == "search"
    assert [(i["listing_id"], i["price"], i["currency"]) for i in outcome.items] == [
        ("40101", 12.99, "USD"), ("40102", 8.49, "USD"), ("40103", 14.99, "USD"),
        ("40104", 1280.0, "USD"), ("40105", 5.0, "USD")]  # not 1299, 849, 128000, 500
    assert outcome.next_page == "https://aisle9.example.com/search?q=blu-ray&page=2"


@pytest.mark.parametrize("url", ["https://eiga-komachi.example.jp/search?q=DVD", None])
def test_yen_suffix_in_small_markup_stays_whole_yen(url: str | None) -> None:
    outcome = page("search-cards-yen-suffix.html", url=url)
    assert outcome.kind == "search"
    assert [(i["listing_id"], i["price"], i["currency"]) for i in outcome.items] == [
        ("5501", 1280.0, "JPY"), ("5502", 2980.0, "JPY"), ("5503", 5170.0, "JPY"), ("5504", 980.0, "JPY")]


@pytest.mark.parametrize(("markup", "expected"), [
    ("<span>$<span>12</span><sup>99</sup></span>", "$12.99"),
    ("<span>$12 <sup>99</sup></span>", "$12.99"),
    ("<span>$<b>8</b><span class='Price-Cents'>49</span></span>", "$8.49"),
    ("<span>$1,280<span class='a-price-fraction'>00</span></span>", "$1,280.00"),
    ("<span>€3<span class='decimal-part'>50</span></span>", "€3.50"),
    ("<span>$12<span class='cents'>.99</span></span>", "$12.99"),  # separator shown: kept once
    ("<span>¥1,280<small>円</small></span>", "¥1,280円"),  # no cents markup: joined as shown
    ("<span>$12<small>99</small></span>", "$1299"),  # <small> alone says nothing of cents
    ("<span>$999<sup>1</sup></span>", "$9991"),  # a one-digit footnote mark is not cents
    ("<span>$12.50<sup>99</sup></span>", "$12.5099"),  # after a decimal number: as shown
    ("<span>12,99<sup>00</sup> €</span>", "12,9900 €"),
    ("<span>$5<sup>*</sup></span>", "$5*"),
    ("<span>$<!-- x -->12<sup>99</sup></span>", "$12.99"),
])
def test_price_text_joins_split_cents_only_where_markup_says_so(markup: str, expected: str) -> None:
    import lxml.html

    assert price_text(lxml.html.fragment_fromstring(markup)) == expected


def test_price_text_reads_cents_in_the_next_sibling() -> None:
    import lxml.html

    div = lxml.html.fragment_fromstring(
        "<div><span>$12</span> <sup>99</sup> <span>$4</span> / <sup>99</sup><span>$7</span><i>99</i></div>")
    assert price_text(div[0]) == "$12.99"
    assert price_text(div[2]) == "$4"  # text between them: not the same price
    assert price_text(div[4]) == "$7"  # no cents markup


def test_split_modules_stay_importable_from_generic() -> None:
    assert generic.card_listings is cards.card_listings and generic.MIN_CARDS == cards.MIN_CARDS
    assert generic.listing_id_from_url is structured.listing_id_from_url
    assert generic.jsonld_roots is structured.jsonld_roots
    assert generic.microdata_products is structured.microdata_products
    assert generic.listing_from_product is structured.listing_from_product


# -- pages that show no listing -------------------------------------------------------------------
@pytest.mark.parametrize("strip_canonical", [False, True])
def test_front_page_carousels_are_unknown(strip_canonical: bool) -> None:
    body = (GEN / "homepage-carousels.html").read_bytes()
    if strip_canonical:  # without its URL: three comparable carousels are not one result list
        body = body.replace(b'<link rel="canonical" href="https://www.shopwave.example.com/">', b"")
    outcome = analyse_saved_page(body)
    assert (outcome.kind, outcome.items) == ("unknown", [])
    assert outcome.message


@pytest.mark.parametrize("url", ["https://retroshelf.example.com/product/200", None])
def test_item_page_recommendations_are_not_results(url: str | None) -> None:
    outcome = page("item-with-recommendations.html", url=url)
    assert (outcome.kind, outcome.items) == ("unknown", [])


def test_article_with_itemlist_is_unknown() -> None:
    assert (page("article-itemlist.html").kind, page("article-itemlist.html").items) == ("unknown", [])


def test_bot_challenge_is_blocked() -> None:
    outcome = page("blocked-challenge.html", url="https://shop.example.net/products/1")
    assert (outcome.kind, outcome.items) == ("blocked", [])
    assert "captcha" in (outcome.message or "")


def test_real_front_pages_stay_unknown_through_the_generic_reading() -> None:
    for path in (REAL / "taobao" / "homepage_2017.html", REAL / "rakuten" / "homepage_2017_archive.eucjp.html"):
        outcome = analyse_saved_page(path.read_bytes(), marketplace=GENERIC)
        assert (outcome.kind, outcome.items) == ("unknown", []), path.name


# -- priority and fallback ------------------------------------------------------------------------
def test_known_marketplace_unrecognised_layout_falls_back_on_generic() -> None:
    outcome = page("known-marketplace-new-layout.html")
    assert (outcome.marketplace, outcome.kind) == ("ebay", "item")
    assert outcome.items == [{"listing_id": "296512345678", "title": "Heat 1995 Blu-ray Director's Definitive Edition",
                              "price": 18.5, "currency": "USD", "seller": "discs_and_more",
                              "url": "https://www.ebay.com/itm/296512345678"}]


def test_search_the_marketplace_thinks_javascript_renders_but_was_saved_rendered() -> None:
    body = (GEN / "known-marketplace-rendered-shell.html").read_bytes()
    url = "https://s.taobao.com/search?q=%E7%9B%97%E6%A2%A6%E7%A9%BA%E9%97%B4"
    outcome = analyse_saved_page(body, url=url)
    assert (outcome.marketplace, outcome.kind) == ("taobao", "search")
    assert [(i["listing_id"], i["price"], i["currency"]) for i in outcome.items] == [
        ("652301111111", 128.0, "CNY"), ("652302222222", 39.9, "CNY"),
        ("652303333333", 268.0, "CNY"), ("652304444444", 199.0, "CNY")]
    # The same shell without its rendered cards keeps the Taobao page objects' reason.
    shell = re.sub(rb'<a class="ItemCard.*?</a>', b"", body, flags=re.DOTALL)
    outcome = analyse_saved_page(shell, url=url)
    assert (outcome.marketplace, outcome.kind, outcome.items) == ("taobao", "unknown", [])
    assert "JavaScript" in (outcome.message or "")


REAL_SEARCH = [
    ("crawler.pages.ebay.EbaySearchPage", "search-s-card", "USD"),
    ("crawler.pages.amazon.AmazonSearchPage", "search-results", "USD"),
    ("crawler.pages.jd.JdSearchPage", "search-gl-items-2016", "CNY"),
    ("crawler.pages.taobao.TaobaoSearchPage", "search-g-page-config-2018", "CNY"),
]


@pytest.mark.parametrize(("cls", "case", "currency"), REAL_SEARCH)
def test_generic_reading_finds_what_the_marketplace_page_objects_find(cls: str, case: str, currency: str) -> None:
    """On real saved result pages the repeated-card reading alone gives the same listings
    (id, title, price) as the marketplace's own page objects; they keep priority in ``parse``."""
    folder = PAGES / cls / case
    body = (folder / "inputs" / "HttpResponse-body.html").read_bytes()
    expected = json.loads((folder / "output.json").read_text(encoding="utf-8"))["listings"]
    outcome = analyse_saved_page(body, marketplace=GENERIC)
    assert outcome.kind == "search"
    got = {i["listing_id"]: (i["title"], i["price"]) for i in outcome.items}
    want = {e["listing_id"]: (e["title"], parse_price(e["price_text"], currency)[0]) for e in expected}
    assert got == want
    own = analyse_saved_page(body)
    assert own.marketplace != GENERIC and len(own.items) == len(expected)


def test_registry_keeps_generic_out_of_crawls() -> None:
    assert GENERIC not in KNOWN_MARKETPLACES and "rakuten" not in KNOWN_MARKETPLACES
    assert GENERIC in PARSE_MARKETPLACES and "rakuten" in PARSE_MARKETPLACES
    with pytest.raises(KeyError):
        get_pages(GENERIC)
    assert parse_pages(None).name == GENERIC and parse_pages("nosuch.example").name == GENERIC
    assert parse_pages("ebay") is get_pages("ebay")
    with pytest.raises(ConfigError):
        generic.PAGES.search_url("https://shop.example.com", "x", 0)


@pytest.mark.parametrize(("url", "expected"), [
    ("https://item.taobao.com/item.htm?spm=a&id=5622", "5622"),
    ("https://www.amazon.com/Some-Thing/dp/B0CB1FW5FC/ref=sr_1_3", "B0CB1FW5FC"),
    ("https://www.amazon.com/sspa/click?url=%2FX%2Fdp%2FB0GTM5NV64%2Fref%3Dsr", "B0GTM5NV64"),
    ("https://www.ebay.com/itm/Outdoor-Sofa/381228738769?hash=x", "381228738769"),
    ("https://shop.example.com/goods/70011.html", "70011"),
    ("https://shop.example.com/products/blue-shirt", "products/blue-shirt"),
    ("https://shop.example.com/", None),
])
def test_listing_id_from_url(url: str, expected: str | None) -> None:
    assert generic.listing_id_from_url(url) == expected


def test_default_currency_by_domain_then_language() -> None:
    def resp(url: str, lang: str) -> HttpResponse:
        return HttpResponse(url=url, body=f'<html lang="{lang}"></html>'.encode(), encoding="utf-8")

    assert generic.default_currency(resp("https://a.example.jp/", "en")) == "JPY"
    assert generic.default_currency(resp("https://a.example.com/", "zh-CN")) == "CNY"
    assert generic.default_currency(resp("https://a.example.com/", "en")) is None


# -- the command ----------------------------------------------------------------------------------
def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        check=False, capture_output=True, text=True, encoding="utf-8", cwd=ROOT, timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"},
    )


@pytest.mark.timeout(180)
def test_cli_parse_unknown_sites() -> None:
    url = "https://machikado.example.jp/search?q=dvd"
    proc = run_cli("parse", str(GEN / "search-cards.html"), "--url", url, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["marketplace"], result["kind"], len(result["items"])) == ("machikado.example.jp", "search", 6)
    proc = run_cli("parse", str(GEN / "article-itemlist.html"), "--marketplace", "generic", "--json")
    assert proc.returncode == 6 and json.loads(proc.stdout)["kind"] == "unknown"
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = run_cli("parse", str(GEN / "item-opengraph.html"))
    assert proc.returncode == 0 and "Spirited Away" in proc.stdout


def test_parse_saved_page_shape_for_unknown_site() -> None:
    result = parse_saved_page((GEN / "item-microdata.html").read_bytes())
    assert set(result) == {"marketplace", "kind", "items", "next_page"}
    assert result["marketplace"] is None and result["kind"] == "item" and result["items"][0]["url"] is None
