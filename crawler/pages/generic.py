"""Page objects for shops we have no page objects for: what a page declares for machines.

``reelguard parse`` falls back on these for a page from an unknown site, and for a page of a
known marketplace whose own page objects do not recognise its layout (they keep priority).
They are not a crawl target: the bundle is not in ``KNOWN_MARKETPLACES`` and builds no URLs.

Real shop pages describe their products for search engines and link previews, and that
markup outlives redesigns. In order of trust:

1. schema.org JSON-LD: ``Product`` (and any node with ``offers``, e.g. a ``Movie`` sold on
   disc) with ``Offer`` / ``AggregateOffer`` prices; ``ItemList`` of ``ListItem`` / ``Product``
   for result pages; ``@graph``, top-level arrays and ``@id`` references resolved;
   ``BreadcrumbList`` and other types ignored; a block that is not valid JSON is skipped.
2. microdata: ``itemscope`` of ``itemtype`` Product with ``itemprop`` name, price,
   priceCurrency, sku, productID, seller, url, image (nested ``Offer`` scopes read too).
3. OpenGraph / Twitter meta: ``og:type=product``, ``product:price:amount`` / ``:currency``,
   ``og:title``, ``og:url``, ``og:image``.
4. last resort for result pages: repeated cards, i.e. elements at the same DOM path (tag and
   digit-less classes from ``<body>``; sibling variants such as ``AdHolder`` merged) that occur
   at least four times, each holding a link, a title-like text and one to eight price-like
   texts. Only a dominant group counts (no unrelated group half its size), and none on a
   site's front page, on an item URL, on a page with one product's "add to cart" outside the
   cards (recommendations) or when the cards sit under several headings (carousels).
   On the real eBay, Amazon, JD and Taobao result pages this finds exactly what their own
   page objects find (``tests/test_pages_generic.py``).

A page is ``item`` (one product), ``search`` (several), ``blocked`` (a bot challenge with no
product data) or ``unknown``: nothing is invented when the page shows no priced products.
Prices are kept as shown (``"1980 JPY"``) and parsed by ``crawler.normalize.fields``.

No settings affect this module.
"""

from __future__ import annotations

import hashlib
import json
import re
import weakref
from collections import defaultdict
from dataclasses import replace
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from web_poet import HttpResponse, WebPage, field

from crawler.exceptions import ConfigError, ExtractionError
from crawler.items import ListingItem, PageKind, SearchResults
from crawler.pages.base import MarketplacePages, clean_text
from crawler.pages.common import (
    RealBlockedPage,
    RealRemovedPage,
    UnsupportedPage,
    abs_url,
    has_any,
    host_of,
    meta_content,
    unique,
)

MIN_CARDS = 4
MAX_CARD_PRICES = 8  # price, struck-out price, unit price, screen-reader copies...
_PRODUCT_TYPES = {"product", "productgroup", "individualproduct", "productmodel", "someproducts"}
_LIST_TYPES = {"itemlist", "offercatalog"}
_ID_KEYS = ("sku", "productID", "productId", "mpn", "gtin13", "gtin", "gtin14", "gtin12", "gtin8")
_ID_PARAMS = ("id", "item_id", "itemId", "itemid", "product_id", "productId", "pid", "goods_id", "asin", "sku")
_URL_ID = re.compile(r"/(?:dp|gp/product)/([A-Z0-9]{10})\b|/itm/(?:[^/]+/)?(\d{6,})|/item/(\d{6,})\.html")
_CODES = ("USD|EUR|GBP|JPY|CNY|RMB|AUD|CAD|CHF|HKD|TWD|KRW|INR|SGD|NZD|SEK|NOK|DKK|PLN|BRL|MXN|RUB|ILS"
          "|IDR|MYR|PHP|THB|VND|ZAR|TRY|AED|SAR|CZK|HUF")  # the ISO codes parse_price knows
