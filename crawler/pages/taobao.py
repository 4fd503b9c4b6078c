"""Page objects of Taobao (淘宝, taobao.com): search results, item pages and the block pages.

Search results (``s.taobao.com/search``) carry their listings twice: in the ``g_page_config``
JSON assignment the page's own scripts render from (``mods.itemlist.data.auctions``, with
``nid``, ``raw_title``, ``view_price``, ``nick``, ``user_id``, ``pager``), and in the rendered DOM
(a browser-rendered or saved page). The JSON is read first; without it, the DOM is read by its
stable attributes (``data-category="auctions"``, ``data-nid``, ``trace-price``, ``data-userid``,
``J_Itemlist_*`` ids) or, on the newer React layout, by the module prefixes of its hashed classes
(``Card--doubleCard…``, ``Title--title…``, ``Price--priceInt…``, ``ShopInfo--shopName…``), with
the item links (``item.htm?id=``) as the last resort. A bare client-rendered shell reports
``needs_browser``; anything else that shows no results and does not say so is an
:class:`~crawler.exceptions.ExtractionError`, never an empty success.

Item pages (``item.taobao.com/item.htm?id=``) are read from ``g_config`` (``itemId``, ``shopId``,
``shopName``, ``sellerId``, ``idata.item.title``) and stable ids (``#J_Title [data-title]``,
``#J_StrPrice``, ``[data-item-id]``); the price is often filled in by a script after load, in
which case it is ``None``. The login wall (``login.taobao.com``, ``#J_LoginBox``) and the slider
captcha ("punish" page, ``#nc_1_n1z``) are ``blocked``.

Values are kept as shown (``"¥2288.00"``, ``"51601人付款"``); URLs are absolute, protocol-relative
ones made https. No settings affect this module.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from parsel import Selector, SelectorList
from web_poet import HttpResponse, WebPage, field

from crawler.exceptions import ExtractionError
from crawler.items import ListingItem, PageKind, SearchResults
from crawler.pages.base import MarketplacePages, clean_text
from crawler.pages.common import (
    RealBlockedPage,
    RealRemovedPage,
    UnsupportedPage,
    abs_url,
    as_dict,
    has_any,
    host_of,
    js_string_field,
    json_after,
    meta_content,
    query_param,
    text_of,
    unique,
)

SEARCH_PAGE_SIZE = 44
BASE_URL = "https://s.taobao.com"

# Element ids of Taobao's (and Alibaba's shared) login form and slider captcha: our markers are
# ids and hosts, never phrases, because listing text is seller-controlled.
LOGIN_HOSTS = ("login.taobao.com", "login.tmall.com", "login.m.taobao.com")
LOGIN_MARKERS = ("#J_LoginBox", "#login-form", "input[name=TPL_password]", "input#fm-login-password")
CAPTCHA_MARKERS = ("#nc_1_n1z", "#nocaptcha", "#baxia-punish", "#J_PunishNotice")
CAPTCHA_URL_PARTS = ("/_____tmd_____/punish", "sec.taobao.com/query.htm")

_PAGE_CONFIG = re.compile(r"\bg_page_config\s*=")
_ITEM_LINK = re.compile(r"(?:item\.taobao\.com|detail\.tmall\.(?:com|hk)|item\.tmall\.com)/item\.htm\?(?:[^\"'\s]*&)?id=(\d+)")
_TAGS = re.compile(r"<[^>]+>")
_THUMB = re.compile(r"(?:_\d+x\d+(?:q\d+)?\.(?:jpg|png|webp)|_\.webp)+$")


def _is_blocked(response: HttpResponse) -> bool:
    url = str(response.url)
    host = host_of(url)
    if host in LOGIN_HOSTS or any(p in url for p in CAPTCHA_URL_PARTS):
        return True
    return has_any(response, LOGIN_MARKERS) or has_any(response, CAPTCHA_MARKERS)


def page_config(response: HttpResponse) -> dict[str, Any] | None:
    """The ``g_page_config`` object of a search page, or ``None``."""
    value = json_after(response.text, _PAGE_CONFIG)
    return value if isinstance(value, dict) else None


def _auctions(config: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """The result list of ``g_page_config``; ``None`` when the page has no item-list module."""
    if not config:
        return None
    itemlist = (config.get("mods") or {}).get("itemlist") or {}
    data = itemlist.get("data")
    if not isinstance(data, dict):
        return None
    auctions = data.get("auctions")
    return [a for a in auctions if isinstance(a, dict)] if isinstance(auctions, list) else None


def _says_no_results(response: HttpResponse, config: dict[str, Any] | None) -> bool:
    if config:
        noresult = (config.get("mods") or {}).get("noresult") or {}
        if noresult.get("status") == "show":
            return True
    return bool(response.css("#mainsrp-noresult, .m-noresult, [class*='NoResult--']"))


def _js_shell(response: HttpResponse) -> bool:
    """A client-rendered search page whose HTML holds no results (needs the browser)."""
    return bool(response.css("#root, #ice-container, #mainsrp-itemlist")) and not _dom_cards(response)


def _dom_cards(response: HttpResponse) -> SelectorList[Selector]:
    old = response.css("#mainsrp-itemlist [data-category='auctions']")
    if old:
        return old
    new = response.css("[class*='Card--doubleCard'], [class*='Card--mainPicAndDesc']")
    if new:
        # The wrapper and its inner block both match: keep the outermost.
        return SelectorList([c for c in new if not c.xpath("ancestor::*[contains(@class,'Card--doubleCard')]")])
    return SelectorList([])


def _looks_like_search(response: HttpResponse) -> bool:
    parts = urlsplit(str(response.url))
    return host_of(str(response.url)) == "s.taobao.com" and parts.path.startswith("/search")


def _looks_like_item(response: HttpResponse) -> bool:
    if response.css("#J_Title, #J_DetailMeta, #detail [data-item-id]"):
        return True
    text = response.text
    return "g_config" in text and bool(re.search(r"\bidata\s*:\s*\{\s*item\s*:", text))


def classify(response: HttpResponse) -> PageKind:
    """What a Taobao page is, judged by its content (a login wall at a search URL is "blocked")."""
    if _is_blocked(response):
        return "blocked"
    if _auctions(page_config(response)) is not None or _dom_cards(response):
        return "search"
    if _looks_like_item(response):
        return "item"
    if _looks_like_search(response) and _js_shell(response):
        return "search"
    return "unknown"


def says_no_results(response: HttpResponse) -> bool:
    """Whether a search page explicitly says the query found nothing."""
    return _says_no_results(response, page_config(response))


def canonical_item_url(listing_id: str, tmall: bool = False) -> str:
    host = "detail.tmall.com" if tmall else "item.taobao.com"
    return f"https://{host}/item.htm?id={listing_id}"


def _listing_url(response: HttpResponse, href: str | None, listing_id: str, tmall: bool) -> str:
    """The item's own URL; sponsored cards link through an ad redirect, so rebuild theirs."""
    url = abs_url(response, href)
    if url and _ITEM_LINK.search(url) and _ITEM_LINK.search(url).group(1) == listing_id:  # type: ignore[union-attr]
        return url
    return canonical_item_url(listing_id, tmall)


