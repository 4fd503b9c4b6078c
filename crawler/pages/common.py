"""Helpers shared by the page objects of the real marketplaces (Taobao, Tmall, JD, eBay, ...).

Real pages carry their data twice: once for the browser (presentation classes that change with
every redesign) and once for their own scripts (embedded JSON such as Taobao's
``g_page_config``, ``data-*`` attributes, schema.org ``itemprop``, ``og:`` meta tags). The page
objects read the second kind first; these helpers find and decode it without running any script:
a JavaScript assignment is located by its marker and decoded with ``json.JSONDecoder.raw_decode``
(which stops at the end of the object, whatever follows), and object literals that are not JSON
(single quotes, bare keys) are read key by key with anchored regular expressions.

Nothing here fetches, evaluates or trusts page text. No settings affect this module.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from parsel import Selector, SelectorList
from web_poet import HttpResponse, WebPage, field

from crawler.items import BlockedPage, RemovedListing
from crawler.pages.base import clean_text

_DECODER = json.JSONDecoder()
_JS_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})|\\(['\"\\/])")


def text_of(node: Selector | SelectorList[Selector] | None) -> str | None:
    """All text under ``node`` run together, whitespace collapsed; ``None`` when empty."""
    if node is None:
        return None
    return clean_text("".join(node.css("::text").getall()))


def abs_url(response: HttpResponse, href: str | None) -> str | None:
    """``href`` made absolute against the page; protocol-relative ``//host/..`` becomes https."""
    if not href:
        return None
    href = href.strip()
    if not href or href.startswith(("javascript:", "#", "data:", "mailto:")):
        return None
    if href.startswith("//"):
        return "https:" + href
    return str(response.urljoin(href))


def query_param(url: str | None, name: str) -> str | None:
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


def host_of(url: str | None) -> str:
    """Lower-case host of ``url`` (``//host/path`` accepted); web.archive.org copies unwrapped."""
    if not url:
        return ""
    url = url.strip()
    if url.startswith("//"):
        url = "https:" + url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.endswith("archive.org"):
        inner = re.match(r"/web/[0-9a-z_*]+/(.+)", parts.path + (f"?{parts.query}" if parts.query else ""))
        if inner:
            return host_of(inner.group(1) if "://" in inner.group(1) else "https://" + inner.group(1))
    return host


def json_after(text: str, marker: str | re.Pattern[str], start: int = 0) -> Any:
    """The JSON value that follows ``marker`` (e.g. ``"g_page_config ="``) in ``text``, or ``None``.

    Every occurrence is tried in turn, so a marker quoted inside another script does not hide the
    real assignment. Whitespace between the marker and the value is skipped.
    """
    pattern = marker if isinstance(marker, re.Pattern) else re.compile(re.escape(marker))
    for match in pattern.finditer(text, start):
        pos = match.end()
        while pos < len(text) and text[pos] in " \t\r\n(":
            pos += 1
        if pos >= len(text) or text[pos] not in "{[":
            continue
        try:
            value, _ = _DECODER.raw_decode(text, pos)
        except ValueError:
            continue
        return value
    return None


def unescape_js(value: str) -> str:
    """Undo the escapes of a JavaScript string literal (``\\u4E73``, ``\\x41``, ``\\'``)."""

    def repl(m: re.Match[str]) -> str:
        if m.group(1):
            return chr(int(m.group(1), 16))
        if m.group(2):
            return chr(int(m.group(2), 16))
        return m.group(3)

    return _JS_ESCAPE.sub(repl, value)


def js_string_field(text: str, key: str, start: int = 0, end: int | None = None) -> str | None:
    """The first ``key : 'value'`` / ``"key": "value"`` in a JS object literal, unescaped."""
    pattern = re.compile(
        r"""["']?\b""" + re.escape(key) + r"""["']?\s*:\s*(?:'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"|(\d+)\b)"""
    )
    match = pattern.search(text, start, end if end is not None else len(text))
    if not match:
        return None
    raw = next(g for g in match.groups() if g is not None)
    return clean_text(unescape_js(raw))


def meta_content(response: HttpResponse, key: str) -> str | None:
    """``<meta property|name=key content=...>`` (case-insensitive attribute names and values)."""
    low = key.lower()
    xpath = (
        "//meta[translate(@property,'ABCDEFGHIJKLMNOPQRSTUVWXYZ','abcdefghijklmnopqrstuvwxyz')=$k"
        " or translate(@name,'ABCDEFGHIJKLMNOPQRSTUVWXYZ','abcdefghijklmnopqrstuvwxyz')=$k"
        " or translate(@Property,'ABCDEFGHIJKLMNOPQRSTUVWXYZ','abcdefghijklmnopqrstuvwxyz')=$k]"
    )
    for node in response.xpath(xpath, k=low):
        for name, value in node.attrib.items():
            if name.lower() == "content":
                return clean_text(value)
    return None


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (embedded data is untrusted)."""
    return value if isinstance(value, dict) else {}


def unique(values: list[str | None]) -> list[str]:
    """Non-empty values in first-seen order, without repeats."""
    seen: dict[str, None] = {}
    for v in values:
        if v and v not in seen:
            seen[v] = None
    return list(seen)


def url_unquote(value: str | None) -> str | None:
    return clean_text(unquote(value)) if value else None


def has_any(response: HttpResponse | Selector, queries: tuple[str, ...]) -> bool:
    return any(response.css(q) for q in queries)


class RealBlockedPage(WebPage[BlockedPage]):
    """A login wall, slider captcha or rate-limit page; subclasses say which markers mean what."""

    captcha_markers: tuple[str, ...] = ()
    login_markers: tuple[str, ...] = ()
    captcha_url_parts: tuple[str, ...] = ()
    login_hosts: tuple[str, ...] = ()

    def _at_login_host(self) -> bool:
        host = host_of(str(self.response.url))
        return any(host == h or host.endswith("." + h) for h in self.login_hosts)

    def _is_login(self) -> bool:
        return self._at_login_host() or has_any(self.response, self.login_markers)

    def _is_captcha(self) -> bool:
        url = str(self.response.url)
        return any(p in url for p in self.captcha_url_parts) or has_any(
            self.response, self.captcha_markers
        )

    @field
    def url(self) -> str:
        return str(self.response.url)

    @field
    def reason(self) -> str:
        # A login page carries a slider too: where it is served from says what it is.
        if self._at_login_host():
            return "login"
        if self._is_captcha():
            return "captcha"
        if self._is_login():
            return "login"
        return "rate_limit"

    @field
    def message(self) -> str | None:
        return text_of(self.css("title"))


class RealRemovedPage(WebPage[RemovedListing]):
    """A listing page that says the listing is gone; the id comes from the URL."""

    id_pattern: re.Pattern[str] = re.compile(r"[?&]id=(\d+)")

    @field
    def listing_id(self) -> str | None:
        m = self.id_pattern.search(str(self.response.url))
        return m.group(1) if m else None

    @field
    def url(self) -> str:
        return str(self.response.url)

    @field
    def message(self) -> str | None:
        return text_of(self.css("title"))


class UnsupportedPage(WebPage[Any]):
    """Stands in for a page kind a marketplace module does not extract yet (e.g. storefronts)."""

    async def to_item(self) -> Any:
        from crawler.exceptions import ExtractionError

        raise ExtractionError(
            "?", str(self.response.url), f"{type(self).__name__}: this page kind is not supported"
        )
