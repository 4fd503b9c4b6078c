"""Page objects of JD (京东, jd.com): search results, item pages and the login wall.

Search results (``search.jd.com/Search?keyword=``) are ``li[data-sku]`` cards in
``#J_goodsList``: the SKU is the listing id, the price is ``strong[data-price]`` (or the shown
``<i>`` after ``<em>¥</em>``), the title the ``<em>`` text of the name link (its ``title``
attribute when the ``<em>`` is missing), the shop ``[data-shopid]``. JD fills shop names in by
script, so a saved search page often shows only the shop id: the name is then ``None``.
Activity/promotion tiles (``data-type="activity"``, no SKU) are not listings. The pager is
``#J_topPage`` (``<b>current</b>/<i>total</i>``); JD numbers its half-pages, so visible page *n*
is ``page=2n-1``.

Item pages (``item.jd.com/<sku>.html``) declare ``pageConfig = {product: {skuid, name, shopId,
venderId, ...}}`` (a JS object literal, read key by key); the price is loaded by script and is
``None`` unless the HTML shows it. ``passport.jd.com`` (the login wall) and JD's risk-check page
are ``blocked``.

Values are kept as shown (``"¥55.00"``); URLs absolute (``//item.jd.com`` → https). No settings
affect this module.
"""

from __future__ import annotations

import re
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
    has_any,
    host_of,
    js_string_field,
    query_param,
    text_of,
    unique,
)

BASE_URL = "https://search.jd.com"
LOGIN_HOSTS = ("passport.jd.com", "plogin.m.jd.com", "passport.jd.hk")
LOGIN_MARKERS = ("form#formlogin", "input#loginname", "input#nloginpwd", "#formloginbtn")
CAPTCHA_MARKERS = ("#JDJRV-wrap-loginsubmit", ".JDJRV-slide-inner")
CAPTCHA_URL_PARTS = ("/risk_handler", "/cfe.m.jd.com/privatedomain")

_ITEM_PATH = re.compile(r"item\.jd\.(?:com|hk)/(\d+)\.html")


def _is_blocked(response: HttpResponse) -> bool:
    url = str(response.url)
    if host_of(url) in LOGIN_HOSTS or any(p in url for p in CAPTCHA_URL_PARTS):
        return True
    return has_any(response, LOGIN_MARKERS) or has_any(response, CAPTCHA_MARKERS)


def _cards(response: HttpResponse) -> SelectorList[Selector]:
    cards = response.css("#J_goodsList li[data-sku]")
    if not cards:
        cards = response.css("li.gl-item[data-sku]")
    if not cards:
        # Renamed classes: any list item keyed by a SKU that links to its own item page.
        cards = SelectorList(
            [c for c in response.css("li[data-sku]") if c.css(f"a[href*='{c.attrib['data-sku']}.html']")]
        )
    return SelectorList([c for c in cards if (c.attrib.get("data-sku") or "").isdigit()])


def _product_config(response: HttpResponse) -> tuple[str, int, int]:
    text = response.text
    m = re.search(r"\bpageConfig\s*=\s*\{", text)
    if not m:
        return text, 0, 0
    product = text.find("product", m.end())
    if product < 0 or product - m.end() > 2000:
        return text, 0, 0
    return text, product, min(len(text), product + 20000)


def classify(response: HttpResponse) -> PageKind:
    """What a JD page is, judged by its content (the login wall at any URL is "blocked")."""
    if _is_blocked(response):
        return "blocked"
    if _cards(response) or response.css("#J_goodsList"):
        return "search"
    _, start, end = _product_config(response)
    if end and js_string_field(response.text, "skuid", start, end):
        return "item"
    if response.css(".sku-name, #spec-img, #spec-n1") and _ITEM_PATH.search(str(response.url)):
        return "item"
    return "unknown"


def says_no_results(response: HttpResponse) -> bool:
    return bool(response.css(".check-error, .notice-search, #J_searchWrap .ns-content"))


def _card(response: HttpResponse, card: Selector) -> ListingItem | None:
    sku = card.attrib["data-sku"]
    link = card.css(f"a[href*='/{sku}.html']")
    name = card.css(".p-name a") or link
    title = (
        text_of(name.css("em"))
        or clean_text(name.attrib.get("title") if name else None)
        or clean_text(card.css(f"a[href*='/{sku}.html']::attr(title)").get())
        or clean_text(card.css("img::attr(alt)").get())
    )
    if not title:
        return None
    price = clean_text(card.css("[data-price]::attr(data-price)").get())
    if not price:
        shown = text_of(card.css(".p-price i")) or text_of(card.css("strong i"))
        price = shown
    price_text = None
    if price and re.search(r"\d", price):
        price_text = price if price[:1] in "¥￥" else f"¥{price}"
    shop = card.css("[data-shopid]")
    shop_id = clean_text(shop.attrib.get("data-shopid")) if shop else None
    shop_name = (
        text_of(card.css(".p-shop a, .curr-shop"))
        or clean_text(card.css(".p-shop [title]::attr(title)").get())
    )
    img = (
        card.css("img::attr(src)").get()
        or card.css("img::attr(data-lazy-img)").get()
        or card.css("img::attr(source-data-lazy-img)").get()
    )
    href = link.attrib.get("href") if link else None
    return ListingItem(
        listing_id=sku,
        url=abs_url(response, href) or f"https://item.jd.com/{sku}.html",
        title=title,
        price_text=price_text,
        seller_id=shop_id or None,
        seller_name=shop_name,
        shop_url=f"https://mall.jd.com/index-{shop_id}.html" if shop_id and shop_id != "0" else None,
        sales_text=text_of(card.css(".p-commit strong")),
        image_urls=unique([abs_url(response, img)]),
        page_kind="card",
    )