def _strip_tags(value: str | None) -> str | None:
    return clean_text(html.unescape(_TAGS.sub("", value))) if value else None


def _yuan(value: Any) -> str | None:
    value = clean_text(str(value)) if value not in (None, "") else None
    if not value:
        return None
    return value if value[0] in "¥￥" else f"¥{value}"


def _shop_url(response: HttpResponse, href: str | None, user_id: Any) -> str | None:
    """The shop's own URL; sponsored cards link through an ad redirect, so rebuild theirs."""
    url = abs_url(response, href)
    if url and not host_of(url).startswith("click."):
        return url
    return f"https://store.taobao.com/shop/view_shop.htm?user_number_id={user_id}" if user_id else None


def full_image(url: str | None) -> str | None:
    """An alicdn image URL without its thumbnail suffix (``_50x50.jpg``, ``_.webp``)."""
    if not url:
        return None
    return _THUMB.sub("", url)


def _json_card(response: HttpResponse, a: dict[str, Any]) -> ListingItem | None:
    listing_id = str(a.get("nid") or "").strip()
    title = clean_text(a.get("raw_title")) or _strip_tags(a.get("title"))
    if not listing_id or not title:
        return None
    shopcard = as_dict(a.get("shopcard"))
    tmall = bool(shopcard.get("isTmall")) or "tmall." in str(a.get("detail_url") or "")
    pic = abs_url(response, a.get("pic_url"))
    return ListingItem(
        listing_id=listing_id,
        url=_listing_url(response, a.get("detail_url"), listing_id, tmall),
        title=title,
        price_text=_yuan(a.get("view_price")),
        seller_id=clean_text(str(a.get("user_id") or "")) or None,
        seller_name=clean_text(a.get("nick")),
        shop_url=_shop_url(response, a.get("shopLink"), a.get("user_id")),
        sales_text=clean_text(a.get("view_sales")),
        location=clean_text(a.get("item_loc")),
        image_urls=[pic] if pic else [],
        page_kind="card",
    )


