"""Page objects of demomart, the Taobao-like demo marketplace (Chinese UI, prices in yuan).

What each page says, read from a ``web_poet.HttpResponse``: search results (server-rendered or,
for the JavaScript-only keywords, the DOM after the browser ran ``search.js``; the bare shell
reports ``needs_browser``), listing pages, shop pages with their publication-licence block,
the "宝贝不存在" page of a removed listing and the block pages (slider captcha, login wall).
Selectors prefer the site's ids and ``data-*`` attributes to its presentation classes.
Values are kept as shown (``"¥25.00"``, ``"123人付款"``); URLs are made absolute.

No settings affect this module.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

from parsel import Selector, SelectorList
from web_poet import HttpResponse, WebPage, field

from crawler.items import (
    BlockedPage,
    Licence,
    ListingItem,
    PageKind,
    RemovedListing,
    SearchResults,
    SellerItem,
    Storefront,
)
from crawler.pages.base import MarketplacePages, clean_text

SEARCH_PAGE_SIZE = 44

CAPTCHA_MARKERS = ("#nc_1_n1z", "#nocaptcha", "[data-block=captcha]")
LOGIN_MARKERS = ("#login-form", "input[name=TPL_password]", "[data-block=login]")
REMOVED_TEXT = "很抱歉，您查看的宝贝不存在"


def _text(node: Selector | SelectorList[Selector] | None) -> str | None:
    """All text under ``node`` run together (the site splits "¥" and "25.00" into two tags)."""
    if node is None:
        return None
    return clean_text("".join(node.css("::text").getall()))


def _first(sel: Selector | SelectorList[Selector], query: str) -> str | None:
    return clean_text(sel.css(query).get())


def _abs(response: HttpResponse, href: str | None) -> str | None:
    if not href:
        return None
    return str(response.urljoin(href.strip()))


def _query_param(url: str, name: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


def _has_any(sel: HttpResponse | Selector, queries: tuple[str, ...]) -> bool:
    return any(sel.css(q) for q in queries)


def classify(response: HttpResponse) -> PageKind:
    """What a demomart page is, judged by its content (a captcha at a search URL is "blocked")."""
    if _has_any(response, CAPTCHA_MARKERS) or _has_any(response, LOGIN_MARKERS):
        return "blocked"
    if response.css("#J_ErrorNotice") or REMOVED_TEXT in response.text:
        return "removed"
    if response.status == 404:
        return "unknown"
    if response.css("#J_DetailMeta"):
        return "item"
    if response.css("#shop-info"):
        return "shop"
    if response.css("#mainsrp-itemlist"):
        return "search"
    return "unknown"


def _search_card(response: HttpResponse, card: Selector) -> ListingItem:
    title = card.css("a[data-role=title]")
    shop = card.css("a[data-role=shop]")
    thumb = card.css("img.J_ItemPic::attr(src)").get()
    return ListingItem(
        listing_id=card.attrib.get("data-nid", ""),
        url=_abs(response, title.attrib.get("href")) or "",
        title=_text(title) or "",
        price_text=_text(card.css("[data-role=price]")),
        seller_id=shop.attrib.get("data-userid") or None,
        seller_name=_text(shop),
        shop_url=_abs(response, shop.attrib.get("href")),
        sales_text=_text(card.css("[data-role=sales]")),
        location=_text(card.css("[data-role=location]")),
        image_urls=[u for u in [_abs(response, thumb)] if u],
        page_kind="card",
    )


class DemomartSearchPage(WebPage[SearchResults]):
    """A page of search results (``/search?q=&s=``)."""

    def _cards(self) -> SelectorList[Selector]:
        return self.css("#mainsrp-itemlist #J_ItemList div.item[data-nid]")

    @field
    def listings(self) -> list[ListingItem]:
        return [_search_card(self.response, card) for card in self._cards()]

    @field
    def next_page_url(self) -> str | None:
        return _abs(self.response, self.css("#J_Pager a[data-role=next]::attr(href)").get())

    @field
    def total_text(self) -> str | None:
        return _text(self.css("#J_TotalCount"))

    @field
    def needs_browser(self) -> bool:
        shell = self.css("#mainsrp-itemlist[data-render=js]")
        return bool(shell) and not self._cards()


class DemomartListingPage(WebPage[ListingItem]):
    """A listing page (``/item.htm?id=``) of an active listing."""

    @property
    def _meta(self) -> SelectorList[Selector]:
        return self.css("#J_DetailMeta")

    @field
    def listing_id(self) -> str:
        return (
            self._meta.attrib.get("data-item-id")
            or _query_param(str(self.response.url), "id")
            or ""
        )

    @field
    def url(self) -> str:
        return str(self.response.url)

    @field
    def title(self) -> str:
        return _text(self.css("#J_Title")) or ""

    @field
    def price_text(self) -> str | None:
        return _text(self.css("#J_StrPrice"))

    @field
    def seller_id(self) -> str | None:
        return self._meta.attrib.get("data-seller-id") or None

    @field
    def seller_name(self) -> str | None:
        return _text(self.css("#J_ShopInfo a[data-role=nick]"))

    @field
    def shop_url(self) -> str | None:
        return _abs(self.response, self.css("#J_ShopInfo a[data-role=shop]::attr(href)").get())

    @field
    def sales_text(self) -> str | None:
        return _text(self.css("#J_SellCounter"))

    @field
    def location(self) -> str | None:
        return _text(self.css("#J-From"))

    @field
    def image_urls(self) -> list[str]:
        srcs = self.css("#J_UlThumb img[data-role=gallery]::attr(data-src)").getall()
        return [u for u in (_abs(self.response, s) for s in srcs) if u]

    @field
    def description(self) -> str | None:
        return _text(self.css("#J_DivItemDesc"))

    @field
    def page_kind(self) -> str:
        return "item"


class DemomartShopPage(WebPage[Storefront]):
    """A page of a shop (``/shop/<seller_id>?page=N``): profile, licence block, listing index."""

    @property
    def _info(self) -> SelectorList[Selector]:
        return self.css("#shop-info")

    def _seller_id(self) -> str:
        sid = self._info.attrib.get("data-seller-id")
        if sid:
            return sid
        path = urlsplit(str(self.response.url)).path
        return path.rstrip("/").rsplit("/", 1)[-1]

    def _shop_url(self) -> str | None:
        return _abs(self.response, self._info.css("a[data-role=shop-name]::attr(href)").get())

    def _licence(self) -> Licence | None:
        block = self.css("#J_ShopLicence")
        if not block:
            return None
        return Licence(
            number=_text(block.css("[data-licence=number]")),
            holder=_text(block.css("[data-licence=holder]")),
            authority=_text(block.css("[data-licence=authority]")),
            valid_from=_text(block.css("[data-licence=valid_from]")),
            valid_to=_text(block.css("[data-licence=valid_to]")),
            raw_text=_text(block),
        )

    @field
    def seller(self) -> SellerItem:
        info = self._info
        licence = self._licence()
        return SellerItem(
            seller_id=self._seller_id(),
            name=_text(info.css("[data-role=nick]")),
            shop_url=self._shop_url(),
            shop_name=_text(info.css("[data-role=shop-name]")),
            location=_text(info.css("[data-role=location]")),
            rating_text=_text(info.css("[data-role=rating]")),
            opened_text=_text(info.css("[data-role=opened]")),
            licence=licence,
            has_licence_block=licence is not None,
        )

    @field
    def listings(self) -> list[ListingItem]:
        seller_id = self._seller_id()
        nick = _text(self._info.css("[data-role=nick]"))
        shop_url = self._shop_url()
        items = []
        for card in self.css("#J_ShopItems dl.item[data-id]"):
            title = card.css("a[data-role=title]")
            thumb = _abs(self.response, card.css("dt.photo img::attr(src)").get())
            items.append(
                ListingItem(
                    listing_id=card.attrib.get("data-id", ""),
                    url=_abs(self.response, title.attrib.get("href")) or "",
                    title=_text(title) or "",
                    price_text=_text(card.css("[data-role=price]")),
                    seller_id=seller_id,
                    seller_name=nick,
                    shop_url=shop_url,
                    sales_text=_text(card.css("[data-role=sales]")),
                    location=_text(card.css("[data-role=location]")),
                    image_urls=[thumb] if thumb else [],
                    page_kind="card",
                )
            )
        return items

    @field
    def next_page_url(self) -> str | None:
        return _abs(self.response, self.css("#J_ShopPager a[data-role=next]::attr(href)").get())


class DemomartRemovedPage(WebPage[RemovedListing]):
    """The page a removed listing's URL answers with (HTTP 200, "宝贝不存在")."""

    @field
    def listing_id(self) -> str | None:
        return self.css("#J_ErrorNotice::attr(data-item-id)").get() or _query_param(
            str(self.response.url), "id"
        )

    @field
    def url(self) -> str:
        return str(self.response.url)

    @field
    def message(self) -> str | None:
        return _text(self.css("#J_ErrorNotice .error-notice-hd"))