_PRICE_LIKE = re.compile(
    rf"(?:[$€£¥￥₩₹₽]|(?<![A-Za-z])(?:{_CODES}))\s*\d"
    rf"|\d[\d,.\s]*\s*(?:円|元|€|£|₽|zł|\bkr\b|(?:{_CODES})(?![A-Za-z]))"
)
_SEARCH_URL = re.compile(
    r"[?&](?:q|k|kw|keywords?|query|search|searchtext|_nkw|text|w|st)=|/(?:search|s|sch|wholesale|find)(?:/|\?|$)", re.IGNORECASE
)
_ITEM_URL = re.compile(r"(?:^|/)(?:item|itm|dp|products?|goods|detail|offer)(?:/|\.|$)|item\.html?$", re.IGNORECASE)
_BUY_ATTR = re.compile(r"add[-_]?to[-_]?(?:cart|basket|bag)|buy[-_]?now|J_Link(?:Buy|Basket)|InitCartUrl", re.IGNORECASE)
_BUY_TEXT = re.compile(r"add to (?:cart|basket|bag)|buy (?:it )?now|カートに入れる|購入手続き|加入购物车|立即购买|"
                       r"in den warenkorb|ajouter au panier|añadir a la cesta|aggiungi al carrello", re.IGNORECASE)
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_SR_ONLY = ("clipped", "sr-only", "visually-hidden", "screen-reader-text", "a-offscreen")
_HIDDEN = " or ".join(f"contains(concat(' ', normalize-space(@class), ' '), ' {c} ')" for c in _SR_ONLY)
_SHOWN_TEXT = f".//text()[not(ancestor::*[{_HIDDEN} or @hidden or self::script or self::style])]"
_LETTER = re.compile(r"[^\W\d_]")
_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "head", "select", "option"}
_SRC_ATTR = {"a": "href", "link": "href", "area": "href", "img": "src", "source": "src",
             "video": "src", "audio": "src", "iframe": "src", "embed": "src", "object": "data",
             "data": "value", "meter": "value", "time": "datetime", "meta": "content"}  # fmt: skip
_TLD_CURRENCY = {"jp": "JPY", "cn": "CNY", "uk": "GBP", "de": "EUR", "fr": "EUR", "it": "EUR",
                 "es": "EUR", "nl": "EUR", "au": "AUD", "ca": "CAD", "in": "INR", "kr": "KRW"}  # fmt: skip
CHALLENGE_MARKERS = ("#challenge-form", "#cf-challenge-running", "#px-captcha",
                     "iframe[src*='captcha-delivery.com']", "form[action*='captcha']")  # fmt: skip


# -- reading values --------------------------------------------------------------------------
def _types(node: Any) -> set[str]:
    raw = node.get("@type") if isinstance(node, dict) else None
    values = raw if isinstance(raw, list) else [raw]
    return {str(v).rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower() for v in values if v}


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return next((v for v in value if v not in (None, "", [], {})), None)
    return value


def _text(value: Any) -> str | None:
    value = _first(value)
    if isinstance(value, dict):
        value = _first(value.get("name") or value.get("@value") or value.get("url") or value.get("@id"))
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    return clean_text(str(value))


def _is_product(node: Any) -> bool:
    return isinstance(node, dict) and bool(_types(node) & _PRODUCT_TYPES or node.get("offers"))


# -- JSON-LD ---------------------------------------------------------------------------------
def jsonld_roots(response: HttpResponse) -> list[dict[str, Any]]:
    """Every top-level JSON-LD node of the page, ``@graph`` and arrays flattened."""
    roots: list[dict[str, Any]] = []
    xpath = "//script[contains(translate(@type,'JSONLD','jsonld'),'ld+json')]/text()"
    for raw in response.xpath(xpath).getall():
        raw = raw.strip().removeprefix("<!--").removesuffix("-->").strip()
        try:
            data = json.loads(raw, strict=False)
        except (ValueError, RecursionError):
            continue  # a broken (or absurdly nested) block says nothing we can trust
        stack = data if isinstance(data, list) else [data]
        for node in stack:
            if isinstance(node, dict):
                graph = node.get("@graph")
                roots.extend(g for g in (graph if isinstance(graph, list) else []) if isinstance(g, dict))
                if node.get("@type") or not graph:
                    roots.append(node)
    return roots