def _dom_card(response: HttpResponse, card: Selector) -> ListingItem | None:
    links = [h for h in card.css("a::attr(href), a::attr(data-href)").getall() if _ITEM_LINK.search(abs_url(response, h) or "")]
    nid = card.css("[data-nid]::attr(data-nid)").get() or card.attrib.get("data-nid")
    if not nid and links:
        nid = _ITEM_LINK.search(abs_url(response, links[0]) or "").group(1)  # type: ignore[union-attr]
    if not nid and card.attrib.get("href"):
        m = _ITEM_LINK.search(abs_url(response, card.attrib["href"]) or "")
        nid = m.group(1) if m else None
    if not nid:
        return None
    title_node = card.css(f"#J_Itemlist_TLink_{nid}")
    title = (
        text_of(title_node)
        or text_of(card.css("[class*='Title--title']"))
        or clean_text(card.css("img::attr(alt)").get())
    )
    if not title:
        return None
    price = card.css("[trace-price]::attr(trace-price)").get()
    price_text = _yuan(price) if price else None
    if not price_text:
        shown = text_of(card.css("[class*='Price--priceWrapper'], [class*='price']"))
        price_text = _yuan(re.sub(r"\s+", "", shown)) if shown else None
    shop = card.css("[data-userid]") or card.css(
        "a[href*='user_number_id='], a[href*='store.taobao.com'], a[href*='.taobao.com/shop']"
    )
    shop_name = text_of(shop) or text_of(card.css("[class*='ShopInfo--shopName']"))
    shop_id = (shop.attrib.get("data-userid") or query_param(abs_url(response, shop.attrib.get("href")), "user_number_id")) if shop else None
    img = card.css("img::attr(data-src)").get() or card.css("img::attr(src)").get()
    href = links[0] if links else card.attrib.get("href")
    tmall = "tmall." in (href or "")
    pic = abs_url(response, img)
    return ListingItem(
        listing_id=nid,
        url=_listing_url(response, href, nid, tmall),
        title=title,
        price_text=price_text,
        seller_id=shop_id or None,
        seller_name=shop_name,
        shop_url=abs_url(response, shop.attrib.get("href")) if shop else None,
        sales_text=text_of(card.css(".deal-cnt, [class*='realSales']")),
        location=text_of(card.css(".location, [class*='procity']")),
        image_urls=[pic] if pic else [],
        page_kind="card",
    )


def _with_offset(url: str, offset: int) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("s", "bcoffset", "p4ppushleft", "ntoffset")]
    query.append(("s", str(offset)))
    return urlunsplit((parts.scheme or "https", parts.netloc, parts.path, urlencode(query), ""))


class TaobaoSearchPage(WebPage[SearchResults]):
    """A page of search results (``s.taobao.com/search?q=&s=``)."""

    @property
    def _config(self) -> dict[str, Any] | None:
        if not hasattr(self, "_config_cache"):
            self._config_cache = page_config(self.response)
        return self._config_cache

    @field
    def listings(self) -> list[ListingItem]:
        auctions = _auctions(self._config)
        if auctions is not None:
            cards = [_json_card(self.response, a) for a in auctions]
        else:
            cards = [_dom_card(self.response, c) for c in _dom_cards(self.response)]
        items = [c for c in cards if c is not None]
        if not items and not _says_no_results(self.response, self._config) and not _js_shell(self.response):
            raise ExtractionError("taobao", str(self.response.url), "no search results found and the page does not say there are none")
        return items

    @field
    def next_page_url(self) -> str | None:
        pager = ((self._config or {}).get("mods") or {}).get("pager") or {}
        data = pager.get("data") if isinstance(pager.get("data"), dict) else None
        if data:
            try:
                current, total = int(data["currentPage"]), int(data["totalPage"])
                size = int(data.get("pageSize") or SEARCH_PAGE_SIZE)
            except (KeyError, TypeError, ValueError):
                return None
            if current >= total:
                return None
            base = ((self._config or {}).get("mainInfo") or {}).get("currentUrl") or str(self.response.url)
            return _with_offset(abs_url(self.response, base) or str(self.response.url), current * size)
        # Rendered DOM: the "next" pager item carries its offset in data-value.
        nxt = self.css("#mainsrp-pager li.next a[data-value]::attr(data-value), #mainsrp-pager a[trace='srp_bottom_pagedown']::attr(data-value)").get()
        if nxt and nxt.isdigit():
            return _with_offset(str(self.response.url), int(nxt))
        return None

    @field
    def total_text(self) -> str | None:
        pager = ((self._config or {}).get("mods") or {}).get("pager") or {}
        data = pager.get("data") if isinstance(pager.get("data"), dict) else {}
        total = data.get("totalCount") if data else None
        return str(total) if total is not None else None

    @field
    def needs_browser(self) -> bool:
        return _auctions(self._config) is None and _js_shell(self.response)


