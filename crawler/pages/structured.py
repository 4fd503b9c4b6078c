"""Reading what a page declares for machines: schema.org JSON-LD, microdata, OpenGraph meta.

Shops describe their products for search engines and link previews, and that markup outlives
redesigns, so the generic page objects (``crawler.pages.generic``) trust it before anything
else. This module turns it into :class:`ListingItem` values:

* JSON-LD: ``Product`` (and any node with ``offers``, e.g. a ``Movie`` sold on disc) with
  ``Offer`` / ``AggregateOffer`` prices; ``ItemList`` of ``ListItem`` / ``Product`` for result
  pages; ``@graph``, top-level arrays and ``@id`` references resolved; ``BreadcrumbList`` and
  other types ignored; a block that is not valid JSON is skipped.
* microdata: ``itemscope`` of ``itemtype`` Product with ``itemprop`` name, price,
  priceCurrency, sku, productID, seller, url, image (nested ``Offer`` scopes read too).
* OpenGraph / Twitter meta: ``og:type=product``, ``product:price:amount`` / ``:currency``,
  ``og:title``, ``og:url``, ``og:image``.

Prices are kept as shown (``"1980 JPY"``) and parsed by ``crawler.normalize.fields``.

No settings affect this module.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from web_poet import HttpResponse

from crawler.items import ListingItem
from crawler.pages.base import clean_text
from crawler.pages.common import abs_url, meta_content, unique

_PRODUCT_TYPES = {"product", "productgroup", "individualproduct", "productmodel", "someproducts"}
_LIST_TYPES = {"itemlist", "offercatalog"}
_ID_KEYS = ("sku", "productID", "productId", "mpn", "gtin13", "gtin", "gtin14", "gtin12", "gtin8")
_ID_PARAMS = ("id", "item_id", "itemId", "itemid", "product_id", "productId", "pid", "goods_id", "asin", "sku")
_URL_ID = re.compile(r"/(?:dp|gp/product)/([A-Z0-9]{10})\b|/itm/(?:[^/]+/)?(\d{6,})|/item/(\d{6,})\.html")
_SRC_ATTR = {"a": "href", "link": "href", "area": "href", "img": "src", "source": "src",
             "video": "src", "audio": "src", "iframe": "src", "embed": "src", "object": "data",
             "data": "value", "meter": "value", "time": "datetime", "meta": "content"}  # fmt: skip


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


def jsonld_products(roots: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
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


def fallback_id(*values: str | None) -> str:
    """A stable id for a product whose URL carries none: a hash of its URL (else its title)."""
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
        url = url or page_url(response)
    key = next((_text(product.get(k)) for k in _ID_KEYS if _text(product.get(k))), None)
    images = product.get("image")
    return ListingItem(
        listing_id=key or listing_id_from_url(url) or fallback_id(url, title),
        url=url or "",
        title=title,
        price_text=_price(product),
        seller_name=_seller(product),
        image_urls=unique([abs_url(response, _text(i)) for i in (images if isinstance(images, list) else [images])][:5]),
        description=_text(product.get("description")),
        page_kind=kind,
    )


def page_url(response: HttpResponse) -> str | None:
    """The address the page gives itself (``og:url``, canonical), else the one it was read from."""
    canonical = response.css("link[rel=canonical]::attr(href)").get()
    return abs_url(response, meta_content(response, "og:url") or canonical) or (str(response.url) or None)


def og_listing(response: HttpResponse) -> ListingItem | None:
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
    url = page_url(response)
    price = f"{amount} {currency}" if amount and currency and currency not in amount else amount
    return ListingItem(
        listing_id=meta_content(response, "product:retailer_item_id") or listing_id_from_url(url) or fallback_id(url, title),
        url=url or "",
        title=title,
        price_text=price,
        image_urls=unique([abs_url(response, meta_content(response, "og:image"))]),
        description=meta_content(response, "og:description"),
    )


def merge_listings(first: ListingItem, *others: ListingItem | None) -> ListingItem:
    """``first`` with its missing fields filled from the same product described elsewhere."""
    for other in others:
        if other is None:
            continue
        for name in ("price_text", "seller_name", "description", "url"):
            if not getattr(first, name) and getattr(other, name):
                setattr(first, name, getattr(other, name))
        first.image_urls = first.image_urls or other.image_urls
    return first
