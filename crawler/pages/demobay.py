"""Page objects of demobay, the eBay-like demo marketplace (English UI, prices in US dollars).

What each page says, read from a ``web_poet.HttpResponse``: search results (``s-card`` result
cards), listing pages (the older eBay item layout: ``#itemTitle``, ``#prcIsum``, seller box),
store pages (seller card and a listing index), the "listing was ended" page and eBay's
"Pardon Our Interruption..." bot interstitial. Selectors prefer ids, ``data-*`` attributes and
the cards' BEM element classes (``s-card__price``) to presentation classes (``su-styled-text
bold``). Values are kept as shown (``"$9.99"``, ``"US $9.99"``, ``"1,234 sold"``); URLs are made
absolute and otherwise kept as the page shows them (tracking parameters included).

No settings affect this module.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote, urlsplit

from parsel import Selector, SelectorList
from web_poet import HttpResponse, WebPage, field

from crawler.items import (
    BlockedPage,
    ListingItem,
    PageKind,
    RemovedListing,
    SearchResults,
    SellerItem,
    Storefront,
)
from crawler.pages.base import MarketplacePages, clean_text

# Our own ids and attributes only: page text is seller-controlled and may quote these phrases.
BLOCK_MARKERS = ("#challenge-page", "[data-block-reason]")
_ITEM_PATH = re.compile(r"/itm/(?:[^/?#]+/)?(\d+)")


def _text(node: Selector | SelectorList[Selector] | None) -> str | None:
    """All text under ``node`` run together, whitespace collapsed."""
    if node is None:
        return None
    return clean_text("".join(node.css("::text").getall()))


def _abs(response: HttpResponse, href: str | None) -> str | None:
    if not href:
        return None
    return str(response.urljoin(href.strip()))


def _item_id_from_url(url: str) -> str | None:
    match = _ITEM_PATH.search(urlsplit(url).path)
    return match.group(1) if match else None


def _has_any(sel: HttpResponse, queries: tuple[str, ...]) -> bool:
    return any(sel.css(q) for q in queries)


def classify(response: HttpResponse) -> PageKind:
    """What a demobay page is, judged by its content (the interstitial at any URL is "blocked")."""
    if _has_any(response, BLOCK_MARKERS):
        return "blocked"
    if response.css("#vi-ended, #vi-ended-msg"):
        return "removed"
    if response.status == 404:
        return "unknown"
    if response.css("h1#itemTitle"):
        return "item"
    if response.css("#str-seller-card"):
        return "shop"
    if response.css(".srp-controls__count-heading") or response.css("ul.srp-results"):
        return "search"
    return "unknown"


def _card(response: HttpResponse, card: Selector) -> ListingItem:
    """A result card (``li.s-card[data-listingid]``), on a search page or a store page."""
    link = card.css(".su-card-container__header a.s-card__link")
    seller = card.css("[data-seller-id]")
    thumb = _abs(response, card.css("img.s-card__image::attr(src)").get())
    return ListingItem(
        listing_id=card.attrib.get("data-listingid", ""),
        url=_abs(response, link.attrib.get("href")) or "",
        title=_text(card.css(".s-card__title > span:first-child")) or "",
        price_text=_text(card.css(".s-card__price")),
        seller_id=seller.attrib.get("data-seller-id") or None,
        seller_name=_text(seller.css(".s-card__seller-name")),
        shop_url=_abs(response, seller.css("a::attr(href)").get()),
        sales_text=_text(card.css(".s-card__sold")),
        location=_text(card.css(".s-card__location")),
        image_urls=[thumb] if thumb else [],
        condition=_text(card.css(".s-card__condition")),
        page_kind="card",
    )


def _cards(response: HttpResponse, query: str) -> list[ListingItem]:
    return [_card(response, card) for card in response.css(query)]


class DemobaySearchPage(WebPage[SearchResults]):
    """A page of search results (``/sch/i.html?_nkw=&_pgn=``)."""

    @field
    def listings(self) -> list[ListingItem]:
        return _cards(self.response, "ul.srp-results > li.s-card[data-listingid]")

    @field
    def next_page_url(self) -> str | None:
        return _abs(self.response, self.css("nav.pagination a[rel=next]::attr(href)").get())

    @field
    def total_text(self) -> str | None:
        return _text(self.css(".srp-controls__count-heading"))

    @field
    def needs_browser(self) -> bool:
        return False  # eBay renders its result pages on the server


class DemobayListingPage(WebPage[ListingItem]):
    """A listing page (``/itm/<id>``) of an active listing."""

    @property
    def _panel(self) -> SelectorList[Selector]:
        return self.css("#CenterPanelDF")

    @property
    def _seller_box(self) -> SelectorList[Selector]:
        return self.css("#RightSummaryPanel .mbg[data-seller-id]")

    @field
    def listing_id(self) -> str:
        return (
            self._panel.attrib.get("data-listingid")
            or clean_text(self.css("#descItemNumber span::text").get())
            or _item_id_from_url(str(self.url))
            or ""
        )

    @field
    def url(self) -> str:
        return str(self.response.url)

    @field
    def title(self) -> str:
        # The hidden "Details about" span is a child; the title is the h1's own text.
        return clean_text("".join(self.css("h1#itemTitle::text").getall())) or ""

    @field
    def price_text(self) -> str | None:
        return _text(self.css("#prcIsum"))

    @field
    def seller_id(self) -> str | None:
        return self._seller_box.attrib.get("data-seller-id") or None

    @field
    def seller_name(self) -> str | None:
        return _text(self._seller_box.css(".mbg-nw"))

    @field
    def shop_url(self) -> str | None:
        return _abs(self.response, self._seller_box.css("a#mbgLink::attr(href)").get())

    @field
    def sales_text(self) -> str | None:
        return _text(self.css("#vi-sold-cnt"))

    @field
    def location(self) -> str | None:
        return _text(self.css("#itemLocation [itemprop=availableAtOrFrom]"))

    @field
    def image_urls(self) -> list[str]:
        srcs = self.css("#vi_main_img_fs img::attr(data-full)").getall()
        if not srcs:
            srcs = self.css("img#icImg::attr(src)").getall()
        urls = (_abs(self.response, s) for s in srcs)
        return list(dict.fromkeys(u for u in urls if u))

    @field
    def description(self) -> str | None:
        paragraphs = [_text(p) for p in self.css("#ds_div p")]
        return "\n".join(p for p in paragraphs if p) or _text(self.css("#ds_div"))

    @field
    def condition(self) -> str | None:
        return _text(self.css("#vi-itm-cond"))

    @field
    def page_kind(self) -> str:
        return "item"


class DemobayShopPage(WebPage[Storefront]):
    """A page of a seller's store (``/str/<seller_id>?_pgn=N``): seller card and listing index."""

    @property
    def _info(self) -> SelectorList[Selector]:
        return self.css("#str-seller-card")

    def _seller_id(self) -> str:
        sid = self._info.attrib.get("data-store-id")
        if sid:
            return sid
        path = urlsplit(str(self.url)).path
        return unquote(path.rstrip("/").rsplit("/", 1)[-1])

    @field
    def seller(self) -> SellerItem:
        info = self._info
        link = info.css("a.str-seller-card__seller-link")
        return SellerItem(
            seller_id=self._seller_id(),
            name=_text(link),
            shop_url=_abs(self.response, link.attrib.get("href")),
            shop_name=_text(info.css(".str-seller-card__store-name")),
            location=_text(info.css(".str-about__location")),
            rating_text=_text(info.css(".str-seller-card__feedback")),
            opened_text=_text(info.css(".str-about__since")),
            licence=None,
            has_licence_block=False,
        )

    @field
    def listings(self) -> list[ListingItem]:
        return _cards(self.response, "#str-items > li.s-card[data-listingid]")

    @field
    def next_page_url(self) -> str | None:
        return _abs(self.response, self.css("nav.pagination a[rel=next]::attr(href)").get())


