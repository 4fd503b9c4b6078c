"""Saved pages as input: which marketplace a page is from, how to decode it, what it says.

``reelguard parse FILE.html`` (``crawler.pages.cli_parse``) runs a page saved to disk through the
same page objects the spiders use. Three steps, each usable on its own:

* :func:`decode_html` picks the encoding the way a browser would, with one correction for saved
  pages: BOM, then the HTTP ``Content-Type`` charset, then the page's own ``<meta charset>`` /
  ``http-equiv`` declaration (searched in the whole ``<head>``: Tmall declares GBK after 20 KB of
  scripts), then sniffing. A page that declares a legacy multi-byte encoding (GBK, EUC-JP,
  Shift_JIS, Big5) but is valid UTF-8 throughout was re-saved by a browser as UTF-8 with its
  original ``<meta>`` kept, so it is read as UTF-8.
* :func:`detect_marketplace` reads the host of the URL given, else of ``<link rel=canonical>``,
  ``og:url`` or ``<base href>`` (web.archive.org copies unwrapped), else fingerprints of the
  markup (Taobao's ``g_page_config``, Tmall's ``TShop.Setup``, the marketplaces' image CDNs).
* :func:`parse_saved_page` classifies the page with the marketplace's page objects (the
  generic ones of ``crawler.pages.generic`` for a site without its own, and as a fallback when
  a marketplace's own recognise nothing but the page declares products) and returns
  ``{"marketplace", "kind", "items": [{"listing_id", "title", "price", "currency", "seller",
  "url"}], "next_page"}``. Prices are numbers, currencies ISO codes; a field the page does not
  show is ``None``. Block pages and layouts the page objects do not recognise come back as kind
  ``"blocked"`` / ``"unknown"`` with no items and a reason (:class:`ParseOutcome`), never as an
  empty success. For a site without page objects, ``marketplace`` is its host (``www.``
  dropped), or ``None`` when the page does not say where it is from.

No settings affect this module.
"""

from __future__ import annotations

import asyncio
import codecs
import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from web_poet import HttpResponse, HttpResponseHeaders

from crawler.exceptions import ExtractionError
from crawler.normalize.fields import parse_price

# Host suffix -> marketplace. Order matters only for overlapping names (none today).
_HOSTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), name)
    for p, name in (
        (r"(?:^|\.)tmall\.(?:com|hk)$", "tmall"),
        (r"(?:^|\.)(?:taobao\.com|tb\.cn|taobao\.hk)$", "taobao"),
        (r"(?:^|\.)(?:jd\.com|jd\.hk|360buy\.com|jd\.co\.th|jd\.id)$", "jd"),
        (r"(?:^|\.)ebay\.(?:com|[a-z]{2}|co\.[a-z]{2}|com\.[a-z]{2})$", "ebay"),
        (r"(?:^|\.)amazon\.(?:com|[a-z]{2}|co\.[a-z]{2}|com\.[a-z]{2})$", "amazon"),
        (r"(?:^|\.)aliexpress\.(?:com|us|ru)$", "aliexpress"),
        (r"(?:^|\.)rakuten\.co\.jp$", "rakuten"),
    )
)

# Markup that only one marketplace's pages carry (its own scripts' globals).
_STRUCTURE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bTShop\.Setup\s*\("), "tmall"),
    (re.compile(r"\bg_page_config\s*="), "taobao"),
    (re.compile(r"\bg_config\s*=\s*\{[\s\S]{0,6000}?\bidata\s*:"), "taobao"),
    (re.compile(r"\brunParams\s*=\s*\{\s*data\s*:"), "aliexpress"),
    (re.compile(r'data-component-type="s-search-result"'), "amazon"),
    (re.compile(r"""<script[^>]*\bid=["']item-page-app-data["']"""), "rakuten"),
    (re.compile(r"\b__INITIAL_STATE__\s*=\s*\{[\s\S]{0,20000}?\bichibaSearch\b"), "rakuten"),
)
# Domains a marketplace's pages load their images and scripts from; the most mentioned wins.
_DOMAINS: dict[str, tuple[str, ...]] = {
    "taobao": ("taobao.com",),
    "tmall": ("tmall.com",),
    "jd": ("360buyimg.com", "jd.com/"),
    "ebay": ("ebaystatic.com", "ebayimg.com", "ebay.com/"),
    "amazon": ("media-amazon.com", "images-amazon.com", "amazon.com/"),
    "aliexpress": ("aliexpress.com", "ae01.alicdn.com"),
    "rakuten": ("rakuten.co.jp", "r10s.jp"),
}

