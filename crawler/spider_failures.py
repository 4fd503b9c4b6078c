"""The root of the project's spiders: the crawl's record of events, and failed requests.

:class:`FailureHandlingSpider` is what every request's errback and the scheduler's
``request_dropped`` signal reach. A failure becomes a ``crawl_event`` (``error``, ``removed``,
``skipped``, ``blocked``) and slash-named stats (``reelguard/errors/<marketplace>``...), never a
silent drop: a listing page answering 404 is a removal (:class:`~crawler.items.RemovedListing`),
a redirect to a page robots.txt forbids (demomart's login wall) is a block, retried with
backoff, a redirect loop or a redirect to a page already fetched is recorded as such, and a page
dropped on the way (too many redirects, a body over ``DOWNLOAD_MAXSIZE``) says why. It also
knows which listing a request was for (its card, its meta, or its URL).

Not a spider itself (no ``name``): :class:`crawler.spider_fetch.FetchingSpider` builds on it and
:class:`crawler.spider_base.MarketplaceSpider` on that.

Settings: ``REELGUARD_BLOCK_RETRY_TIMES``, ``REELGUARD_BLOCK_BACKOFF`` (through
:class:`~crawler.config.ReelguardConfig`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError

from crawler import signals as rg_signals
from crawler.config import ReelguardConfig
from crawler.items import RemovedListing
from crawler.pages import get_pages
from crawler.profiles import MarketplaceProfile

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from twisted.python.failure import Failure

    from crawler.pages.base import MarketplacePages

logger = logging.getLogger(__name__)

_REDIRECT_META = ("redirect_urls", "redirect_times", "redirect_ttl", "redirect_reasons",
                  "page_kind")


class FailureHandlingSpider(scrapy.Spider):
    """Events, listing ids and failed requests of the project's spiders (no ``name``)."""

    rg: ReelguardConfig
    base_urls: dict[str, str]
    profiles: dict[str, MarketplaceProfile]

    def pages(self, marketplace: str) -> MarketplacePages:
        return get_pages(marketplace)

    def event(self, kind: str, url: str, reason: str, marketplace: str | None) -> None:
        self.crawler.signals.send_catch_log(
            rg_signals.crawl_event, kind=kind, url=url, reason=reason, marketplace=marketplace
        )

    def listing_id_from_url(self, marketplace: str, url: str) -> str | None:
        """The listing id in ``url`` when it is one of ``marketplace``'s listing URLs."""
        marker = "RGLISTINGID0"
        template = self.pages(marketplace).listing_url(self.base_urls[marketplace], marker)
        prefix, _, _ = template.partition(marker)
        if not url.startswith(prefix):
            return None
        found = re.match(r"[^&?#/]+", url[len(prefix):])
        return unquote(found.group(0)) if found else None

    def _listing_id_of(self, request: Any) -> str | None:
        """Which listing a listing-page request was for: its card, its meta, or its URL."""
        meta = request.meta
        if meta.get("card") is not None:
            return str(meta["card"].listing_id)
        if meta.get("listing_id"):
            return str(meta["listing_id"])
        if meta.get("source") == "listing" and meta.get("marketplace") in self.base_urls:
            urls = [*(meta.get("redirect_urls") or []), request.url]
            return self.listing_id_from_url(meta["marketplace"], str(urls[0]))
        return None

    def _redirected_to_wall(self, request: scrapy.Request, original: str,
                            marketplace: str | None) -> Any:
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("reelguard/blocked")
        stats.inc_value(f"reelguard/blocked/{marketplace}")
        stats.inc_value("reelguard/blocked/reason/login_redirect")
        self.event(
            "blocked", original,
            f"redirected to {request.url}, which robots.txt forbids (login wall)", marketplace,
        )
        tries = int(request.meta.get("block_retries", 0))
        if tries >= self.rg.block_retry_times:
            stats.inc_value("reelguard/blocked/gave_up")
            logger.warning("gave up %s: still redirected to a login wall", original)
            return None
        meta = {k: v for k, v in request.meta.items() if k not in _REDIRECT_META}
        meta["block_retries"] = tries + 1
        retry = request.replace(url=original, meta=meta, dont_filter=True)
        pause = min(60.0, self.rg.block_backoff * 2**tries)

        async def later() -> AsyncIterator[scrapy.Request]:
            await asyncio.sleep(pause)
            yield retry

        return later()

    def on_dropped(self, request: scrapy.Request, **_: Any) -> None:
        """A redirect the scheduler dropped as a duplicate: a loop, or a page already fetched.

        Scrapy's duplicate filter drops such requests without calling their errback, so the
        listing that started the chain would vanish from the run's record.
        """
        redirects = request.meta.get("redirect_urls")
        if not redirects:
            return
        marketplace = request.meta.get("marketplace")
        chain = " -> ".join([*map(str, redirects), request.url])
        assert self.crawler.stats is not None
        if request.url in redirects:
            self.crawler.stats.inc_value("reelguard/errors")
            self.crawler.stats.inc_value(f"reelguard/errors/{marketplace}")
            self.event("error", str(redirects[0]), f"redirect loop: {chain}", marketplace)
        else:
            self.crawler.stats.inc_value("reelguard/skipped")
            self.event("skipped", str(redirects[0]),
                       f"redirected to a page this crawl already fetched: {chain}", marketplace)

    def on_error(self, failure: Failure) -> Any:
        request = failure.request  # type: ignore[attr-defined]
        marketplace = request.meta.get("marketplace")
        assert self.crawler.stats is not None
        exc = failure.value
        url = request.url
        if isinstance(exc, HttpError):
            status = exc.response.status
            reason = f"HTTP {status}"
            location = exc.response.headers.get(b"Location")
            if 300 <= status < 400 and location:
                # Scrapy follows http(s) redirects only: file:, data: and the like end here.
                reason += (f": redirect to {location.decode('latin-1')[:200]} not followed "
                           "(only http and https are)")
            listing_id = self._listing_id_of(request)
            if status == 404 and listing_id is not None:
                # A listing page that no longer exists is a removal, not a crawl error.
                self.event("removed", request.url, "HTTP 404", marketplace)
                return [RemovedListing(listing_id, request.url, "HTTP 404", marketplace)]
        elif isinstance(exc, IgnoreRequest):
            redirects = request.meta.get("redirect_urls")
            if redirects and "robots.txt" in str(exc):
                # Redirected to a page robots.txt forbids (demomart's login wall): the block
                # detector never saw it, so the block is recorded and retried here.
                return self._redirected_to_wall(request, str(redirects[0]), marketplace)
            self.crawler.stats.inc_value("reelguard/ignored")
            if getattr(exc, "recorded", False):
                # Refusals, robots.txt and block give-ups were recorded where they happened.
                return None
            # Dropped on the way (too many redirects, a body over DOWNLOAD_MAXSIZE once
            # decompressed): the page was not fetched, which the run must say.
            reason = f"{type(exc).__name__}: {_describe(exc)}"
            if redirects:
                url = str(redirects[0])
                reason += f" ({' -> '.join([*map(str, redirects), request.url])})"
        else:
            reason = f"{type(exc).__name__}: {_describe(exc)}"
        self.crawler.stats.inc_value("reelguard/errors")
        self.crawler.stats.inc_value(f"reelguard/errors/{marketplace}")
        self.event("error", url, reason, marketplace)
        logger.warning("failed %s: %s", url, reason)
        return None



def _describe(exc: BaseException) -> str:
    """An exception's message, or its cause's when it has none (``ResponseDataLossError()``)."""
    text = str(exc).strip()
    if text:
        return text
    if type(exc).__name__ == "DownloadCancelledError":
        # Scrapy cancels a body of unknown length once it passes DOWNLOAD_MAXSIZE and says so
        # only in its log.
        return "download cancelled before its end (a body without Content-Length is " \
            "cancelled this way when it grows past DOWNLOAD_MAXSIZE)"
    cause = exc.__cause__ or exc.__context__
    if cause is not None:
        return f"{type(cause).__name__}: {_describe(cause)}"
    return (type(exc).__doc__ or "").strip().splitlines()[0] if type(exc).__doc__ else ""
