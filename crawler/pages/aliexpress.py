"""Page objects of AliExpress (aliexpress.com and its language sites): item pages and blocks.

Item pages (``<lang>.aliexpress.com/item/<productId>.html``) hand their data to
``window.runParams = {data: {...}}``: ``titleModule.subject``, ``priceModule``
(``formatedActivityPrice`` = the price shown, ``formatedPrice`` = the struck-through one),
``storeModule`` (``storeName``, ``storeNum``, ``storeURL``), ``imageModule.imagePathList``,
``commonModule`` (``productId``, ``currencyCode``). That object is read first; the DOM
(``h1``, ``[itemprop=price]``, ``.store-name``, ``[data-pl=...]`` on the newer layout) and the
``og:`` tags fill in what it lacks. The page is localised (Hebrew, Russian...): titles are taken
as shown; prices keep their locale's separators (``"€ 97,39 - 128,72"``).

The slider captcha (Alibaba's "punish" page, ``#nc_1_n1z``) and ``login.aliexpress.com`` are
``blocked``. Search results are client-rendered and not extracted here. No settings affect this
module.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, quote_plus

from web_poet import HttpResponse, WebPage, field

from crawler.exceptions import ExtractionError
from crawler.items import ListingItem, PageKind
from crawler.pages.base import MarketplacePages, clean_text
from crawler.pages.common import (
    RealBlockedPage,
    RealRemovedPage,
    UnsupportedPage,
    abs_url,
    has_any,
    host_of,
    json_after,
    meta_content,
    text_of,
    unique,
)

BASE_URL = "https://www.aliexpress.com"
LOGIN_HOSTS = ("login.aliexpress.com", "login.aliexpress.ru")
LOGIN_MARKERS = ("#fm-login-id", "form#login-form", "#batman-dialog-wrap")
CAPTCHA_MARKERS = ("#nc_1_n1z", "#nocaptcha", "#baxia-punish", "#J_PunishNotice")
CAPTCHA_URL_PARTS = ("/_____tmd_____/punish",)

_RUN_PARAMS = re.compile(r"\brunParams\s*=\s*\{\s*data\s*:")
_INIT_DATA = re.compile(r"\b_init_data_\s*=\s*\{\s*data\s*:")
_ITEM_PATH = re.compile(r"/item/(?:[^/]+/)?(\d{6,})\.html")
_OG_TITLE = re.compile(r"^(?:[^|]*\d[^|]*\|)?(.+?)(?:\|[^|]*\|?\s*-\s*AliExpress.*)?$")


def _is_blocked(response: HttpResponse) -> bool:
    url = str(response.url)
    if host_of(url) in LOGIN_HOSTS or any(p in url for p in CAPTCHA_URL_PARTS):
        return True
    return has_any(response, CAPTCHA_MARKERS) or has_any(response, LOGIN_MARKERS)


def run_params(response: HttpResponse) -> dict[str, Any]:
    """The page's data object (old ``runParams`` modules or the newer ``_init_data_``)."""
    for marker in (_RUN_PARAMS, _INIT_DATA):
        value = json_after(response.text, marker)
        if isinstance(value, dict):
            return value
    return {}