_META_CHARSET = re.compile(
    rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE
)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.\-]+)""", re.IGNORECASE)
_HEAD_END = re.compile(rb"</head\s*>|<body[\s>]", re.IGNORECASE)
_LEGACY_MULTIBYTE = {
    "gb18030",
    "gbk",
    "gb2312",
    "euc_jp",
    "shift_jis",
    "cp932",
    "big5",
    "big5hkscs",
    "euc_kr",
    "cp949",
    "iso2022_jp",
}
# What browsers actually decode these labels as (WHATWG encoding standard).
_SUPERSETS = {
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "shift_jis": "cp932",
    "big5": "big5hkscs",
    "euc_kr": "cp949",
    "ascii": "cp1252",
    "latin_1": "cp1252",
    "iso8859_1": "cp1252",
}
_SNIFF_ORDER = ("gb18030", "euc_jp", "cp932", "big5hkscs", "cp949", "cp1252")

_LINK_CANONICAL = re.compile(
    r"""<link\b[^>]*\brel\s*=\s*["']?canonical["']?[^>]*>""", re.IGNORECASE
)
_OG_URL = re.compile(r"""<meta\b[^>]*(?:property|name)\s*=\s*["']og:url["'][^>]*>""", re.IGNORECASE)
_BASE = re.compile(r"""<base\b[^>]*>""", re.IGNORECASE)
_HREF = re.compile(r"""\b(?:href|content)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


# -- encoding ---------------------------------------------------------------------------------
def _codec(label: str | None) -> str | None:
    """Python's name for an encoding label, mapped to the superset browsers use; None if unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'").lower()).name
    except LookupError:
        return None
    name = name.replace("-", "_")
    if name == "utf_8":
        return "utf-8"
    return _SUPERSETS.get(name, name)


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    items: Iterable[tuple[Any, Any]]
    if isinstance(headers, Mapping) or hasattr(headers, "items"):
        items = headers.items()
    else:
        items = headers
    for key, value in items:
        key = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if key.lower() == name.lower():
            if isinstance(value, list | tuple):
                value = value[0] if value else ""
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return None


def _declared(body: bytes) -> str | None:
    """The encoding the markup declares (XML declaration, ``<meta charset>``, ``http-equiv``)."""
    xml = _XML_DECL.match(body[:200])
    if xml:
        return _codec(xml.group(1).decode("ascii", "ignore"))
    end = _HEAD_END.search(body, 0, 512 * 1024)
    head = body[: end.start() if end else 64 * 1024]
    for match in _META_CHARSET.finditer(head):
        codec = _codec(match.group(1).decode("ascii", "ignore"))
        if codec:
            return codec
    return None


def valid_utf8(body: bytes) -> bool:
    """Whether ``body`` is UTF-8 throughout (the crawl's encoding middleware asks too)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _sniff(body: bytes) -> str:
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(body[: 256 * 1024]).best()
        if best is not None:
            codec = _codec(best.encoding)
            if codec and _errors(body, codec) == 0:
                return codec
    except ImportError:  # optional: the fallback below needs nothing
        pass
    return min(_SNIFF_ORDER, key=lambda c: _errors(body, c))


def _errors(body: bytes, codec: str) -> int:
    return body.decode(codec, errors="replace").count("\ufffd")


def decode_html(body: bytes, headers: Any = None) -> tuple[str, str]:
    """``(text, encoding)`` of an HTML page: BOM, HTTP charset, declared charset, then sniffing."""
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace"), codec
    ctype = _header(headers, "Content-Type") or ""
    m = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:\-]+)", ctype, re.IGNORECASE)
    from_header = _codec(m.group(1)) if m else None
    if from_header:
        return body.decode(from_header, errors="replace"), from_header
    declared = _declared(body)
    non_ascii = any(b > 0x7F for b in body[: 1024 * 1024])
    if declared == "utf-8" or (declared is None and non_ascii):
        if valid_utf8(body):
            return body.decode("utf-8"), "utf-8"
        sniffed = _sniff(body)
        return body.decode(sniffed, errors="replace"), sniffed
    if declared in _LEGACY_MULTIBYTE and non_ascii and valid_utf8(body):
        # Re-saved as UTF-8 with the original <meta charset> kept.
        return body.decode("utf-8"), "utf-8"
    codec = declared or "utf-8"
    return body.decode(codec, errors="replace"), codec


# -- marketplace ------------------------------------------------------------------------------
def marketplace_of_host(host: str) -> str | None:
    for pattern, name in _HOSTS:
        if pattern.search(host):
            return name
    return None


def _page_urls(text: str) -> list[str]:
    """URLs the page says it is at: canonical, og:url, base href (first 512 KB)."""
    head = text[: 512 * 1024]
    urls = []
    for pattern in (_LINK_CANONICAL, _OG_URL, _BASE):
        for tag in pattern.findall(head):
            href = _HREF.search(tag)
            if href and not href.group(1).startswith("\\"):
                value = href.group(1).replace("&amp;", "&")
                urls.append("https:" + value if value.startswith("//") else value)
    return urls


def page_url(text: str) -> str | None:
    """The absolute URL a saved page declares (canonical first), web.archive.org unwrapped."""
    from crawler.pages.common import host_of

    for url in _page_urls(text):
        host = host_of(url)
        if not host:
            continue
        if "archive.org" in url:
            inner = re.search(r"/web/[0-9a-z_*]+/(https?://.+)$", url)
            if inner:
                return inner.group(1)
        return url
    return None


def detect_marketplace(html: bytes | str, url: str | None = None) -> str | None:
    """The marketplace a page is from (``"taobao"``, ``"ebay"``...), or ``None`` if unknown."""
    from crawler.pages.common import host_of

    if url:
        name = marketplace_of_host(host_of(url))
        if name:
            return name
    text = html if isinstance(html, str) else decode_html(html)[0]
    for candidate in _page_urls(text):
        name = marketplace_of_host(host_of(candidate))
        if name:
            return name
    for pattern, name in _STRUCTURE:
        if pattern.search(text):
            return name
    sample = text[: 2 * 1024 * 1024]
    scores = {name: sum(sample.count(d) for d in domains) for name, domains in _DOMAINS.items()}
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] >= 3 else None


# -- prices -----------------------------------------------------------------------------------
def price_value(
    text: str | None, default_currency: str | None = None
) -> tuple[float | None, str | None]:
    """``parse_price`` for ``reelguard parse``: no price shown gives no currency either."""
    if not text:
        return None, None
    return parse_price(text, default_currency)


# -- parse ------------------------------------------------------------------------------------
@dataclass
class ParseOutcome:
    """What ``reelguard parse`` found; :meth:`as_dict` is the documented JSON shape."""

    marketplace: str | None
    kind: str
    items: list[dict[str, Any]] = field(default_factory=list)
    next_page: str | None = None
    message: str | None = None  # why a page is blocked / unknown
    encoding: str | None = None
    url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "marketplace": self.marketplace,
            "kind": self.kind,
            "items": self.items,
            "next_page": self.next_page,
        }


def _run(page: Any) -> Any:
    return asyncio.run(page.to_item())


def _item_dict(listing: Any, currency: str | None) -> dict[str, Any]:
    price, code = price_value(listing.price_text, currency)
    return {
        "listing_id": listing.listing_id,
        "title": listing.title,
        "price": price,
        "currency": code if listing.price_text else None,
        "seller": listing.seller_name or listing.seller_id,
        "url": listing.url or None,  # a page saved without its address may not show it
    }


def analyse_saved_page(
    body: bytes, url: str | None = None, marketplace: str | None = None, headers: Any = None
) -> ParseOutcome:
    """Classify and extract a saved page; see the module docstring.

    The marketplace's own page objects read the page first; the generic ones
    (``crawler.pages.generic``) read a page from a site without its own, and a page its own
    leave "unknown" (a layout they do not recognise, or a search they think JavaScript renders
    that was in fact saved from a browser) -- and only when the generic reading finds products;
    otherwise the own page objects' reason stands. A block page is never second-guessed.
    """
    from crawler.pages import GENERIC, parse_pages
    from crawler.pages.common import host_of
    from crawler.pages.generic import default_currency

    text, encoding = decode_html(body, headers)
    declared_url = page_url(text)
    name = marketplace or detect_marketplace(text, url)
    where = url or declared_url
    pages = parse_pages(name)
    own = pages.name != GENERIC
    base = (
        getattr(importlib.import_module(f"crawler.pages.{name}"), "BASE_URL", f"https://www.{name}.com")
        if own
        else ""
    )
    response = HttpResponse(
        url=where or base,
        body=body,
        status=200,
        headers=HttpResponseHeaders([("Content-Type", f"text/html; charset={encoding}")]),
        encoding=encoding,
    )
    label = name if name and name != GENERIC else (host_of(where).removeprefix("www.") or None)
    if own:
        outcome = _extract(pages, response, label, where, base, pages.currency, encoding)
        if outcome.kind != "unknown":
            return outcome
        generic_pages = parse_pages(GENERIC)
        currency = pages.currency or default_currency(response)
        fallback = _extract(generic_pages, response, label, where, None, currency, encoding)
        return fallback if fallback.kind in ("item", "search") and fallback.items else outcome
    outcome = _extract(pages, response, label, where, None, default_currency(response), encoding)
    if outcome.kind == "unknown":
        outcome.message = (
            "cannot tell which marketplace this page is from (pass --marketplace) and it carries"
            " no product data the generic page objects read"
            if not label
            else f"{label}: no product data recognised (no schema.org Product or"
            " ItemList, no product meta tags, no repeated priced cards)"
        )
    return outcome


def _extract(
    pages: Any,
    response: HttpResponse,
    name: str | None,
    where: str | None,
    base: str | None,
    currency: str | None,
    encoding: str,
) -> ParseOutcome:
    """What ``pages`` read on ``response``."""
    kind = pages.classify(response)
    outcome = ParseOutcome(name, kind, encoding=encoding, url=where)
    reader = name or "the site"
    try:
        if kind == "search":
            results = _run(pages.search_page(response=response))
            if results.needs_browser:
                outcome.kind = "unknown"
                outcome.message = (
                    "the search results are rendered by JavaScript: fetch the page with the browser"
                )
                return outcome
            outcome.items = [_item_dict(x, currency) for x in results.listings]
            outcome.next_page = results.next_page_url
        elif kind == "item":
            listing = _run(pages.listing_page(response=response))
            if not where and base:  # the page did not say where it is: name it by its id
                listing.url = pages.listing_url(base, listing.listing_id)
            outcome.items = [_item_dict(listing, currency)]
        elif kind == "shop":
            store = _run(pages.shop_page(response=response))
            outcome.items = [_item_dict(x, currency) for x in store.listings]
            outcome.next_page = store.next_page_url
        elif kind == "blocked":
            blocked = _run(pages.blocked_page(response=response))
            outcome.message = f"{reader} served a {blocked.reason} page instead of the content" + (
                f" ({blocked.message})" if blocked.message else ""
            )
        else:
            if kind != "unknown":
                outcome.kind = "unknown"
            outcome.message = (
                f"{reader}: page layout not recognised (not a search, item or block page)"
            )
    except ExtractionError as exc:
        outcome.kind = "unknown"
        outcome.items = []
        outcome.next_page = None
        outcome.message = str(exc)
    return outcome


def parse_saved_page(
    body: bytes, url: str | None = None, marketplace: str | None = None
) -> dict[str, Any]:
    """``{"marketplace", "kind", "items", "next_page"}`` for a page saved to disk."""
    return analyse_saved_page(body, url=url, marketplace=marketplace).as_dict()
