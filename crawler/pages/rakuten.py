"""Page objects of Rakuten Ichiba (rakuten.co.jp): search results, item pages, blocks.

A listing is ``item.rakuten.co.jp/<shop>/<item>/``: the shop code and the item code make its id
(``"<shop>/<item>"``), the shop code is the seller id and ``www.rakuten.co.jp/<shop>/`` its
storefront. The URL shape has outlived every redesign, so cards and pages are recognised by it
first; links wrapped by Rakuten's ad and affiliate redirects (``rd.rakuten.co.jp``,
``hb.afl.rakuten.co.jp/...?pc=``) are unwrapped.

Search results (``search.rakuten.co.jp/search/mall/<keyword>/?p=N``), in order: the page's own
payload ``window.__INITIAL_STATE__.state.data.ichibaSearch`` (``items``: name, url, price,
shop; sponsored slots, which carry ``itemOptions.cpc`` and a click-tracking redirect instead of
an item URL, skipped; ``pagination``: numFound/start/pageSize/subset, which also gives the next
page when the markup has no link and says "no results" with ``numFound: 0``); the cards
``div.searchresultitem`` (title link in ``.title`` / ``h2`` with the full name in its ``title``
attribute, price ``.important`` or a ``price--`` class, shop ``.merchant`` link) or, in the
2017 layout, ``div.rsrSResultSect``; then the generic repeated-card reading. Never the page's
JSON-LD: it is an ItemList of SEO-carousel products (``?scid=seo-carousel-search``), not the
results. A search page with nothing recognisable and no "nothing found" is an extraction error.

Item pages (EUC-JP), in order: ``script#item-page-app-data`` (``newApi.itemInfoSku`` or
``api.data.itemInfoSku``: title, manageNumber, ``purchaseInfo...normalPurchase.price.minPrice``;
``shop``: shopName, shopUrl), JSON-LD / microdata / ``og:`` (``crawler.pages.generic``), then
the markup: ``.item_name``, ``span.normal_reserve_item_name``; price ``[itemprop=price]``,
``#priceCalculationConfig[data-price]``, ``.price2``; shop name from the hidden
``input[name=shopname]``, the "【楽天市場】<item>：<shop>" title or the link to the shop's top page.
The payload layout is the one measured on live pages in 2026 and documented by a public
scraper (see ``fixtures/real/rakuten/README.md``).

The Rakuten login (``grp0*.id.rakuten.co.jp``, ``login.account.rakuten.com``), Akamai's small
"Reference #18.…" deny and the "アクセスが集中" throttle page, and bot challenges are
``blocked``; the Ichiba front page and anything else is ``unknown``. Storefronts are not
extracted yet. Rakuten is parse-only: ``crawler.pages.PARSE_ONLY_MARKETPLACES``.

No settings affect this module.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from parsel import Selector
from web_poet import HttpResponse, WebPage, field

from crawler.exceptions import ExtractionError
from crawler.items import ListingItem, PageKind, SearchResults
from crawler.pages import generic
from crawler.pages.base import MarketplacePages, clean_text
from crawler.pages.common import (
    RealBlockedPage,
    RealRemovedPage,
    UnsupportedPage,
    abs_url,
    as_dict,
    has_any,
    host_of,
    json_after,
    meta_content,
    text_of,
    unique,
)

BASE_URL = "https://search.rakuten.co.jp"
LOGIN_HOSTS = ("id.rakuten.co.jp", "login.account.rakuten.com")
CAPTCHA_MARKERS = generic.CHALLENGE_MARKERS
CARDS = "div.searchresultitem, div.rsrSResultSect"
NO_RESULTS = ("見つかりませんでした", "該当する商品はありません", "No products found")

ITEM_MARKERS = ".item_name, .normal_reserve_item_name, input[name=item_id], #ratItemId, script#item-page-app-data"
_STATE = re.compile(r"window\.__INITIAL_STATE__\s*=\s*")
_AKAMAI_REF = re.compile(r"Reference\s*#\s*\d+\.[0-9a-f]+\.\d+\.[0-9a-f]+", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
_ITEM_URL = re.compile(r"item\.rakuten\.co\.jp/([A-Za-z0-9_.\-]+)/([^/?#&\s\"']+)")
_TITLE = re.compile(r"^【楽天市場】\s*(.+?)(?:\s*[：:]\s*([^：:]+))?$")


def item_key(url: str | None) -> tuple[str, str] | None:
    """``(shop, item)`` of an item URL, also inside redirect and affiliate links."""
    if not url:
        return None
    for candidate in (url, unquote(url), unquote(unquote(url))):
        m = _ITEM_URL.search(candidate)
        if m and m.group(1) not in ("search", "event"):
            return m.group(1), m.group(2)
    return None


def item_url(shop: str, item: str) -> str:
    return f"https://item.rakuten.co.jp/{shop}/{item}/"


def shop_top(shop: str) -> str:
    return f"https://www.rakuten.co.jp/{shop}/"


def search_payload(response: HttpResponse) -> dict[str, Any]:
    """``window.__INITIAL_STATE__.state.data.ichibaSearch`` ({items, pagination}), or ``{}``."""
    try:
        state = as_dict(json_after(response.text, _STATE))
    except RecursionError:  # hostile nesting: no payload to read
        return {}
    return as_dict(as_dict(as_dict(state.get("state")).get("data")).get("ichibaSearch"))


def item_island(response: HttpResponse) -> tuple[dict[str, Any], dict[str, Any]]:
    """(``itemInfoSku``, ``shop``) of ``script#item-page-app-data``, or empty dicts."""
    raw = response.css("script#item-page-app-data::text").get()
    try:
        data = as_dict(json.loads(raw)) if raw else {}
    except (ValueError, RecursionError):
        return {}, {}
    sku = as_dict(as_dict(data.get("newApi")).get("itemInfoSku")) or as_dict(
        as_dict(as_dict(data.get("api")).get("data")).get("itemInfoSku"))
    return sku, as_dict(data.get("shop"))


