"""Page objects of eBay (ebay.com and its country sites): search results, item pages, blocks.

Search results (``/sch/i.html?_nkw=``): the current card layout is ``li.s-card[data-listingid]``
in ``ul.srp-results`` (title in the ``role="heading"`` element, price ``.s-card__price``), the
older one ``li.s-item`` (``.s-item__title``, ``.s-item__price``). Cards are keyed by their
``data-listingid`` (or the ``/itm/<id>`` of their link); recommendation carousels and eBay's
"Shop on eBay" placeholder cards are not listings. When the price classes are renamed, the first
text of the card that reads as a price (``$20.00``, ``IDR1,614,898.07``, ``EUR 12,50``) is used.
eBay shows prices in the viewer's currency, so the text is kept as shown, code included.

Item pages: the older layout (``h1#itemTitle``, ``#prcIsum``, ``#mbgLink``, schema.org
``itemprop`` microdata) and the current one (``.x-item-title``, ``.x-price-primary``,
``.x-sellercard-atf``) are both read; ids from ``#descItemNumber``, ``[data-itemid]`` or the URL.
The bot check ("Pardon Our Interruption…", ``/splashui/challenge``) and the sign-in page are
``blocked``.

No settings affect this module.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote, urlsplit

from parsel import Selector
from web_poet import HttpResponse, WebPage, field

from crawler.exceptions import ExtractionError
from crawler.items import ListingItem, PageKind, SearchResults
from crawler.pages.base import MarketplacePages, clean_text
from crawler.pages.common import (
    RealBlockedPage,
    RealRemovedPage,
    UnsupportedPage,
    abs_url,
    host_of,
    meta_content,
    text_of,
    unique,
)

BASE_URL = "https://www.ebay.com"
PLACEHOLDER_TITLES = {"shop on ebay"}
CAPTCHA_URL_PARTS = ("/splashui/challenge", "/splashui/captcha")
CAPTCHA_MARKERS = ("#captcha_loading", "form[action*='splashui']", "#px-captcha")
LOGIN_MARKERS = ("form#SignInForm", "input#userid[name=userid] ~ input#pass", "#signin-form")
INTERRUPTION_TITLES = ("pardon our interruption", "security measure")

_ITEM_PATH = re.compile(r"/itm/(?:[^/?#]+/)?(\d{9,})")
_PRICE = re.compile(
    r"^(?:[A-Z]{1,3}\s?)?(?:[$€£¥₹₩]|[A-Z]{3})?\s?\d[\d.,\s]*(?:\s+to\s+.+)?$"
)
_HIDDEN_SUFFIX = re.compile(r"\s*Opens in a new window or tab\s*$", re.IGNORECASE)


def _is_login(response: HttpResponse) -> bool:
    host = host_of(str(response.url))
    return host.startswith("signin.ebay.") or bool(response.css("form#SignInForm, #signin-form"))


def _is_blocked(response: HttpResponse) -> bool:
    url = str(response.url)
    if any(p in url for p in CAPTCHA_URL_PARTS) or _is_login(response):
        return True
    if any(response.css(q) for q in CAPTCHA_MARKERS):
        return True
    title = (text_of(response.css("title")) or "").lower()
    return any(title.startswith(t) for t in INTERRUPTION_TITLES)


def _item_id_from_url(url: str | None) -> str | None:
    if not url:
        return None
    match = _ITEM_PATH.search(urlsplit(url).path)
    return match.group(1) if match else None


def _clean_item_url(url: str | None, listing_id: str) -> str:
    """``https://host/itm/<id>``: the card links carry long tracking queries."""
    host = host_of(url) or "www.ebay.com"
    if not re.search(r"(?:^|\.)ebay\.[a-z.]+$", host):
        host = "www.ebay.com"
    elif host.count(".") == 1 or host.startswith("ebay."):
        host = "www." + host
    return f"https://{host}/itm/{listing_id}"


def _cards(response: HttpResponse) -> list[Selector]:
    cards = response.css("ul.srp-results > li[data-listingid], ul.srp-results > li.s-item")
    if not cards:
        cards = response.css("li.s-card[data-listingid], li.s-item")
    if not cards:
        cards = response.css("li[data-listingid]")
    return [c for c in cards if not c.xpath("ancestor::*[contains(@class,'carousel')]")]


