"""Page objects of Amazon (amazon.com and its country sites): search results, product pages, blocks.

Search results (``/s?k=``) are ``div[data-component-type="s-search-result"][data-asin]``: the
ASIN is the listing id, the title the ``h2`` (its ``aria-label`` minus "Sponsored Ad - " when
the text is missing), the price the first ``.a-price .a-offscreen`` that is not a struck-through
list price (``.a-text-price``). Sponsored results link through ``/sspa/click``, so listing URLs
are the canonical ``/dp/<ASIN>``. Search cards do not show the seller: it is ``None``.

Product pages (``/dp/<ASIN>``): ``#productTitle``, the ASIN from ``input#ASIN`` /
``input[name=ASIN]`` / ``data-csa-c-asin`` / the URL, the price from ``#corePrice_feature_div``,
``#corePriceDisplay_desktop_feature_div`` or the older ``#priceblock_ourprice``, the seller from
``#sellerProfileTriggerId`` (its ``seller=`` id) or ``#merchant-info``, else the ``#bylineInfo``
brand store. The robot check (``/errors/validateCaptcha``, ``#captchacharacters``: "Enter the
characters you see below") and the sign-in page are ``blocked``.

No settings affect this module.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote_plus, urlsplit

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
    has_any,
    meta_content,
    query_param,
    text_of,
    unique,
)

BASE_URL = "https://www.amazon.com"
CAPTCHA_MARKERS = ("form[action*='validateCaptcha']", "input#captchacharacters", "#captchacharacters")
LOGIN_MARKERS = ("form[name=signIn]", "#ap_login_form", "input#ap_email")
CAPTCHA_URL_PARTS = ("/errors/validateCaptcha",)

_ASIN = re.compile(r"/(?:dp|gp/product|gp/aw/d)/([A-Z0-9]{10})(?:[/?#]|$)")
_SPONSORED = re.compile(r"^Sponsored Ad\s*[-–]\s*")


def _is_blocked(response: HttpResponse) -> bool:
    url = str(response.url)
    if any(p in url for p in CAPTCHA_URL_PARTS) or "/ap/signin" in url:
        return True
    return has_any(response, CAPTCHA_MARKERS) or has_any(response, LOGIN_MARKERS)


def _results(response: HttpResponse) -> SelectorList[Selector]:
    cards = response.css("div[data-component-type='s-search-result'][data-asin]")
    if not cards:
        cards = response.css("[data-asin][data-index][data-uuid], [data-asin][data-index][role=listitem]")
    return SelectorList([c for c in cards if re.fullmatch(r"[A-Z0-9]{10}", c.attrib.get("data-asin") or "")])


def _is_product(response: HttpResponse) -> bool:
    return bool(response.css("#productTitle, #dp-container, #dp #ppd"))


def classify(response: HttpResponse) -> PageKind:
    """What an Amazon page is, judged by its content (the robot check at any URL is "blocked")."""
    if _is_blocked(response):
        return "blocked"
    if _is_product(response):
        return "item"
    if _results(response) or response.css("[data-component-type='s-search-results'], .s-main-slot"):
        return "search"
    return "unknown"


def says_no_results(response: HttpResponse) -> bool:
    return bool(response.css("[data-component-type='s-no-results'], .s-no-outline .a-size-medium.a-color-base"))


def _price(node: Selector | SelectorList[Selector]) -> str | None:
    for price in node.css(".a-price"):
        classes = (price.attrib.get("class") or "").split()
        if "a-text-price" in classes or price.attrib.get("data-a-strike") == "true":
            continue
        value = text_of(price.css(".a-offscreen"))
        if value:
            return value
        whole = text_of(price.css("[aria-hidden=true]"))
        if whole:
            return whole
    return None


def _card(response: HttpResponse, card: Selector) -> ListingItem | None:
    asin = card.attrib["data-asin"]
    # The title is the h2 with an aria-label or a link; badges ("ClimatePartner certified") are
    # h2s of their own.
    h2s = card.css("h2[aria-label]") or card.css("a h2, h2 a") or card.css("h2")
    h2 = h2s[0] if h2s else None
    title = text_of(h2) if h2 is not None else None
    if not title and h2 is not None:
        title = _SPONSORED.sub("", clean_text(h2.attrib.get("aria-label")) or "")
    title = clean_text(title) or clean_text(card.css("img::attr(alt)").get())
    if not title:
        return None
    img = card.css("img.s-image::attr(src)").get() or card.css("img::attr(src)").get()
    return ListingItem(
        listing_id=asin,
        url=str(response.urljoin(f"/dp/{asin}")),
        title=title,
        price_text=_price(card),
        image_urls=unique([abs_url(response, img)]),
        page_kind="card",
    )


class AmazonSearchPage(WebPage[SearchResults]):
    """A page of search results (``/s?k=&page=``)."""

    @field
    def listings(self) -> list[ListingItem]:
        items = [c for c in (_card(self.response, r) for r in _results(self.response)) if c]
        if not items and not says_no_results(self.response):
            raise ExtractionError("amazon", str(self.response.url), "no search results found and the page does not say there are none")
        return items

    @field
    def next_page_url(self) -> str | None:
        nxt = self.css("a.s-pagination-next")
        if not nxt:
            nxt = self.css("a[aria-label^='Go to next page']")
        return abs_url(self.response, nxt.attrib.get("href")) if nxt else None

    @field
    def total_text(self) -> str | None:
        spans = self.css("[data-component-type='s-result-info-bar'] h2 span, .s-desktop-toolbar h2 span")
        return clean_text(" ".join(t for t in (text_of(s) for s in spans) if t))

    @field
    def needs_browser(self) -> bool:
        return False


class AmazonListingPage(WebPage[ListingItem]):
    """A product page (``/dp/<ASIN>``)."""

    @field
    def listing_id(self) -> str:
        m = _ASIN.search(urlsplit(str(self.response.url)).path + "/")
        canonical = self.css("link[rel=canonical]::attr(href)").get()
        mc = _ASIN.search(urlsplit(canonical).path + "/") if canonical else None
        value = (
            clean_text(self.css("input#ASIN::attr(value), input[name=ASIN]::attr(value)").get())
            or (mc.group(1) if mc else None)
            or (m.group(1) if m else None)
            or clean_text(self.css("#averageCustomerReviews::attr(data-asin)").get())
        )
        if not value:
            raise ExtractionError("amazon", str(self.response.url), "product page without an ASIN")
        return value

    @field
    def url(self) -> str:
        return str(self.response.url)

    @field
    def title(self) -> str:
        value = (
            text_of(self.css("span#productTitle"))
            or clean_text(self.css("input#productTitle::attr(value)").get())
            or text_of(self.css("#productTitle"))
        )
        if not value:
            shown = text_of(self.css("title"))
            value = re.sub(r"^Amazon\.[a-z.]+\s*:\s*", "", shown) if shown else None
        if not value:
            raise ExtractionError("amazon", str(self.response.url), "product page without a title")
        return value

    @field
    def price_text(self) -> str | None:
        for box in (
            "#corePrice_feature_div",
            "#corePriceDisplay_desktop_feature_div",
            "#apex_desktop",
            "#corePrice_desktop",
        ):
            value = _price(self.css(box))
            if value:
                return value
        return (
            text_of(self.css("#priceblock_ourprice"))
            or text_of(self.css("#priceblock_dealprice"))
            or text_of(self.css("#price_inside_buybox"))
        )

    @field
    def seller_id(self) -> str | None:
        href = self.css("#sellerProfileTriggerId::attr(href)").get()
        return query_param(abs_url(self.response, href), "seller") if href else None

    @field
    def seller_name(self) -> str | None:
        return (
            text_of(self.css("#sellerProfileTriggerId")[:1])
            or text_of(self.css("#merchant-info a")[:1])
            or text_of(self.css("#merchantInfoFeature_feature_div .offer-display-feature-text-message")[:1])
        )

    @field
    def shop_url(self) -> str | None:
        href = self.css("#sellerProfileTriggerId::attr(href)").get()
        return abs_url(self.response, href)

    @field
    def image_urls(self) -> list[str]:
        img = self.css("#landingImage, #imgBlkFront, #imgTagWrapperId img")
        urls: list[str | None] = []
        if img:
            urls.append(img.attrib.get("data-old-hires"))
            urls.append(img.attrib.get("src"))
            dynamic = img.attrib.get("data-a-dynamic-image")
            if not any(urls) and dynamic:
                try:
                    urls.extend(list(json.loads(dynamic))[-1:])
                except ValueError:
                    pass
        urls.append(meta_content(self.response, "og:image"))
        return unique([abs_url(self.response, u) for u in urls if u and not u.startswith("data:")])

    @field
    def page_kind(self) -> str:
        return "item"


class AmazonBlockedPage(RealBlockedPage):
    """The robot check ("Enter the characters you see below") or the sign-in page."""

    captcha_markers = CAPTCHA_MARKERS
    login_markers = LOGIN_MARKERS
    captcha_url_parts = CAPTCHA_URL_PARTS

    @field
    def message(self) -> str | None:
        return text_of(self.css(".a-alert h4, form h4")[:1]) or text_of(self.css("title"))


class AmazonRemovedPage(RealRemovedPage):
    """A product page that says the product is unavailable or gone."""

    id_pattern = _ASIN


class AmazonShopPage(UnsupportedPage):
    """Amazon storefronts are not extracted yet."""


PAGES = MarketplacePages(
    name="amazon",
    language="en",
    classify=classify,
    search_page=AmazonSearchPage,
    listing_page=AmazonListingPage,
    shop_page=AmazonShopPage,
    removed_page=AmazonRemovedPage,
    blocked_page=AmazonBlockedPage,
    search_url=lambda base, kw, i: f"{base or BASE_URL}/s?k={quote_plus(kw)}&page={i + 1}",
    shop_url=lambda base, seller_id: f"{base or BASE_URL}/sp?seller={quote_plus(seller_id)}",
    listing_url=lambda base, listing_id: f"{base or BASE_URL}/dp/{quote_plus(listing_id)}",
    currency="USD",
)