def _is_blocked(response: HttpResponse) -> bool:
    host = host_of(str(response.url))
    if any(host == h or host.endswith("." + h) for h in LOGIN_HOSTS):
        return True
    if len(response.body) < 16 * 1024:  # Akamai's deny and the "アクセスが集中" page are tiny
        head = response.text[:8192]
        if _AKAMAI_REF.search(head) or "アクセスが集中" in head:
            return True
    return has_any(response, CAPTCHA_MARKERS)


def _is_item(response: HttpResponse) -> bool:
    host = host_of(str(response.url))
    if host == "item.rakuten.co.jp" and item_key(str(response.url)):
        return True
    return bool(response.css(ITEM_MARKERS))


def classify(response: HttpResponse) -> PageKind:
    """What a Rakuten page is, judged by its URL, then its markup, then the generic reading."""
    if _is_blocked(response):
        return "blocked"
    if _is_item(response):
        return "item"
    path = urlsplit(str(response.url)).path
    on_search = host_of(str(response.url)) == "search.rakuten.co.jp" and path.startswith("/search/")
    if on_search or response.css(CARDS) or search_payload(response):
        return "search"
    kind = generic.classify(response)
    return kind if kind in ("item", "search") else "unknown"


def _price_text(text: str | None) -> str | None:
    text = clean_text(text)
    if not text or not re.search(r"\d", text):
        return None
    return text if re.search(r"[円¥￥]|JPY", text) else f"{text}円"


def _card(response: HttpResponse, card: Selector) -> ListingItem | None:
    # The title link first (the image link carries no name), whatever the document order.
    links = [card.css(q) for q in (".title a, h2 a, .rsrSResultItemTxt a", "a[title]", "a")]
    link = next((a for found in links for a in found if item_key(a.attrib.get("href"))), None)
    if link is None:
        return None
    key = item_key(link.attrib.get("href"))
    assert key is not None
    title = (
        clean_text(link.attrib.get("title"))
        or text_of(link)
        or text_of(card.css(".title, h2")[:1])
        or clean_text(card.css("img::attr(alt)").get())
    )
    if not title:
        return None
    price = None
    for query in (".important", "[class*='price--']", ".price", "p.price a"):
        price = _price_text(text_of(card.css(query)[:1]))
        if price:
            break
    shop = card.css(".merchant a, [class*='merchant'] a, .txtIconShopName a")[:1]
    img = card.css("img::attr(data-src), img::attr(src)").get()
    return ListingItem(
        listing_id=f"{key[0]}/{key[1]}",
        url=item_url(*key),
        title=title,
        price_text=price,
        seller_id=key[0],
        seller_name=text_of(shop),
        shop_url=shop_top(key[0]),
        image_urls=unique([abs_url(response, img)]),
        page_kind="card",
    )