def classify(response: HttpResponse) -> PageKind:
    """What an eBay page is, judged by its content."""
    if _is_blocked(response):
        return "blocked"
    if response.css("h1#itemTitle, h1.x-item-title__mainTitle, .x-item-title"):
        return "item"
    if _cards(response) or response.css("ul.srp-results, .srp-controls__count-heading"):
        return "search"
    if response.css("[itemprop=name]") and _item_id_from_url(str(response.url)):
        return "item"
    return "unknown"


def says_no_results(response: HttpResponse) -> bool:
    return bool(response.css(".srp-save-null-search, .s-message--no-results, .srp-controls__count-heading .BOLD:first-child"))\
        and (text_of(response.css(".srp-controls__count-heading .BOLD")) or "").startswith("0")


def _card_title(card: Selector) -> str | None:
    heading = card.css("[role=heading]")
    if heading:
        spans = [text_of(s) for s in heading.xpath("./span[not(contains(@class,'clipped'))]")]
        spans = [s for s in spans if s and s.lower() not in ("new listing", "new listing!")]
        title = spans[0] if spans else text_of(heading)
    else:
        title = text_of(card.css(".s-item__title, .s-card__title"))
    title = _HIDDEN_SUFFIX.sub("", title or "")
    title = re.sub(r"^New Listing\s*", "", title)
    return clean_text(title)


def _card_price(card: Selector) -> str | None:
    shown = text_of(card.css(".s-card__price")) or text_of(card.css(".s-item__price"))
    if shown:
        return shown
    for raw in card.css("::text").getall():
        value = clean_text(raw)
        if value and not value.startswith("+") and _PRICE.match(value) and re.search(r"[$€£¥₹₩]|[A-Z]{3}", value):
            return value
    return None


def _card(response: HttpResponse, card: Selector) -> ListingItem | None:
    title = _card_title(card)
    if not title or title.lower() in PLACEHOLDER_TITLES:
        return None
    hrefs = card.css("a::attr(href)").getall()
    link = next((h for h in hrefs if _item_id_from_url(h)), None)
    listing_id = card.attrib.get("data-listingid") or _item_id_from_url(link)
    if not listing_id:
        return None
    img = (
        card.css("img::attr(src)").get()
        or card.css("img::attr(data-defer-load)").get()
    )
    seller_text = text_of(card.css(".s-item__seller-info-text, .s-card__seller-info"))
    seller = seller_text.split(" ")[0] if seller_text else None
    return ListingItem(
        listing_id=listing_id,
        url=_clean_item_url(abs_url(response, link), listing_id),
        title=title,
        price_text=_card_price(card),
        seller_id=seller,
        seller_name=seller,
        sales_text=next(
            (t for t in (clean_text(x) for x in card.css("::text").getall()) if t and re.search(r"\d\+? sold$", t)),
            None,
        ),
        location=next(
            (t for t in (clean_text(x) for x in card.css("::text").getall()) if t and t.startswith("Located in ")),
            None,
        ),
        image_urls=unique([abs_url(response, img)]),
        condition=text_of(card.css(".s-card__subtitle, .SECONDARY_INFO")),
        page_kind="card",
    )


class EbaySearchPage(WebPage[SearchResults]):
    """A page of search results (``/sch/i.html?_nkw=&_pgn=``)."""

    @field
    def listings(self) -> list[ListingItem]:
        items = [c for c in (_card(self.response, card) for card in _cards(self.response)) if c]
        if not items and not says_no_results(self.response):
            raise ExtractionError("ebay", str(self.response.url), "no search results found and the page does not say there are none")
        return items

    @field
    def next_page_url(self) -> str | None:
        href = self.css(
            "a.pagination__next::attr(href), nav.pagination a[type=next]::attr(href), a[rel=next]::attr(href)"
        ).get()
        return abs_url(self.response, href)

    @field
    def total_text(self) -> str | None:
        return text_of(self.css(".srp-controls__count-heading"))

    @field
    def needs_browser(self) -> bool:
        return False  # eBay renders its result pages on the server