class TaobaoListingPage(WebPage[ListingItem]):
    """An item page (``item.taobao.com/item.htm?id=``)."""

    @property
    def _g_config(self) -> tuple[str, int, int]:
        text = self.response.text
        start = text.find("g_config")
        if start < 0:
            return text, 0, 0
        return text, start, min(len(text), start + 20000)

    def _cfg(self, key: str) -> str | None:
        text, start, end = self._g_config
        return js_string_field(text, key, start, end) if end else None

    @field
    def listing_id(self) -> str:
        value = (
            self._cfg("itemId")
            or self.css("[data-item-id]::attr(data-item-id)").get()
            or query_param(str(self.response.url), "id")
            or query_param(self.css("link[rel=canonical]::attr(href)").get(), "id")
        )
        if not value:
            raise ExtractionError("taobao", str(self.response.url), "item page without an item id")
        return value

    @field
    def url(self) -> str:
        return str(self.response.url)

    @field
    def title(self) -> str:
        text, start, end = self._g_config
        idata = text.find("idata", start, end) if end else -1
        value = (
            clean_text(self.css("#J_Title [data-title]::attr(data-title)").get())
            or text_of(self.css("#J_Title h3, #J_Title h1"))
            or (js_string_field(text, "title", idata, end) if idata >= 0 else None)
            or meta_content(self.response, "og:title")
        )
        if not value:
            shown = text_of(self.css("title"))
            value = re.sub(r"\s*-\s*淘宝网\s*$", "", shown) if shown else None
        if not value:
            raise ExtractionError("taobao", str(self.response.url), "item page without a title")
        return value

    @field
    def price_text(self) -> str | None:
        shown = text_of(self.css("#J_PromoPriceNum")) or text_of(self.css("#J_StrPrice"))
        if shown:
            return _yuan(shown.replace("¥ ", "¥"))
        return _yuan(self._cfg("price"))

    @field
    def seller_id(self) -> str | None:
        return self._cfg("sellerId") or self.css("#J_Pine::attr(data-sellerid)").get()

    @field
    def seller_name(self) -> str | None:
        return self._cfg("shopName") or text_of(self.css("#J_ShopInfo .tb-shop-name a")) or self._cfg("sellerNick")

    @field
    def shop_url(self) -> str | None:
        href = self.css("#J_ShopInfo .tb-shop-name a::attr(href)").get()
        if href:
            return abs_url(self.response, href)
        shop_id = self._cfg("shopId")
        return f"https://shop{shop_id}.taobao.com" if shop_id else None

    @field
    def location(self) -> str | None:
        return text_of(self.css("#J-From"))

    @field
    def image_urls(self) -> list[str]:
        srcs = self.css("#J_UlThumb img::attr(data-src), #J_UlThumb img::attr(src)").getall()
        pic = self._cfg("pic")
        return unique([full_image(abs_url(self.response, s)) for s in [pic, *srcs]])

    @field
    def page_kind(self) -> str:
        return "item"


class TaobaoBlockedPage(RealBlockedPage):
    """The login wall (``login.taobao.com``) or the slider-captcha "punish" page."""

    captcha_markers = CAPTCHA_MARKERS
    login_markers = LOGIN_MARKERS
    captcha_url_parts = CAPTCHA_URL_PARTS
    login_hosts = LOGIN_HOSTS


class TaobaoRemovedPage(RealRemovedPage):
    """An item page that says the item is gone."""


class TaobaoShopPage(UnsupportedPage):
    """Taobao storefronts are not extracted yet."""


PAGES = MarketplacePages(
    name="taobao",
    language="zh",
    classify=classify,
    search_page=TaobaoSearchPage,
    listing_page=TaobaoListingPage,
    shop_page=TaobaoShopPage,
    removed_page=TaobaoRemovedPage,
    blocked_page=TaobaoBlockedPage,
    search_url=lambda base, kw, i: f"{base or BASE_URL}/search?q={quote(kw)}&s={SEARCH_PAGE_SIZE * i}",
    shop_url=lambda base, seller_id: f"https://store.taobao.com/shop/view_shop.htm?user_number_id={quote(seller_id, safe='')}",
    listing_url=lambda base, listing_id: canonical_item_url(quote(listing_id, safe="")),
    currency="CNY",
)