def _hit(response: HttpResponse, hit: dict[str, Any]) -> ListingItem | None:
    """One ``ichibaSearch.items`` entry; sponsored slots (a click-tracking redirect, no item
    code) give ``None``."""
    key = item_key(str(hit.get("url") or hit.get("originalItemUrl") or ""))
    title = clean_text(_TAGS.sub(" ", str(hit.get("name") or "")))
    if key is None or not title or as_dict(hit.get("itemOptions")).get("cpc"):
        return None
    shop = as_dict(hit.get("shop"))
    price = hit.get("price")
    images = [as_dict(i).get("url") or as_dict(i).get("location") for i in hit.get("images") or []]
    return ListingItem(
        listing_id=f"{key[0]}/{key[1]}", url=item_url(*key), title=title,
        price_text=f"{price}円" if isinstance(price, int | float | str) and str(price).strip() else None,
        seller_id=key[0], seller_name=clean_text(str(shop.get("name") or "")),
        shop_url=shop_top(key[0]), image_urls=unique([abs_url(response, str(u)) for u in images if u][:1]),
        page_kind="card",
    )


def _rakuten_ids(item: ListingItem) -> ListingItem:
    """A card the generic reading found, keyed like Rakuten's own: ``<shop>/<item>``."""
    key = item_key(item.url)
    if key:
        item.listing_id, item.url = f"{key[0]}/{key[1]}", item_url(*key)
        item.seller_id, item.shop_url = key[0], shop_top(key[0])
    return item