class DemobayRemovedPage(WebPage[RemovedListing]):
    """The page an ended listing's URL answers with (HTTP 200, "This listing was ended ...")."""

    @field
    def listing_id(self) -> str | None:
        return self.css("#vi-ended::attr(data-listingid)").get() or _item_id_from_url(str(self.url))

    @field
    def url(self) -> str:
        return str(self.response.url)

    @field
    def message(self) -> str | None:
        return _text(self.css("#vi-ended-msg"))


class DemobayBlockedPage(WebPage[BlockedPage]):
    """eBay's "Pardon Our Interruption..." interstitial, served to clients it takes for bots."""

    @field
    def url(self) -> str:
        return str(self.response.url)

    @field
    def reason(self) -> str:
        return "rate_limit"

    @field
    def message(self) -> str | None:
        return _text(self.css("#challenge-reason")) or _text(self.css("title"))


PAGES = MarketplacePages(
    name="demobay",
    language="en",
    classify=classify,
    search_page=DemobaySearchPage,
    listing_page=DemobayListingPage,
    shop_page=DemobayShopPage,
    removed_page=DemobayRemovedPage,
    blocked_page=DemobayBlockedPage,
    search_url=lambda base, kw, i: f"{base}/sch/i.html?_nkw={quote_plus(kw)}&_pgn={i + 1}",
    shop_url=lambda base, seller_id: f"{base}/str/{quote(seller_id, safe='')}",
    listing_url=lambda base, listing_id: f"{base}/itm/{quote(listing_id, safe='')}",
)
