"""Recognise login walls, captchas and rate-limit pages; record them, back off, retry.

A short page served as a success (2xx) that the classifier cannot place and that says in words
that the client is sending too many requests (``crawler.pages.rate_limit``) is a block page too (reason ``rate_limited``).

A block page is never handed to a spider as content: the marketplace's page classifier
(``crawler.pages.<marketplace>.classify``) decides from the page itself, whatever its status
(captchas usually come with 200). Each block is counted (``reelguard/blocked``) and recorded on
the crawl run; the marketplace's download slot is paused with an exponential backoff and slowed;
the original URL (before any redirect to a login page) is retried up to
``REELGUARD_BLOCK_RETRY_TIMES``, then dropped as ``BlockedRequest``. After
``REELGUARD_MAX_BLOCKED`` block pages the crawl stops with reason ``blocked``.

The page kind is left in ``response.meta["page_kind"]`` so callbacks do not classify twice.

Settings: ``REELGUARD_BLOCK_RETRY_TIMES``, ``REELGUARD_BLOCK_BACKOFF``, ``REELGUARD_MAX_BLOCKED``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest
from scrapy.http import TextResponse

from crawler import signals as rg_signals
from crawler.config import ReelguardConfig
from crawler.pages import get_pages
from crawler.pages.adapter import to_page_input
from crawler.pages.rate_limit import rate_limit_notice

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

MAX_PAUSE = 20.0  # a longer pause only delays the crawl's own give-up and stop


class BlockedRequest(IgnoreRequest):
    """Given up: the marketplace kept answering with a block page."""

    recorded = True  # a crawl event was written when it was raised


class BlockDetectionMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.config = ReelguardConfig.from_settings(crawler.settings)
        self._strikes: dict[str, int] = {}
        self._paused_until: dict[str, float] = {}
        self._blocked_total = 0
        self._closing = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BlockDetectionMiddleware:
        return cls(crawler)

    @staticmethod
    def _slot(request: Request) -> str:
        # One backoff per marketplace, whether the block came over HTTP or in the browser.
        return str(request.meta.get("marketplace") or request.meta.get("download_slot") or "")

    async def process_request(self, request: Request) -> None:
        if self._closing:
            return  # the crawl is stopping: do not hold requests back
        until = self._paused_until.get(self._slot(request))
        if until is not None:
            wait = until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        return

    def process_response(self, request: Request, response: Response) -> Request | Response:
        marketplace = request.meta.get("marketplace")
        if not marketplace or not isinstance(response, TextResponse):
            return response
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value(f"reelguard/pages/{marketplace}")
        if "playwright" in response.flags:
            stats.inc_value(f"reelguard/browser/{marketplace}")
        pages = get_pages(marketplace)
        page_input = to_page_input(response)
        kind = pages.classify(page_input)
        request.meta["page_kind"] = kind
        slot = self._slot(request)
        # An error status (429, 503...) is the retry middleware's to handle, Retry-After and all;
        # a notice in words only that came as a success is a block page: back off from it.
        notice = (rate_limit_notice(response.selector)
                  if kind == "unknown" and 200 <= response.status < 300 else None)
        if notice is not None:
            request.meta["page_kind"] = kind = "blocked"
            return self._on_block(request, response, marketplace, slot,
                                  reason=f"rate_limited (\"{notice}\")")
        if kind != "blocked":
            if self._strikes.get(slot):
                self._strikes[slot] = max(0, self._strikes[slot] - 1)
            return response
        return self._on_block(request, response, marketplace, slot)

    def _on_block(
        self, request: Request, response: Response, marketplace: str, slot: str,
        reason: str | None = None,
    ) -> Request:
        stats = self.crawler.stats
        assert stats is not None
        if reason is None:
            pages = get_pages(marketplace)
            try:
                blocked = pages.blocked_page(response=to_page_input(response))
                reason = str(_sync_field(blocked, "reason") or "blocked")
            except Exception:  # the classifier said blocked; the reason is only detail
                logger.exception("could not read the block page at %s", response.url)
                reason = "blocked"
        stats.inc_value("reelguard/blocked")
        stats.inc_value(f"reelguard/blocked/{marketplace}")
        stats.inc_value(f"reelguard/blocked/reason/{reason.split(' ', 1)[0]}")
        original = (request.meta.get("redirect_urls") or [request.url])[0]
        self.crawler.signals.send_catch_log(
            rg_signals.crawl_event,
            kind="blocked",
            url=original,
            reason=f"{reason} page at {response.url}",
            marketplace=marketplace,
        )
        strikes = self._strikes.get(slot, 0) + 1
        self._strikes[slot] = strikes
        pause = min(MAX_PAUSE, self.config.block_backoff * 2 ** (strikes - 1))
        self._paused_until[slot] = time.monotonic() + pause
        self._slow_slot(slot, pause)
        self._blocked_total += 1
        if self.config.max_blocked and self._blocked_total >= self.config.max_blocked:
            self._close("blocked")
        tries = request.meta.get("block_retries", 0)
        if tries >= self.config.block_retry_times:
            stats.inc_value("reelguard/blocked/gave_up")
            raise BlockedRequest(f"{marketplace}: still blocked ({reason}) after {tries} retries")
        meta = {
            k: v
            for k, v in request.meta.items()
            if k not in ("redirect_urls", "redirect_times", "redirect_ttl", "redirect_reasons")
        }
        meta["block_retries"] = tries + 1
        return request.replace(url=original, meta=meta, dont_filter=True)

    def _slow_slot(self, slot_key: str, pause: float) -> None:
        engine = self.crawler.engine
        if engine is None:
            return
        slot = engine.downloader.slots.get(slot_key)
        if slot is not None:
            slot.delay = max(slot.delay, min(pause / 4, 5.0))

    def _close(self, reason: str) -> None:
        if self._closing or self.crawler.engine is None:
            return
        self._closing = True
        logger.error(
            "stopping the crawl: %d block pages (REELGUARD_MAX_BLOCKED=%d)",
            self._blocked_total,
            self.config.max_blocked,
        )
        asyncio.ensure_future(self.crawler.engine.close_spider_async(reason=reason))


def _sync_field(page: object, name: str) -> object:
    """Read a synchronous ``@field`` of a page object."""
    value = getattr(page, name)
    if asyncio.iscoroutine(value):
        value.close()
        return None
    return value