def _module(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    return value if isinstance(value, dict) else {}


def classify(response: HttpResponse) -> PageKind:
    """What an AliExpress page is, judged by its content."""
    if _is_blocked(response):
        return "blocked"
    data = run_params(response)
    if _module(data, "titleModule") or _module(data, "priceModule"):
        return "item"
    if response.css("[data-pl=product-title], h1.product-title-text"):
        return "item"
    if meta_content(response, "og:type") == "product" and _ITEM_PATH.search(str(response.url)):
        return "item"
    return "unknown"


class AliexpressListingPage(WebPage[ListingItem]):
    """An item page (``/item/<productId>.html``)."""

    @property
    def _data(self) -> dict[str, Any]:
        if not hasattr(self, "_data_cache"):
            self._data_cache = run_params(self.response)
        return self._data_cache

    @field
    def listing_id(self) -> str:
        common = _module(self._data, "commonModule")
        feedback = _module(self._data, "actionModule")
        value = common.get("productId") or feedback.get("productId")
        if not value:
            for url in (
                str(self.response.url),
                self.css("link[rel=canonical]::attr(href)").get(),
                meta_content(self.response, "og:url"),
            ):
                m = _ITEM_PATH.search(url or "")
                if m:
                    value = m.group(1)
                    break
        if not value:
            raise ExtractionError("aliexpress", str(self.response.url), "item page without a product id")
        return str(value)

    @field
    def url(self) -> str:
        return str(self.response.url)

    @field
    def title(self) -> str:
        value = (
            clean_text(_module(self._data, "titleModule").get("subject"))
            or text_of(self.css("[data-pl=product-title]"))
            or text_of(self.css("[itemprop=name] h1, h1.product-title-text"))
        )
        if not value:
            og = meta_content(self.response, "og:title")
            m = _OG_TITLE.match(og or "")
            value = clean_text(m.group(1)) if m else None
        if not value:
            raise ExtractionError("aliexpress", str(self.response.url), "item page without a title")
        return value

    @field
    def price_text(self) -> str | None:
        price = _module(self._data, "priceModule")
        return (
            clean_text(price.get("formatedActivityPrice"))
            or clean_text(price.get("formatedPrice"))
            or text_of(self.css(".product-price-current [itemprop=price], .product-price-value"))
            or text_of(self.css("[class*='price--current'], .uniform-banner-box-price"))
        )

    @field
    def seller_id(self) -> str | None:
        store = _module(self._data, "storeModule")
        value = store.get("storeNum") or store.get("sellerAdminSeq")
        if value:
            return str(value)
        href = self.css(".store-name a::attr(href), .shop-name a::attr(href)").get()
        m = re.search(r"/store/(\d+)", href or "")
        return m.group(1) if m else None

    @field
    def seller_name(self) -> str | None:
        return (
            clean_text(_module(self._data, "storeModule").get("storeName"))
            or text_of(self.css(".store-name a, [data-pl=store-name]"))
        )

    @field
    def shop_url(self) -> str | None:
        href = _module(self._data, "storeModule").get("storeURL") or self.css(
            ".store-name a::attr(href), .shop-name a::attr(href)"
        ).get()
        return abs_url(self.response, href)

    @field
    def image_urls(self) -> list[str]:
        paths = _module(self._data, "imageModule").get("imagePathList")
        urls = list(paths) if isinstance(paths, list) else []
        urls.append(meta_content(self.response, "og:image"))
        return unique([abs_url(self.response, u) for u in urls if isinstance(u, str) or u is None])

    @field
    def page_kind(self) -> str:
        return "item"


class AliexpressSearchPage(UnsupportedPage):
    """AliExpress search results are client-rendered; not extracted yet."""


class AliexpressBlockedPage(RealBlockedPage):
    """The slider captcha ("punish" page) or the login page."""

    captcha_markers = CAPTCHA_MARKERS
    login_markers = LOGIN_MARKERS
    captcha_url_parts = CAPTCHA_URL_PARTS
    login_hosts = LOGIN_HOSTS


class AliexpressRemovedPage(RealRemovedPage):
    """An item page that says the item is no longer available."""

    id_pattern = _ITEM_PATH


class AliexpressShopPage(UnsupportedPage):
    """AliExpress stores are not extracted yet."""


PAGES = MarketplacePages(
    name="aliexpress",
    language="en",
    classify=classify,
    search_page=AliexpressSearchPage,
    listing_page=AliexpressListingPage,
    shop_page=AliexpressShopPage,
    removed_page=AliexpressRemovedPage,
    blocked_page=AliexpressBlockedPage,
    search_url=lambda base, kw, i: f"{base or BASE_URL}/wholesale?SearchText={quote_plus(kw)}&page={i + 1}",
    shop_url=lambda base, seller_id: f"{base or BASE_URL}/store/{quote(seller_id, safe='')}",
    listing_url=lambda base, listing_id: f"{base or BASE_URL}/item/{quote(listing_id, safe='')}.html",
    currency=None,
)