class RakutenSearchPage(WebPage[SearchResults]):
    """A page of Ichiba search results."""

    @field
    def listings(self) -> list[ListingItem]:
        payload = search_payload(self.response)
        hits = payload.get("items")
        found = [_hit(self.response, as_dict(h)) for h in (hits if isinstance(hits, list) else [])]
        found += [_card(self.response, card) for card in self.css(CARDS)]
        seen: dict[str, ListingItem] = {}
        for item in found:
            if item and item.listing_id not in seen:
                seen[item.listing_id] = item
        if seen:
            return list(seen.values())
        # Not generic.analyse: a search page's only JSON-LD is an ItemList of ten SEO-carousel
        # products, not the results.
        cards = generic.card_listings(self.response)
        if cards:
            return [_rakuten_ids(item) for item in cards]
        pagination = as_dict(payload.get("pagination"))
        body = " ".join(self.css("body ::text").getall())
        if pagination.get("numFound") == 0 or any(marker in body for marker in NO_RESULTS):
            return []
        raise ExtractionError("rakuten", str(self.response.url), "no search results found and the page does not say there are none")

    @field
    def next_page_url(self) -> str | None:
        href = (
            self.css("a.nextPage::attr(href)").get()
            or self.css(".nextPage a::attr(href)").get()
            or self.css("link[rel=next]::attr(href), a[rel~=next]::attr(href)").get()
        )
        return abs_url(self.response, href) or self._next_from_payload()

    def _next_from_payload(self) -> str | None:
        """``?p=N+1`` when the payload's own arithmetic says there is a next page."""
        pages = as_dict(search_payload(self.response).get("pagination"))
        start, size, found = pages.get("start"), pages.get("pageSize"), pages.get("numFound")
        cap = pages.get("subset") or found
        url = str(self.response.url)
        if not (isinstance(start, int) and isinstance(size, int) and isinstance(found, int)
                and isinstance(cap, int)) or size <= 0 or "/search/" not in url:
            return None
        if start + size >= min(found, cap):
            return None
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "p"] + [("p", str(start // size + 2))]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))

    @field
    def total_text(self) -> str | None:
        return text_of(self.css(".count, ._medium.count")[:1])

    @field
    def needs_browser(self) -> bool:
        return False


class RakutenListingPage(WebPage[ListingItem]):
    """An item page (``item.rakuten.co.jp/<shop>/<item>/``).

    Reads ``self.response.css`` rather than ``self.css``: web-poet builds ``self.selector`` with
    the ``url`` field as base URL, and ``url`` itself reads the page.
    """

    def _declared(self) -> ListingItem | None:
        kind, items = generic.analyse(self.response)
        return items[0] if kind == "item" and items else None

    @cached_property
    def _island(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return item_island(self.response)

    def _key(self) -> tuple[str, str] | None:
        canonical = self.response.css("link[rel=canonical]::attr(href)").get()
        sku, shop = self._island
        code, number = shop.get("shopUrl"), sku.get("manageNumber")
        return (
            item_key(str(self.response.url))
            or item_key(canonical)
            or item_key(meta_content(self.response, "og:url"))
            or (item_key(item_url(str(code), str(number))) if code and number else None)
        )

    def _title_parts(self) -> tuple[str | None, str | None]:
        for shown in (text_of(self.response.css("title")), meta_content(self.response, "og:title")):
            m = _TITLE.match(shown or "")
            if m:
                return m.group(1), m.group(2)
        return None, None

    @field
    def listing_id(self) -> str:
        key = self._key()
        if key:
            return f"{key[0]}/{key[1]}"
        declared = self._declared()
        if declared:
            return declared.listing_id
        raise ExtractionError("rakuten", str(self.response.url), "item page without a shop and item code")

    @field
    def url(self) -> str:
        key = self._key()
        return item_url(*key) if key else str(self.response.url)

    @field
    def title(self) -> str:
        declared = self._declared()
        island_title = clean_text(_TAGS.sub(" ", str(self._island[0].get("title") or "")))
        value = (
            island_title
            or text_of(self.response.css(".item_name")[:1])
            or text_of(self.response.css(".normal_reserve_item_name h1, .normal_reserve_item_name")[:1])
            or (declared.title if declared else None)
            or self._title_parts()[0]
        )
        if not value:
            raise ExtractionError("rakuten", str(self.response.url), "item page without a title")
        shown = _TITLE.match(value)  # og:title repeats the page title: "【楽天市場】<item>：<shop>"
        return shown.group(1) if shown else value

    @field
    def price_text(self) -> str | None:
        normal = as_dict(as_dict(as_dict(self._island[0].get("purchaseInfo")).get("purchaseBySellType"))
                         .get("normalPurchase"))
        low = as_dict(normal.get("price")).get("minPrice")
        if isinstance(low, int | float) and not isinstance(low, bool):
            return f"{low}円"
        declared = self._declared()
        if declared and declared.price_text:
            return declared.price_text
        node = self.response.css("[itemprop=price]")[:1]
        if node:
            return _price_text(node.attrib.get("content") or text_of(node))
        return _price_text(
            self.response.css("#priceCalculationConfig::attr(data-price)").get()
            or text_of(self.response.css(".price2")[:1])
            or text_of(self.response.css("[class*='price--']")[:1])
        )

    @field
    def seller_id(self) -> str | None:
        key = self._key()
        return key[0] if key else None

    @field
    def seller_name(self) -> str | None:
        declared = self._declared()
        key = self._key()
        shop_link = self.response.css(f"a[href*='www.rakuten.co.jp/{quote(key[0])}/']") if key else []
        return (
            clean_text(str(self._island[1].get("shopName") or ""))
            or clean_text(self.response.css("input[name=shopname]::attr(value), input[name=shop_name]::attr(value)").get())
            or (declared.seller_name if declared else None)
            or self._title_parts()[1]
            or next((t for t in (text_of(a) for a in shop_link) if t), None)
        )

    @field
    def shop_url(self) -> str | None:
        key = self._key()
        return shop_top(key[0]) if key else None

    @field
    def image_urls(self) -> list[str]:
        declared = self._declared()
        urls: list[str | None] = list(declared.image_urls) if declared else []
        urls.append(abs_url(self.response, meta_content(self.response, "og:image")))
        return unique(urls)

    @field
    def page_kind(self) -> str:
        return "item"


class RakutenBlockedPage(RealBlockedPage):
    """The Rakuten login page or a bot challenge."""

    captcha_markers = CAPTCHA_MARKERS
    login_hosts = LOGIN_HOSTS


class RakutenRemovedPage(RealRemovedPage):
    """An item page that says the item is gone; the id is ``<shop>/<item>`` from the URL."""

    id_pattern = re.compile(r"item\.rakuten\.co\.jp/([^/?#]+/[^/?#]+)")


class RakutenShopPage(UnsupportedPage):
    """Rakuten storefronts are not extracted yet."""


PAGES = MarketplacePages(
    name="rakuten",
    language="ja",
    classify=classify,
    search_page=RakutenSearchPage,
    listing_page=RakutenListingPage,
    shop_page=RakutenShopPage,
    removed_page=RakutenRemovedPage,
    blocked_page=RakutenBlockedPage,
    search_url=lambda base, kw, i: f"{base or BASE_URL}/search/mall/{quote(kw, safe='')}/"
    + (f"?p={i + 1}" if i else ""),
    shop_url=lambda base, seller_id: shop_top(quote(seller_id, safe="")),
    listing_url=lambda base, listing_id: f"https://item.rakuten.co.jp/{quote(listing_id, safe='/')}/",
    currency="JPY",
)
