"""Page objects for shops we have no page objects for: what a page declares for machines.

``reelguard parse`` falls back on these for a page from an unknown site, and for a page of a
known marketplace whose own page objects do not recognise its layout (they keep priority).
They are not a crawl target: the bundle is not in ``KNOWN_MARKETPLACES`` and builds no URLs.

In order of trust: schema.org JSON-LD, microdata, then OpenGraph / Twitter product meta
(``crawler.pages.structured``), and as a last resort for result pages repeated priced cards
(``crawler.pages.cards``). This module decides what the page is from what they find and holds
the page classes and the bundle.

A page is ``item`` (one product), ``search`` (several), ``blocked`` (a bot challenge with no
product data) or ``unknown``: nothing is invented when the page shows no priced products.
Prices are kept as shown (``"1980 JPY"``) and parsed by ``crawler.normalize.fields``.

No settings affect this module.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import replace
from functools import cached_property

from web_poet import HttpResponse, WebPage, field

from crawler.exceptions import ConfigError, ExtractionError
from crawler.items import ListingItem, PageKind, SearchResults
from crawler.pages.base import MarketplacePages, clean_text
from crawler.pages.cards import MAX_CARD_PRICES, MIN_CARDS, card_listings
from crawler.pages.common import (
    RealBlockedPage,
    RealRemovedPage,
    UnsupportedPage,
    abs_url,
    has_any,
    host_of,
)
from crawler.pages.structured import (
    jsonld_products,
    jsonld_roots,
    listing_from_product,
    listing_id_from_url,
    merge_listings,
    microdata_products,
    og_listing,
)

# What other modules read from here (the split kept them importable from this module).
__all__ = [
    "CHALLENGE_MARKERS", "MAX_CARD_PRICES", "MIN_CARDS", "PAGES", "GenericBlockedPage",
    "GenericListingPage", "GenericRemovedPage", "GenericSearchPage", "GenericShopPage", "analyse",
    "card_listings", "classify", "default_currency", "jsonld_roots", "listing_from_product",
    "listing_id_from_url", "microdata_products",
]

_TLD_CURRENCY = {"jp": "JPY", "cn": "CNY", "uk": "GBP", "de": "EUR", "fr": "EUR", "it": "EUR",
                 "es": "EUR", "nl": "EUR", "au": "AUD", "ca": "CAD", "in": "INR", "kr": "KRW"}  # fmt: skip
CHALLENGE_MARKERS = ("#challenge-form", "#cf-challenge-running", "#px-captcha",
                     "iframe[src*='captcha-delivery.com']", "form[action*='captcha']")  # fmt: skip


# -- the page as a whole ---------------------------------------------------------------------
def _dedupe(items: list[ListingItem]) -> list[ListingItem]:
    seen: set[tuple[str, str]] = set()
    out = []
    for item in items:
        if (item.title, item.url) not in seen:
            seen.add((item.title, item.url))
            out.append(item)
    return out


def analyse(response: HttpResponse) -> tuple[PageKind, list[ListingItem]]:
    """What the page is and the listings it shows (one for an item page)."""
    top, listed = jsonld_products(jsonld_roots(response))
    og = og_listing(response)
    micro = [m for m in (listing_from_product(response, p, "item") for p in microdata_products(response)) if m]
    if listed:
        return "search", _dedupe([c for c in (listing_from_product(response, p, "card") for p in listed) if c])
    products = _dedupe([p for p in (listing_from_product(response, t, "item") for t in top) if p])
    if products and (len(products) == 1 or og):
        main = next((p for p in products if og and p.title == og.title), products[0])
        return "item", [merge_listings(main, micro[0] if micro else None, og)]
    if products:
        for p in products:
            p.page_kind = "card"
        return "search", products
    if micro and (len(micro) < MIN_CARDS or og):
        main = next((m for m in micro if og and m.title == og.title), micro[0])
        return "item", [merge_listings(main, og)]
    if micro:
        for m in micro:
            m.page_kind = "card"
        return "search", _dedupe(micro)
    if og:
        return "item", [og]
    cards = card_listings(response)
    if cards:
        return "search", cards
    title = (clean_text(" ".join(response.css("title::text").getall())) or "").lower()
    if has_any(response, CHALLENGE_MARKERS) or re.search(r"just a moment|attention required|robot check|are you a (?:human|robot)|^access denied", title):
        return "blocked", []
    return "unknown", []


def _analysis(response: HttpResponse) -> tuple[PageKind, list[ListingItem]]:
    # classify() and then the page object read the same response: analyse it once.
    cached = _CACHE.get(response)
    if cached is None:
        cached = _CACHE[response] = analyse(response)
    return cached


_CACHE: weakref.WeakKeyDictionary[HttpResponse, tuple[PageKind, list[ListingItem]]] = weakref.WeakKeyDictionary()


def classify(response: HttpResponse) -> PageKind:
    return _analysis(response)[0]


def default_currency(response: HttpResponse) -> str | None:
    """The currency a bare ``¥`` or ``$`` most likely means here: by the site's country domain,
    else the page's language (``ja`` yen, ``zh`` yuan)."""
    tld = host_of(str(response.url)).rsplit(".", 1)[-1]
    if tld in _TLD_CURRENCY:
        return _TLD_CURRENCY[tld]
    lang = (response.xpath("/html/@lang").get() or "").lower()
    return {"ja": "JPY", "zh": "CNY"}.get(lang[:2])


class GenericSearchPage(WebPage[SearchResults]):
    """Several products: a JSON-LD ItemList, several JSON-LD or microdata products, or cards."""

    @cached_property
    def _found(self) -> tuple[PageKind, list[ListingItem]]:
        return _analysis(self.response)

    @field
    def listings(self) -> list[ListingItem]:
        kind, items = self._found
        if kind != "search":
            raise ExtractionError("generic", str(self.response.url), "the page shows no list of products")
        return [replace(i) for i in items]  # copies: the analysis is cached per response

    @field
    def next_page_url(self) -> str | None:
        href = self.css("link[rel=next]::attr(href)").get() or self.css("a[rel~=next]::attr(href)").get()
        return abs_url(self.response, href)

    @field
    def total_text(self) -> str | None:
        return None

    @field
    def needs_browser(self) -> bool:
        return False


class GenericListingPage(WebPage[ListingItem]):
    """One product, as its JSON-LD, microdata and product meta tags describe it together."""

    async def to_item(self) -> ListingItem:
        kind, items = _analysis(self.response)
        if kind != "item" or not items:
            raise ExtractionError("generic", str(self.response.url), "the page describes no single product")
        return replace(items[0])


class GenericBlockedPage(RealBlockedPage):
    """A bot challenge (Cloudflare, PerimeterX, DataDome, a captcha form) with no product data."""

    captcha_markers = CHALLENGE_MARKERS


class GenericRemovedPage(RealRemovedPage):
    """Removed listings are not recognised generically; present for the bundle's shape."""


class GenericShopPage(UnsupportedPage):
    """Storefronts are not recognised generically."""


def _no_urls(*_: object) -> str:
    raise ConfigError("the generic page objects read saved pages only: they build no URLs")


PAGES = MarketplacePages(
    name="generic",
    language="en",
    classify=classify,
    search_page=GenericSearchPage,
    listing_page=GenericListingPage,
    shop_page=GenericShopPage,
    removed_page=GenericRemovedPage,
    blocked_page=GenericBlockedPage,
    search_url=_no_urls,
    shop_url=_no_urls,
    listing_url=_no_urls,
)