class EbayListingPage(WebPage[ListingItem]):
    """An item page (``/itm/<id>``), older or current layout."""

    @field
    def listing_id(self) -> str:
        value = (
            clean_text(self.css("#descItemNumber::text").get())
            or clean_text(self.css("[data-itemid]::attr(data-itemid)").get())
            or _item_id_from_url(str(self.response.url))
            or _item_id_from_url(self.css("link[rel=canonical]::attr(href)").get())
            or _item_id_from_url(meta_content(self.response, "og:url"))
        )
        if not value:
            raise ExtractionError("ebay", str(self.response.url), "item page without an item number")
        return value

    @field
    def url(self) -> str:
        return str(self.response.url)

    @field
    def title(self) -> str:
        # The older h1 holds a hidden "Details about" span; the title is the h1's own text.
        value = (
            clean_text("".join(self.css("h1#itemTitle::text").getall()))
            or text_of(self.css("h1.x-item-title__mainTitle"))
            or text_of(self.css("#vi-lkhdr-itmTitl"))
        )
        if not value:
            og = meta_content(self.response, "og:title")
            value = re.sub(r"\s*\|\s*eBay\s*$", "", og) if og else None
        if not value:
            raise ExtractionError("ebay", str(self.response.url), "item page without a title")
        return value

    @field
    def price_text(self) -> str | None:
        return (
            text_of(self.css("#prcIsum"))
            or text_of(self.css("#mm-saleDscPrc"))
            or text_of(self.css("#prcIsum_bidPrice"))
            or text_of(self.css(".x-price-primary"))
            or text_of(self.css("[itemprop=price]"))
        )

    def _seller_link(self) -> str | None:
        return self.css("#mbgLink::attr(href)").get() or self.css(
            ".x-sellercard-atf__info__about-seller a::attr(href), [data-testid='str-title'] a::attr(href)"
        ).get()

    @field
    def seller_id(self) -> str | None:
        href = self._seller_link()
        m = re.search(r"/(?:usr|str)/([^/?#]+)", href or "")
        return unquote(m.group(1)) if m else self.seller_name

    @field
    def seller_name(self) -> str | None:
        return (
            text_of(self.css("#mbgLink .mbg-nw"))
            or text_of(self.css(".x-sellercard-atf__info__about-seller a span"))
            or text_of(self.css("[data-testid='str-title'] a"))
        )

    @field
    def shop_url(self) -> str | None:
        return abs_url(self.response, self._seller_link())

    @field
    def location(self) -> str | None:
        return text_of(self.css("[itemprop=availableAtOrFrom]"))

    @field
    def image_urls(self) -> list[str]:
        srcs = self.css("#icImg::attr(src), .ux-image-carousel-item img::attr(src)").getall()
        return unique([abs_url(self.response, s) for s in [*srcs, meta_content(self.response, "og:image")]])

    @field
    def condition(self) -> str | None:
        return text_of(self.css("#vi-itm-cond")) or text_of(self.css(".x-item-condition-text .ux-textspans"))

    @field
    def page_kind(self) -> str:
        return "item"


class EbayBlockedPage(RealBlockedPage):
    """eBay's bot check ("Pardon Our Interruption…") or its sign-in page."""

    captcha_markers = CAPTCHA_MARKERS
    login_markers = LOGIN_MARKERS
    captcha_url_parts = CAPTCHA_URL_PARTS

    def _is_login(self) -> bool:
        return _is_login(self.response)


class EbayRemovedPage(RealRemovedPage):
    """An item page that says the listing ended."""

    id_pattern = _ITEM_PATH


class EbayShopPage(UnsupportedPage):
    """eBay stores are not extracted yet."""


PAGES = MarketplacePages(
    name="ebay",
    language="en",
    classify=classify,
    search_page=EbaySearchPage,
    listing_page=EbayListingPage,
    shop_page=EbayShopPage,
    removed_page=EbayRemovedPage,
    blocked_page=EbayBlockedPage,
    search_url=lambda base, kw, i: f"{base or BASE_URL}/sch/i.html?_nkw={quote_plus(kw)}&_pgn={i + 1}",
    shop_url=lambda base, seller_id: f"{base or BASE_URL}/str/{quote(seller_id, safe='')}",
    listing_url=lambda base, listing_id: f"{base or BASE_URL}/itm/{quote(listing_id, safe='')}",
    currency="USD",
)