class DemomartBlockedPage(WebPage[BlockedPage]):
    """The slider captcha (Taobao's punish page) or the login wall served instead of a page."""

    @field
    def url(self) -> str:
        return str(self.response.url)

    @field
    def reason(self) -> str:
        if _has_any(self.response, CAPTCHA_MARKERS):
            return "captcha"
        if _has_any(self.response, LOGIN_MARKERS):
            return "login"
        return "rate_limit"

    @field
    def message(self) -> str | None:
        if _has_any(self.response, CAPTCHA_MARKERS):
            return _text(self.css("#J_PunishNotice p")) or _text(self.css("title"))
        return _text(self.css(".login-title")) or _text(self.css("title"))


PAGES = MarketplacePages(
    name="demomart",
    language="zh",
    classify=classify,
    search_page=DemomartSearchPage,
    listing_page=DemomartListingPage,
    shop_page=DemomartShopPage,
    removed_page=DemomartRemovedPage,
    blocked_page=DemomartBlockedPage,
    search_url=lambda base, kw, i: f"{base}/search?q={quote(kw)}&s={SEARCH_PAGE_SIZE * i}",
    shop_url=lambda base, seller_id: f"{base}/shop/{quote(seller_id, safe='')}",
    listing_url=lambda base, listing_id: f"{base}/item.htm?id={quote(listing_id, safe='')}",
)
