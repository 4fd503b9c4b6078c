"""robots.txt as RFC 9309 reads it, with ``Crawl-delay`` applied and every refusal recorded.

Scrapy's ``RobotsTxtMiddleware`` parses whatever ``/robots.txt`` answers with, so a 503 error
page (no rules) or a robots.txt it could not download at all means "crawl everything", and it
ignores ``Crawl-delay``. This subclass keeps its parsing and matching and changes the policy:

* **2xx**: the rules apply. A body that is not robots.txt at all (binary junk, an HTML page)
  has no rules, so everything is allowed, as RFC 9309 says for unparseable lines.
* **4xx** (404 included), except 429: no robots.txt, everything is allowed (RFC 9309 2.3.1.3).
* **5xx and 429**, after the retries of the retry middleware, or a network failure
  (refused, reset, timed out): the robots.txt is unreachable, so nothing on that host is
  crawled in this crawl (RFC 9309 2.3.1.4, "complete disallow"). An ``error`` event says so
  on the robots.txt URL; the pages not fetched are ``robots`` events; the run fails as one
  that fetched nothing, to be tried again later. (A robots.txt request refused by the
  private-address guard is left to that guard: the pages are refused one by one.)
* ``Crawl-delay`` of the group that applies to our user agent spaces the requests to that
  host (HTTP and browser alike, retries included), capped at
  ``REELGUARD_ROBOTS_MAX_CRAWL_DELAY`` seconds.
* Every request robots.txt forbids is a ``robots`` event (``RobotsForbidden``), except after a
  redirect, which the spider handles (a login wall robots.txt forbids is a block).

Settings: ``ROBOTSTXT_OBEY``, ``ROBOTSTXT_USER_AGENT``, ``USER_AGENT``,
``REELGUARD_ROBOTS_MAX_CRAWL_DELAY`` (seconds, default 30).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.robotstxt import RobotParser
from twisted.internet.defer import Deferred

from crawler import signals as rg_signals

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)


class RobotsForbidden(IgnoreRequest):
    """robots.txt forbids the request (or could not be fetched: complete disallow)."""

    recorded = True  # a crawl event was written when it was raised


class DisallowAll(RobotParser):
    """The parser of an unreachable robots.txt: nothing is allowed."""

    def __init__(self, why: str) -> None:
        self.why = why

    @classmethod
    def from_crawler(cls, crawler: Crawler, robotstxt_body: bytes) -> DisallowAll:
        return cls("robots.txt unreachable")

    def allowed(self, url: str | bytes, user_agent: str | bytes) -> bool:
        return False


class RobotsPolicyMiddleware(RobotsTxtMiddleware):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.max_delay = crawler.settings.getfloat("REELGUARD_ROBOTS_MAX_CRAWL_DELAY", 30.0)
        self._delays: dict[str, float] = {}
        self._next_at: dict[str, float] = {}
        self._origin: dict[str, Request] = {}  # the first request to each host

    def _event(self, kind: str, url: str, reason: str, request: Request) -> None:
        self.crawler.signals.send_catch_log(
            rg_signals.crawl_event, kind=kind, url=url, reason=reason,
            marketplace=request.meta.get("marketplace"),
        )

    async def process_request(self, request: Request, spider: Any = None) -> None:
        if request.meta.get("dont_obey_robotstxt") or not request.url.startswith("http"):
            return
        self._origin.setdefault(request.url.split("/", 3)[2], request)
        rp = await self.robot_parser(request)
        self.process_request_2(rp, request)
        await self._pace(request)

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        if rp is None:
            return
        useragent: str | bytes | None = self._robotstxt_useragent
        if not useragent:
            useragent = request.headers.get(b"User-Agent", self._default_useragent)
            assert useragent is not None
        if rp.allowed(request.url, useragent):
            return
        self._stats.inc_value("robotstxt/forbidden")
        if isinstance(rp, DisallowAll):
            reason = f"not fetched: {rp.why}"
        else:
            reason = "forbidden by robots.txt"
        if not request.meta.get("redirect_urls"):
            self._stats.inc_value("reelguard/robots/forbidden")
            self._event("robots", request.url, reason, request)
        raise RobotsForbidden(f"Forbidden by robots.txt: {reason}")

    async def _pace(self, request: Request) -> None:
        """Hold the request until the host's ``Crawl-delay`` since the previous one has passed."""
        netloc = request.url.split("/", 3)[2]
        delay = self._delays.get(netloc)
        if not delay:
            return
        now = time.monotonic()
        at = max(now, self._next_at.get(netloc, 0.0))
        self._next_at[netloc] = at + delay
        if at > now:
            self._stats.inc_value("reelguard/robots/crawl_delay_waits")
            await asyncio.sleep(at - now)

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        status = response.status
        if status == 429 or status >= 500:
            why = (f"robots.txt answered HTTP {status} (after retries): nothing on {netloc} is "
                   "crawled until it can be read (RFC 9309: unreachable means complete disallow)")
            self._stats.inc_value("robotstxt/response_count")
            self._stats.inc_value(f"robotstxt/response_status_count/{status}")
            self._unreachable(response.url, netloc, why, request)
            return
        if 400 <= status < 500:
            # No robots.txt: allowed (the parser of an empty file).
            response = response.replace(body=b"")
        await super()._parse_robots(response, netloc, request)
        parser = self._parsers.get(netloc)
        crawl_delay = getattr(parser, "crawl_delay", None)
        if crawl_delay is None:
            return
        useragent = self._robotstxt_useragent or request.headers.get(
            b"User-Agent", self._default_useragent)
        delay = crawl_delay(useragent)
        if not delay or delay <= 0:
            return
        if delay > self.max_delay:
            self._event("robots", response.url,
                        f"Crawl-delay {delay:g} s capped at {self.max_delay:g} s "
                        "(REELGUARD_ROBOTS_MAX_CRAWL_DELAY)", request)
            delay = self.max_delay
        logger.info("%s: robots.txt Crawl-delay %g s applied", netloc, delay)
        self._stats.set_value(f"reelguard/robots/crawl_delay/{netloc}", delay)
        self._delays[netloc] = delay

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if isinstance(exc, IgnoreRequest):
            super()._robots_error(exc, netloc)  # refused by the guard: the guard decides
            return
        key = f"robotstxt/exception_count/{type(exc)}"
        self._stats.inc_value(key)
        why = (f"robots.txt could not be fetched ({type(exc).__name__}: {exc}): nothing on "
               f"{netloc} is crawled until it can be read (RFC 9309: unreachable means "
               "complete disallow)")
        request = self._origin.get(netloc)
        scheme = request.url.split(":", 1)[0] if request is not None else "http"
        self._unreachable(f"{scheme}://{netloc}/robots.txt", netloc, why, request)

    def _unreachable(self, url: str, netloc: str, why: str, request: Request | None) -> None:
        self._stats.inc_value("reelguard/robots/unreachable")
        self._stats.inc_value("reelguard/errors")
        marketplace = request.meta.get("marketplace") if request is not None else None
        if marketplace:
            self._stats.inc_value(f"reelguard/errors/{marketplace}")
        self.crawler.signals.send_catch_log(
            rg_signals.crawl_event, kind="error", url=url, reason=why, marketplace=marketplace,
        )
        logger.error("%s", why)
        dfd = self._parsers.get(netloc)
        parser = DisallowAll(why)
        self._parsers[netloc] = parser
        if isinstance(dfd, Deferred) and not dfd.called:
            dfd.callback(parser)
