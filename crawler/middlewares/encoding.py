"""Read an HTML page in the encoding its bytes are in when its declarations are missing or wrong.

Scrapy decodes a page by its BOM, its ``Content-Type`` charset, its ``<meta>`` declaration, and
only then sniffs with ``charset_normalizer`` over every candidate encoding. Chinese and
Japanese marketplaces serve GBK, Big5 and Shift_JIS pages with no declaration, or declare
UTF-8 over GBK bytes; on a page that is mostly ASCII markup the open sniffing picks encodings
such as ``mac_greek`` and the titles come out as mojibake. This middleware re-decides only
those pages (no BOM, and either no declaration or a UTF-8 declaration the bytes are not valid
UTF-8 for) among the encodings such marketplaces use, and counts them
(``reelguard/encoding/sniffed``). A declaration the bytes agree with is never overridden.
Browser-rendered pages are already text and are left alone.

No settings affect this module.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from charset_normalizer import from_bytes
from scrapy.http import HtmlResponse
from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

from crawler.pages.detect import valid_utf8

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

# UTF-8 and the legacy encodings of the CJK marketplaces, browsers' supersets of each.
CANDIDATES = ["utf_8", "gb18030", "big5hkscs", "cp932", "euc_jp", "cp949"]
FALLBACK = "cp1252"


def sniffed_encoding(body: bytes, content_type: str | None) -> str | None:
    """The encoding to read ``body`` with, or ``None`` when its declarations stand."""
    if read_bom(body)[0] is not None:
        return None
    declared = http_content_type_encoding(content_type or "") or html_body_declared_encoding(body)
    if declared is not None and resolve_encoding(declared) != "utf-8":
        return None  # a legacy declaration: its bytes decode, right or wrong, as declared
    if body.isascii() or valid_utf8(body):
        return None  # UTF-8 (declared or not), which Scrapy reads as such
    best = from_bytes(body, cp_isolation=CANDIDATES).best()
    return best.encoding if best is not None else FALLBACK


class EncodingSniffMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EncodingSniffMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        if not isinstance(response, HtmlResponse) or "playwright" in response.flags:
            return response
        ctype = response.headers.get(b"Content-Type")
        encoding = sniffed_encoding(
            response.body, ctype.decode("latin-1") if ctype else None
        )
        if encoding is None:
            return response
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("reelguard/encoding/sniffed")
        self.crawler.stats.inc_value(f"reelguard/encoding/sniffed/{encoding}")
        logger.debug("%s: no usable charset declaration, read as %s", response.url, encoding)
        return response.replace(encoding=encoding)
