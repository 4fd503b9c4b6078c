"""Page objects of Tmall (天猫, tmall.com): item pages and the block pages.

Tmall item pages (``detail.tmall.com/item.htm?id=``) are usually served in GBK; the response's
declared encoding decodes them (``crawler.pages.detect.decode_html`` for saved pages). The page
hands its data to ``TShop.Setup({...})``: ``itemDO`` (``itemId``, ``title``, ``userId`` = the
seller, ``sellerNickName`` URL-encoded, ``reservePrice``), ``rstShopId``, ``propertyPics``. That
object is read first; the DOM (``#J_StrPriceModBox``, ``.slogo-shopname``, ``#J_UlThumb``) fills in
what it lacks. The shown price range (``"5499.00-6799.00"``) is often filled in by a script; when
the HTML has none, the price is ``None``. Tmall shares Taobao's login and slider-captcha pages.

Tmall search results are served by Taobao's search (``crawler.pages.taobao``). No settings
affect this module.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from web_poet import HttpResponse, WebPage, field

from crawler.exceptions import ExtractionError
from crawler.items import ListingItem, PageKind
from crawler.pages import taobao
from crawler.pages.base import MarketplacePages, clean_text
from crawler.pages.common import (
    RealBlockedPage,
    RealRemovedPage,
    UnsupportedPage,
    abs_url,
    as_dict,
    json_after,
    meta_content,
    query_param,
    text_of,
    unique,
    url_unquote,
)

BASE_URL = "https://detail.tmall.com"
_SETUP = re.compile(r"\bTShop\.Setup\s*\(")


def setup_data(response: HttpResponse) -> dict[str, Any] | None:
    value = json_after(response.text, _SETUP)
    return value if isinstance(value, dict) else None


def classify(response: HttpResponse) -> PageKind:
    """What a Tmall page is, judged by its content."""
    if taobao._is_blocked(response):
        return "blocked"
    data = setup_data(response)
    if (data and isinstance(data.get("itemDO"), dict)) or response.css("#J_DetailMeta, .tb-detail-hd h1"):
        return "item"
    if taobao.page_config(response) is not None:
        return "search"
    return "unknown"


def _yuan(value: str | None) -> str | None:
    value = clean_text(value)
    if not value:
        return None
    # Saved pages sometimes lose the "¥" glyph of <em class="tm-yen"> ("?"); the element says yen.
    value = re.sub(r"^[?？\s]+", "", value)
    return value if value[:1] in ("¥", "￥") else f"¥{value}"


class TmallListingPage(WebPage[ListingItem]):
    """An item page (``detail.tmall.com/item.htm?id=``)."""

    @property
    def _data(self) -> dict[str, Any]:
        if not hasattr(self, "_data_cache"):
            self._data_cache = setup_data(self.response) or {}
        return self._data_cache

    @property
    def _item(self) -> dict[str, Any]:
        item = self._data.get("itemDO")
        return item if isinstance(item, dict) else {}

    @field
    def listing_id(self) -> str:
        value = (
            clean_text(str(self._item.get("itemId") or ""))
            or query_param(str(self.response.url), "id")
            or query_param(self.css("link[rel=canonical]::attr(href)").get(), "id")
        )
        if not value:
            raise ExtractionError("tmall", str(self.response.url), "item page without an item id")
        return value

    @field
    def url(self) -> str:
        return str(self.response.url)

    @field
    def title(self) -> str:
        value = (
            clean_text(self._item.get("title"))
            or text_of(self.css(".tb-detail-hd h1"))
            or meta_content(self.response, "og:title")
        )
        if not value:
            shown = text_of(self.css("title"))
            value = re.sub(r"\s*-\s*tmall\.com天猫\s*$", "", shown) if shown else None
        if not value:
            raise ExtractionError("tmall", str(self.response.url), "item page without a title")
        return value

    @field
    def price_text(self) -> str | None:
        shown = text_of(self.css("#J_PromoPrice .tm-price")) or text_of(self.css("#J_StrPriceModBox .tm-price"))
        if not shown:
            shown = text_of(self.css("#J_StrPriceModBox dd"))
        if not shown:
            detail = as_dict(self._data.get("detail"))
            shown = clean_text(str(detail.get("defaultItemPrice") or "")) or None
        return _yuan(shown)

    @field
    def seller_id(self) -> str | None:
        rate = as_dict(self._data.get("rateConfig"))
        value = self._item.get("userId") or rate.get("sellerId")
        return clean_text(str(value)) if value else None

    @field
    def seller_name(self) -> str | None:
        return (
            text_of(self.css(".slogo-shopname"))
            or url_unquote(self._item.get("sellerNickName"))
            or text_of(self.css("#shopExtra .slogo a"))
        )

    @field
    def shop_url(self) -> str | None:
        href = self.css(".slogo-shopname::attr(href)").get()
        if href:
            return abs_url(self.response, href)
        shop_id = self._data.get("rstShopId")
        return f"https://shop{shop_id}.taobao.com" if shop_id else None

    @field
    def location(self) -> str | None:
        return clean_text(self._item.get("prov"))

    @field
    def image_urls(self) -> list[str]:
        pics = as_dict(self._data.get("propertyPics"))
        default = pics.get("default")
        default = [u for u in default if isinstance(u, str)] if isinstance(default, list) else []
        thumbs = self.css("#J_UlThumb img::attr(src)").getall()
        return unique([taobao.full_image(abs_url(self.response, s)) for s in [*default, *thumbs]])

    @field
    def page_kind(self) -> str:
        return "item"


class TmallBlockedPage(RealBlockedPage):
    """Taobao's login wall or slider captcha served for a Tmall URL."""

    captcha_markers = taobao.CAPTCHA_MARKERS
    login_markers = taobao.LOGIN_MARKERS
    captcha_url_parts = taobao.CAPTCHA_URL_PARTS
    login_hosts = taobao.LOGIN_HOSTS


class TmallRemovedPage(RealRemovedPage):
    """An item page that says the item is gone."""


class TmallShopPage(UnsupportedPage):
    """Tmall storefronts are not extracted yet."""


PAGES = MarketplacePages(
    name="tmall",
    language="zh",
    classify=classify,
    search_page=taobao.TaobaoSearchPage,
    listing_page=TmallListingPage,
    shop_page=TmallShopPage,
    removed_page=TmallRemovedPage,
    blocked_page=TmallBlockedPage,
    search_url=lambda base, kw, i: (
        f"https://s.taobao.com/search?q={quote(kw)}&tab=mall&s={taobao.SEARCH_PAGE_SIZE * i}"
    ),
    shop_url=lambda base, seller_id: (
        f"https://store.taobao.com/shop/view_shop.htm?user_number_id={quote(seller_id, safe='')}"
    ),
    listing_url=lambda base, listing_id: taobao.canonical_item_url(quote(listing_id, safe=""), tmall=True),
    currency="CNY",
)
