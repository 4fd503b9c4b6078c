"""Retries with backoff that honour ``Retry-After``, bounded by ``RETRY_TIMES``.

Extends Scrapy's ``RetryMiddleware``: before a retry of a 429/503 (or any retryable status)
it waits for the server's ``Retry-After`` (seconds or an HTTP date) when given, else for an
exponential backoff with jitter; a ``Retry-After`` longer than ``REELGUARD_RETRY_AFTER_MAX``
is not waited for: the request is given up and recorded. Waiting pauses this request only.

A page whose body was delimited only by the connection closing (no ``Content-Length``, not
chunked: Scrapy flags it ``partial``) and that stops before its closing ``</html>`` was cut off
(Twisted cannot tell a reset from a clean close there): it is retried like a lost connection
and, when retries run out, fails with ``ResponseDataLossError``; it never reaches a spider.

Settings: ``RETRY_TIMES``, ``RETRY_HTTP_CODES``, ``REELGUARD_RETRY_AFTER_MAX``,
``REELGUARD_RETRY_BACKOFF_BASE`` (seconds, default 0.5).
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import ResponseDataLossError
from scrapy.http import HtmlResponse
from scrapy.utils.response import response_status_message

from crawler.config import ReelguardConfig

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


def parse_retry_after(value: bytes | str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value, or ``None`` when absent/garbage."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


TRUNCATED = "page cut off: the connection closed before </html> (no Content-Length)"


def looks_truncated(response: Response) -> bool:
    """An HTML body ended by the connection closing, without its closing ``</html>``."""
    if "partial" not in response.flags or not isinstance(response, HtmlResponse):
        return False
    return b"</html" not in response.body[-8192:].lower()


class RetryAfterMiddleware(RetryMiddleware):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler.settings)
        self.crawler = crawler
        self.config = ReelguardConfig.from_settings(crawler.settings)
        self.backoff_base = crawler.settings.getfloat("REELGUARD_RETRY_BACKOFF_BASE", 0.5)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        return cls(crawler)

    def _delay(self, request: Request, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        attempt = request.meta.get("retry_times", 0)
        return self.backoff_base * (2**attempt) * (0.5 + random.random() / 2)

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Request | Response:
        if looks_truncated(response):
            return await self._retry_truncated(request)
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        reason = response_status_message(response.status)
        retry_after = parse_retry_after(response.headers.get(b"Retry-After"))
        assert self.crawler.stats is not None
        if retry_after is not None and retry_after > self.config.retry_after_max:
            # Not waited for; the spider's errback records the failure with its status.
            self.crawler.stats.inc_value("reelguard/retry/retry_after_too_long")
            return response
        retry = self._retry(request, reason)
        if retry is None:
            return response
        delay = self._delay(request, retry_after)
        if retry_after is not None:
            self.crawler.stats.inc_value("reelguard/retry/retry_after_honoured")
        if delay > 0:
            await asyncio.sleep(delay)
        return retry

    async def _retry_truncated(self, request: Request) -> Request:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("reelguard/retry/truncated")
        retry = None if request.meta.get("dont_retry", False) else self._retry(request, TRUNCATED)
        if retry is None:
            raise ResponseDataLossError(TRUNCATED)
        delay = self._delay(request, None)
        if delay > 0:
            await asyncio.sleep(delay)
        return retry

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception
    ) -> Request | None:
        if request.meta.get("dont_retry", False) or not isinstance(
            exception, self.exceptions_to_retry
        ):
            return None
        retry = self._retry(request, exception)
        if retry is None:
            return None  # the spider's errback records the final failure
        delay = self._delay(request, None)
        if delay > 0:
            await asyncio.sleep(delay)
        return retry