def _jsonld_products(roots: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(top-level products, products listed in ItemLists) of the page's JSON-LD."""
    by_id = {n["@id"]: n for n in roots if isinstance(n.get("@id"), str)}

    def resolve(node: Any) -> Any:
        if isinstance(node, dict) and set(node) <= {"@id", "@type"} and node.get("@id") in by_id:
            return by_id[node["@id"]]
        return node

    top: list[dict[str, Any]] = []
    listed: list[dict[str, Any]] = []
    nodes = list(roots)
    nodes += [resolve(n.get("mainEntity")) for n in roots if isinstance(resolve(n.get("mainEntity")), dict)]
    for node in nodes:
        if _types(node) & _LIST_TYPES:
            elements = node.get("itemListElement")
            for element in elements if isinstance(elements, list) else [elements]:
                element = resolve(element)
                entry = resolve(element.get("item")) if isinstance(element, dict) and "item" in element else element
                if isinstance(entry, str) and isinstance(element, dict):  # {"item": "https://..."}
                    entry = {**element, "url": entry}
                if _is_product(entry):  # an ItemList of articles or recipes lists no offers
                    listed.append(entry)
        elif _is_product(node) and node not in top and "listitem" not in _types(node):
            top.append(node)
    # A list whose links are tagged as a carousel (Rakuten's "?scid=seo-carousel-search") is a
    # block of recommendations, not the page's results.
    return top, [p for p in listed if p.get("name") and "carousel" not in (_text(p.get("url")) or "").lower()]


# -- microdata -------------------------------------------------------------------------------
def _prop_value(el: Any) -> Any:
    if el.get("itemscope") is not None:
        return _read_scope(el)
    if el.get("content") is not None:  # shops put it on any element, not only <meta>
        return el.get("content")
    attr = _SRC_ATTR.get(el.tag)
    return el.get(attr) if attr and el.get(attr) is not None else "".join(el.itertext())


def _read_scope(scope: Any) -> dict[str, Any]:
    """A microdata item as a JSON-LD-shaped dict (properties as lists; nested items as dicts)."""
    out: dict[str, Any] = {"@type": (scope.get("itemtype") or "").split()}
    stack = [c for c in reversed(scope) if isinstance(c.tag, str)]
    while stack:  # document order: children pushed in reverse
        el = stack.pop()
        for name in (el.get("itemprop") or "").split():
            out.setdefault(name, []).append(_prop_value(el))
        if el.get("itemscope") is None:
            stack.extend(c for c in reversed(el) if isinstance(c.tag, str))
    return out


def microdata_products(response: HttpResponse) -> list[dict[str, Any]]:
    """Product items not nested in another product (related products nest inside the main one)."""
    scopes = [e for e in response.selector.root.iter() if isinstance(e.tag, str)
              and e.get("itemscope") is not None and _types({"@type": (e.get("itemtype") or "").split()}) & _PRODUCT_TYPES]
    inside = set(scopes)
    return [_read_scope(s) for s in scopes if not any(a in inside for a in s.iterancestors())]


# -- turning a product into a listing -------------------------------------------------------
def _price(product: dict[str, Any]) -> str | None:
    offers = product.get("offers")
    for offer in (offers if isinstance(offers, list) else [offers]) + [product]:
        if not isinstance(offer, dict):
            continue
        spec = _first(offer.get("priceSpecification"))
        spec = spec if isinstance(spec, dict) else {}
        amount = next((_text(v) for v in (offer.get("price"), offer.get("lowPrice"), spec.get("price")) if _text(v)), None)
        if amount:
            currency = _text(offer.get("priceCurrency")) or _text(spec.get("priceCurrency"))
            return f"{amount} {currency}" if currency and currency not in amount else amount
    return None


def _seller(product: dict[str, Any]) -> str | None:
    offer = _first(product.get("offers"))
    seller = offer.get("seller") if isinstance(offer, dict) else None
    return _text(seller) or _text(product.get("seller"))


def listing_id_from_url(url: str | None) -> str | None:
    """The id a product URL carries: a known id parameter, an ASIN or eBay/AliExpress number,
    else its last path segment with a digit in it."""
    if not url:
        return None
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    for key in _ID_PARAMS:
        if query.get(key) and query[key][0].strip():
            return query[key][0].strip()
    m = _URL_ID.search(parts.path) or _URL_ID.search(unquote(parts.query))  # ad redirects wrap it
    if m:
        return next(g for g in m.groups() if g)
    segments = [s for s in parts.path.split("/") if s]
    for segment in reversed(segments):
        if re.search(r"\d", segment):
            return re.sub(r"\.(?:html?|php|aspx?)$", "", segment)
    return "/".join(segments) or None


def _fallback_id(*values: str | None) -> str:
    seed = next((v for v in values if v), "")
    return "h" + hashlib.sha1(seed.encode("utf-8")).hexdigest()[:16]


def listing_from_product(response: HttpResponse, product: dict[str, Any], kind: str) -> ListingItem | None:
    """A schema.org product (JSON-LD or microdata) as a listing; ``None`` without a name."""
    title = _text(product.get("name"))
    if not title:
        return None
    offer = _first(product.get("offers"))
    url = abs_url(response, _text(product.get("url")) or (_text(offer.get("url")) if isinstance(offer, dict) else None))
    if kind == "item":
        url = url or _page_url(response)
    key = next((_text(product.get(k)) for k in _ID_KEYS if _text(product.get(k))), None)
    images = product.get("image")
    return ListingItem(
        listing_id=key or listing_id_from_url(url) or _fallback_id(url, title),
        url=url or "",
        title=title,
        price_text=_price(product),
        seller_name=_seller(product),
        image_urls=unique([abs_url(response, _text(i)) for i in (images if isinstance(images, list) else [images])][:5]),
        description=_text(product.get("description")),
        page_kind=kind,
    )


def _page_url(response: HttpResponse) -> str | None:
    canonical = response.css("link[rel=canonical]::attr(href)").get()
    return abs_url(response, meta_content(response, "og:url") or canonical) or (str(response.url) or None)


def _og_listing(response: HttpResponse) -> ListingItem | None:
    """The product the OpenGraph / Twitter meta describe, or ``None`` if they describe none."""
    og_type = (meta_content(response, "og:type") or "").lower()
    amount = meta_content(response, "product:price:amount") or meta_content(response, "og:price:amount")
    currency = meta_content(response, "product:price:currency") or meta_content(response, "og:price:currency")
    for n in (1, 2):  # Shopify and others: twitter:label1 = "Price", twitter:data1 = "$10.00"
        if (meta_content(response, f"twitter:label{n}") or "").lower() == "price":
            amount = amount or meta_content(response, f"twitter:data{n}")
    if og_type not in ("product", "og:product", "product.item", "product.group") and not amount:
        return None
    title = meta_content(response, "og:title") or meta_content(response, "twitter:title")
    if not title:
        return None
    url = _page_url(response)
    price = f"{amount} {currency}" if amount and currency and currency not in amount else amount
    return ListingItem(
        listing_id=meta_content(response, "product:retailer_item_id") or listing_id_from_url(url) or _fallback_id(url, title),
        url=url or "",
        title=title,
        price_text=price,
        image_urls=unique([abs_url(response, meta_content(response, "og:image"))]),
        description=meta_content(response, "og:description"),
    )


def _merge(first: ListingItem, *others: ListingItem | None) -> ListingItem:
    """``first`` with its missing fields filled from the same product described elsewhere."""
    for other in others:
        if other is None:
            continue
        for name in ("price_text", "seller_name", "description", "url"):
            if not getattr(first, name) and getattr(other, name):
                setattr(first, name, getattr(other, name))
        first.image_urls = first.image_urls or other.image_urls
    return first


# -- repeated cards --------------------------------------------------------------------------
def _cards_unlikely(response: HttpResponse) -> bool:
    """A site's front page (carousels) or a product page (recommendations) shows no results."""
    parts = urlsplit(str(response.url))
    if not parts.netloc or _SEARCH_URL.search(f"{parts.path}?{parts.query}"):
        return False
    front = parts.path in ("", "/") and not parts.query
    return front or bool(_ITEM_URL.search(parts.path) or parts.netloc.startswith(("item.", "detail.")))


def _shown_text(el: Any) -> str | None:
    """Text of ``el`` without screen-reader-only parts ("Opens in a new window or tab")."""
    return clean_text("".join(el.xpath(_SHOWN_TEXT)))


def _title_like(text: str | None) -> bool:
    return bool(text and len(text) >= 4 and _LETTER.search(text) and not (len(text) <= 40 and _PRICE_LIKE.search(text)))


def _card(response: HttpResponse, el: Any, price_els: set[Any]) -> ListingItem | None:
    """One result card: its title, link and first price (one marked ``price`` preferred)."""
    from crawler.normalize.fields import parse_price

    prices = [p for p in el.iter() if p in price_els]
    price_el = next((p for p in prices if "price" in (p.get("class") or "").lower()), prices[0] if prices else None)
    price_text = clean_text("".join(price_el.itertext())) if price_el is not None else None
    if not price_text or not parse_price(price_text)[0]:
        return None
    lowered = "translate(@class,'TITLE','title')"
    candidates = (el.xpath(".//*[@itemprop='name']") + el.xpath(".//h1|.//h2|.//h3|.//h4|.//h5|.//h6")
                  + el.xpath(f".//*[contains({lowered},'title')]")
                  + sorted(el.iter("a"), key=lambda a: -len("".join(a.itertext()))))
    title, link = None, None
    for cand in candidates:
        text = _shown_text(cand) or clean_text(cand.get("title"))
        if _title_like(text):
            title = text
            link = cand if cand.tag == "a" else next(iter(cand.iter("a")), None)
            if link is None:
                link = next(cand.iterancestors("a"), None)
            break
    if title is None:
        alt = next((clean_text(i.get("alt")) for i in el.iter("img") if _title_like(clean_text(i.get("alt")))), None)
        title = alt
    links = [a for a in el.iter("a") if abs_url(response, a.get("href"))]
    if link is None or not abs_url(response, link.get("href")):
        link = links[0] if links else None
    if not title or link is None:
        return None
    url = abs_url(response, link.get("href")) or ""
    img = next((i.get("data-src") or i.get("src") for i in el.iter("img") if i.get("src") or i.get("data-src")), None)
    return ListingItem(
        listing_id=listing_id_from_url(url) or _fallback_id(url, title), url=url, title=title,
        price_text=price_text, image_urls=unique([abs_url(response, img)]), page_kind="card",
    )


def _buy_control_outside(body: Any, cards: set[Any]) -> bool:
    """Whether the page has one product's "add to cart" / "buy now" controls off the cards (a
    result page may show many, on carousels of their own: that is not an item page)."""
    found = 0
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        attrs = " ".join(el.get(a) or "" for a in ("id", "class", "name"))
        label = ""
        if el.tag in ("button", "input"):
            label = (clean_text("".join(el.itertext())) or "") + " " + (el.get("value") or "")
        if (_BUY_ATTR.search(attrs) or _BUY_TEXT.search(label)) and not any(a in cards for a in el.iterancestors()):
            found += 1
    return 1 <= found <= 3


def _sectioned(members: list[Any]) -> bool:
    """Whether the cards sit in several blocks each under a heading of its own ("Deals of the
    day", "Movies & TV"): carousels of one template, not the rows of one result grid."""
    parents = list(dict.fromkeys(m.getparent() for m in members))
    if len(parents) < 2:
        return False
    common = next((a for a in parents[0].iterancestors() if all(a in p.iterancestors() for p in parents[1:])), None)
    members_set = set(members)
    headed = 0
    for node in parents:
        while node is not None and node is not common:
            for sib in node.itersiblings(preceding=True):
                if not isinstance(sib.tag, str) or any(d in members_set for d in sib.iter()):
                    continue
                if sib.tag in _HEADINGS or sib.get("role") == "heading" or any(d.tag in _HEADINGS for d in sib.iter()):
                    headed += 1
                    break
            else:
                node = node.getparent()
                continue
            break
    return headed >= 2


def _merge_variants(
    groups: dict[int, list[Any]], shape: dict[int, tuple[int, str, frozenset[str]]], pos: dict[Any, int]
) -> list[list[Any]]:
    """Sibling groups whose classes mostly agree are one group (``s-result-item AdHolder``
    beside ``s-result-item``: sponsored results are results too)."""
    keyed: dict[tuple[int, str], list[tuple[frozenset[str], list[Any]]]] = defaultdict(list)
    for key, members in groups.items():
        parent, tag, classes = shape[key]
        for seen, merged in keyed[(parent, tag)]:
            if classes and len(seen & classes) >= 0.6 * len(seen | classes):
                merged.extend(members)
                break
        else:
            keyed[(parent, tag)].append((classes, list(members)))
    return [sorted(m, key=pos.__getitem__) for entries in keyed.values() for _, m in entries]


def card_listings(response: HttpResponse) -> list[ListingItem]:
    """The dominant group of repeated priced cards, or nothing (see the module docstring)."""
    if _cards_unlikely(response):
        return []
    root = response.selector.root
    body = next(iter(root.iter("body")), root)
    order: list[Any] = []
    sig: dict[Any, int] = {}
    shape: dict[int, tuple[int, str, frozenset[str]]] = {}
    stack: list[tuple[Any, int]] = [(body, 0)]
    while stack:  # pre-order, keyed by the DOM path of tags and (digit-less) classes
        el, parent = stack.pop()
        classes = frozenset(re.sub(r"\d+", "", c) for c in (el.get("class") or "").split())
        sig[el] = hash((parent, el.tag, classes))
        shape[sig[el]] = (parent, el.tag, classes)
        order.append(el)
        stack.extend((c, sig[el]) for c in reversed(el) if isinstance(c.tag, str) and c.tag not in _SKIP_TAGS)
    tlen: dict[Any, int] = {}
    prices: dict[Any, int] = {}
    links: dict[Any, int] = {}
    price_els: set[Any] = set()
    for el in reversed(order):  # children before parents
        kids = [c for c in el if c in tlen]
        tlen[el] = len(el.text or "") + sum(tlen.get(c, 0) + len(c.tail or "") for c in el)
        prices[el] = sum(prices[c] for c in kids)
        if not prices[el] and tlen[el] <= 40 and _PRICE_LIKE.search("".join(el.itertext())):
            prices[el] = 1
            price_els.add(el)
        links[el] = sum(links[c] for c in kids) + (el.tag == "a" and bool(abs_url(response, el.get("href"))))
    groups: dict[int, list[Any]] = defaultdict(list)
    for el in order:
        if 1 <= prices[el] <= MAX_CARD_PRICES and links[el]:
            groups[sig[el]].append(el)
    found: list[tuple[int, int, list[Any], list[ListingItem]]] = []
    for members in _merge_variants(groups, shape, {el: i for i, el in enumerate(order)}):
        if len(members) < MIN_CARDS:
            continue
        cards = [c for c in (_card(response, m, price_els) for m in members) if c]
        if len({c.url for c in cards}) >= MIN_CARDS and len(cards) >= 0.6 * len(members):
            found.append((len(cards), -len(list(members[0].iterancestors())), members, cards))
    if not found:
        return []
    found.sort(key=lambda f: (f[0], f[1]), reverse=True)
    best = found[0]
    best_set = set(best[2])
    if _buy_control_outside(body, best_set) or _sectioned(best[2]):
        return []  # an item page's recommendations; a landing page's headed carousels
    for count, _, members, _ in found[1:]:
        ancestors = set(members[0].iterancestors())
        related = bool(ancestors & best_set) or any(a in set(members) for a in best[2][0].iterancestors())
        if not related and 2 * count >= best[0]:
            return []  # two comparable groups: carousels of a landing page, not one result list
    return best[3]


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
    top, listed = _jsonld_products(jsonld_roots(response))
    og = _og_listing(response)
    micro = [m for m in (listing_from_product(response, p, "item") for p in microdata_products(response)) if m]
    if listed:
        return "search", _dedupe([c for c in (listing_from_product(response, p, "card") for p in listed) if c])
    products = _dedupe([p for p in (listing_from_product(response, t, "item") for t in top) if p])
    if products and (len(products) == 1 or og):
        main = next((p for p in products if og and p.title == og.title), products[0])
        return "item", [_merge(main, micro[0] if micro else None, og)]
    if products:
        for p in products:
            p.page_kind = "card"
        return "search", products
    if micro and (len(micro) < MIN_CARDS or og):
        main = next((m for m in micro if og and m.title == og.title), micro[0])
        return "item", [_merge(main, og)]
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