def _with_page(url: str, page: int) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("page", "s", "click")]
    query.append(("page", str(page)))
    return urlunsplit((parts.scheme or "https", parts.netloc or "search.jd.com", parts.path or "/Search", urlencode(query), ""))


class JdSearchPage(WebPage[SearchResults]):
    """A page of search results (``search.jd.com/Search?keyword=&page=``)."""

    @field
    def listings(self) -> list[ListingItem]:
        items = [c for c in (_card(self.response, card) for card in _cards(self.response)) if c]
        if not items and not says_no_results(self.response):
            raise ExtractionError("jd", str(self.response.url), "no search results found and the page does not say there are none")
        return items

    @field
    def next_page_url(self) -> str | None:
        href = self.css("a.pn-next::attr(href)").get()
        if href and not href.startswith("javascript"):
            return abs_url(self.response, href)
        current = clean_text(self.css("#J_topPage b::text").get())
        total = clean_text(self.css("#J_topPage i::text").get())
        if current and total and current.isdigit() and total.isdigit() and int(current) < int(total):
            url = str(self.response.url)
            if not query_param(url, "keyword"):
                keyword = js_string_field(self.response.text, "keyword") or ""
                url = f"{BASE_URL}/Search?" + urlencode([("keyword", keyword), ("enc", "utf-8")])
            return _with_page(url, 2 * int(current) + 1)
        return None

    @field
    def total_text(self) -> str | None:
        return text_of(self.css("#J_resCount")) or text_of(self.css("#J_topPage .fp-text"))

    @field
    def needs_browser(self) -> bool:
        return False


class JdListingPage(WebPage[ListingItem]):
    """An item page (``item.jd.com/<sku>.html``)."""

    def _cfg(self, key: str) -> str | None:
        text, start, end = _product_config(self.response)
        return js_string_field(text, key, start, end) if end else None

    @field
    def listing_id(self) -> str:
        m = _ITEM_PATH.search(str(self.response.url))
        value = self._cfg("skuid") or (m.group(1) if m else None)
        if not value:
            raise ExtractionError("jd", str(self.response.url), "item page without a SKU")
        return value

    @field
    def url(self) -> str:
        return str(self.response.url)

    @field
    def title(self) -> str:
        value = text_of(self.css(".sku-name")) or self._cfg("name")
        if not value:
            shown = text_of(self.css("title"))
            value = re.sub(r"【[^】]*】\s*-\s*京东\s*$", "", shown) if shown else None
        if not value:
            raise ExtractionError("jd", str(self.response.url), "item page without a title")
        return value

    @field
    def price_text(self) -> str | None:
        shown = text_of(self.css(".summary-price .p-price .price")) or text_of(self.css(".p-price .price"))
        if shown and re.search(r"\d", shown):
            return shown if shown[:1] in "¥￥" else f"¥{shown}"
        return None

    @field
    def seller_id(self) -> str | None:
        return self._cfg("shopId") or self._cfg("venderId")

    @field
    def seller_name(self) -> str | None:
        return (
            text_of(self.css(".popbox-inner .mt h3 a"))
            or text_of(self.css(".J-hove-wrap .name a"))
            or text_of(self.css(".shopName a, .shop-name a"))
        )

    @field
    def shop_url(self) -> str | None:
        shop_id = self._cfg("shopId")
        return f"https://mall.jd.com/index-{shop_id}.html" if shop_id else None

    @field
    def image_urls(self) -> list[str]:
        srcs = self.css("#spec-img::attr(data-origin), #spec-img::attr(src), #spec-list img::attr(src)").getall()
        return unique([abs_url(self.response, s) for s in srcs])

    @field
    def page_kind(self) -> str:
        return "item"


class JdBlockedPage(RealBlockedPage):
    """The login wall (``passport.jd.com``) or JD's risk-check / slider page."""

    captcha_markers = CAPTCHA_MARKERS
    login_markers = LOGIN_MARKERS
    captcha_url_parts = CAPTCHA_URL_PARTS
    login_hosts = LOGIN_HOSTS


class JdRemovedPage(RealRemovedPage):
    """An item page that says the item is gone."""

    id_pattern = _ITEM_PATH


class JdShopPage(UnsupportedPage):
    """JD storefronts are not extracted yet."""


PAGES = MarketplacePages(
    name="jd",
    language="zh",
    classify=classify,
    search_page=JdSearchPage,
    listing_page=JdListingPage,
    shop_page=JdShopPage,
    removed_page=JdRemovedPage,
    blocked_page=JdBlockedPage,
    search_url=lambda base, kw, i: f"{base or BASE_URL}/Search?keyword={quote(kw)}&enc=utf-8&page={2 * i + 1}",
    shop_url=lambda base, seller_id: f"https://mall.jd.com/index-{quote(seller_id, safe='')}.html",
    listing_url=lambda base, listing_id: f"https://item.jd.com/{quote(listing_id, safe='')}.html",
    currency="CNY",
)
