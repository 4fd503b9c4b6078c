"""scrapy-playwright's download handler, with browser pages reused instead of one per request.

Out of the box scrapy-playwright opens and closes a page for every request, which costs about
half of a light page's render time. :class:`PagePoolPlaywrightHandler` keeps a pool of open pages
per browser context (at most ``PLAYWRIGHT_MAX_PAGES_PER_CONTEXT``) and hands an idle one to each
request with ``meta["playwright"]``; a page that failed, crashed or was closed is dropped and
replaced. Requests that ask for their page (``playwright_include_page``) bypass the pool. Plain
HTTP requests go to Scrapy's HTTP/1.1 handler as before.

A reused page costs fewer trips to Playwright's driver than scrapy-playwright's per-request
path (bench/crawl.py measures it): each page is routed once for its life and its route
handler dispatches to the request it is fetching; browser contexts send Scrapy's
``USER_AGENT`` themselves, so sub-resources (stylesheets, scripts) are continued as they are
instead of having their headers read back and rewritten; response headers are read only when
needed; TLS details are asked for only over https. Playwright itself (its node driver) starts
with the first browser request, not with every crawl. The fetch on a pooled page (navigation,
page methods, content, headers, downloads) is :mod:`crawler.browser.page_fetch`.

Timeouts are Scrapy's, as over HTTP: a pooled page's navigation is bounded by the request's
``download_timeout`` (``DOWNLOAD_TIMEOUT``, or ``PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT`` when
that is shorter), and the whole exchange (navigation, page methods, reading the DOM) by twice
that, so a server that never answers or trickles, or a browser that stops responding, cannot
hold a request for longer. Timeouts and network errors come out as Scrapy's
``DownloadTimeoutError`` / ``DownloadFailedError`` so that the retry middleware retries them
as it does over HTTP; the page that failed is closed and replaced.

Settings: ``PLAYWRIGHT_*`` (scrapy-playwright's), ``USER_AGENT``, ``DOWNLOAD_TIMEOUT``,
``REELGUARD_BROWSER_ABORT_RESOURCES``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from scrapy.exceptions import DownloadFailedError, DownloadTimeoutError
from scrapy_playwright._utils import (
    _attach_page_event_handlers,
    _is_safe_close_error,
    _maybe_await,
    _maybe_execute_page_init_callback,
)
from scrapy_playwright.headers import use_scrapy_headers

from crawler.browser.page_fetch import PageFetchingHandler

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.async_api import Page, Route
    from playwright.async_api import Request as PlaywrightRequest
    from scrapy import Request, Spider
    from scrapy.http import Response

logger = logging.getLogger(__name__)

# Sub-resources a monitoring crawl does not need to render the listing text.
ABORTED_RESOURCE_TYPES = frozenset({"image", "media", "font"})


def abort_heavy_requests(request: PlaywrightRequest) -> bool:
    """``PLAYWRIGHT_ABORT_REQUEST`` predicate: skip images, media and fonts."""
    return request.resource_type in ABORTED_RESOURCE_TYPES


class _Pool:
    def __init__(self) -> None:
        self.idle: list[Page] = []
        self.size = 0
        self.changed = asyncio.Condition()


@dataclass
class _Job:
    """The Scrapy request a pooled page is fetching, as its route handler needs it."""

    handler: Callable[[Route, PlaywrightRequest], Any]  # scrapy-playwright's, for this request
    plain_subresources: bool  # sub-resources need no header rewriting: continue them as they are


class PagePoolPlaywrightHandler(PageFetchingHandler):
    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self._pools: dict[str, _Pool] = {}
        self._jobs: dict[Page, _Job] = {}
        self._context_user_agents: dict[str, bytes | None] = {}
        self._launched = False
        self._launch_lock = asyncio.Lock()

    # -- Playwright starts with the first browser request -----------------------------------
    # scrapy-playwright starts Playwright's driver (a node process) when the engine starts,
    # and the engine waits for it: every crawl paid for it, including the many that never
    # open a browser page. It is started on demand instead.
    async def _maybe_launch_in_thread(self) -> None:
        return None

    def _engine_started(self) -> Any:  # Scrapy < 2.14 connects this one instead
        return None

    async def _ensure_launched(self) -> None:
        if self._launched:
            return
        async with self._launch_lock:
            if not self._launched:
                await self._launch()
                self._launched = True

    async def _download_request(self, request: Request, spider: Spider | None = None) -> Response:
        await self._ensure_launched()
        return await super()._download_request(request, spider)

    async def _acquire(self, request: Request, spider: Spider) -> Page:
        name = request.meta.setdefault("playwright_context", "default")
        pool = self._pools.setdefault(name, _Pool())
        async with pool.changed:
            while True:
                while pool.idle:
                    page = pool.idle.pop()
                    if not page.is_closed():
                        return page
                    pool.size -= 1
                if pool.size < self.config.max_pages_per_context:
                    pool.size += 1
                    break
                await pool.changed.wait()
        try:
            page = await self._create_page(request=request, spider=spider)
            # One route for the page's whole life, dispatching to the request it is fetching:
            # scrapy-playwright unroutes and re-routes on every request (two driver round trips).
            await page.route("**", lambda route, pw_request: self._route(page, route, pw_request))
        except BaseException:
            await self._forget(pool)
            raise
        self.stats.inc_value("reelguard/browser/pages_created")
        return page

    async def _route(self, page: Page, route: Route, pw_request: PlaywrightRequest) -> None:
        job = self._jobs.get(page)
        try:
            if job is None:  # a late request of a page between two Scrapy requests
                await route.continue_()
                return
            if (
                job.plain_subresources
                and not pw_request.is_navigation_request()
                and not (self.abort_request and await _maybe_await(self.abort_request(pw_request)))
            ):
                # use_scrapy_headers would only set the User-Agent the context already sends;
                # skipping it saves reading the request's headers back from the driver.
                await route.continue_()
                return
        except PlaywrightError as exc:
            if not _is_safe_close_error(exc):
                raise
            return
        await job.handler(route, pw_request)

    def _plain_subresources(self, request: Request) -> bool:
        if self.process_request_headers is not use_scrapy_headers:
            return False
        name = request.meta.get("playwright_context", "default")
        wrapper = self.context_wrappers.get(name)
        if wrapper is None:
            return False
        context_ua = self._context_user_agents.get(name)
        return context_ua is not None and request.headers.get("User-Agent") == context_ua

    async def _create_browser_context(
        self, name: str, context_kwargs: dict | None, spider: Spider | None = None
    ) -> Any:
        # The context sends Scrapy's User-Agent itself (headers and navigator.userAgent agree),
        # so sub-resource requests need not be rewritten one by one.
        kwargs = dict(context_kwargs or {})
        user_agent = self._crawler.settings.get("USER_AGENT")
        if user_agent and "user_agent" not in kwargs:
            kwargs["user_agent"] = user_agent
        wrapper = await super()._create_browser_context(name, kwargs, spider)
        ua = kwargs.get("user_agent")
        self._context_user_agents[name] = ua.encode() if isinstance(ua, str) else None
        return wrapper

    async def _forget(self, pool: _Pool) -> None:
        async with pool.changed:
            pool.size -= 1
            pool.changed.notify()

    async def _release(self, request: Request, page: Page, reusable: bool) -> None:
        pool = self._pools[request.meta.get("playwright_context", "default")]
        if reusable and not page.is_closed():
            async with pool.changed:
                pool.idle.append(page)
                pool.changed.notify()
            return
        if not page.is_closed():
            try:
                await page.close()
            except Exception:  # the page or its browser is already gone
                logger.debug("closing a failed page", exc_info=True)
            self.stats.inc_value("playwright/page_count/closed")
        await self._forget(pool)

    async def _download_request_with_retry(self, request: Request, spider: Spider) -> Response:
        if request.meta.get("playwright_include_page") or request.meta.get("playwright_page"):
            return await super()._download_request_with_retry(request=request, spider=spider)
        page = await self._acquire(request, spider)
        context_name = request.meta.setdefault("playwright_context", "default")
        request.meta["playwright_page"] = page
        request.meta["playwright_include_page"] = True  # scrapy-playwright must not close it
        handlers = request.meta.get("playwright_page_event_handlers") or {}
        self._jobs[page] = _Job(
            handler=self._make_request_handler(
                context_name=context_name,
                method=request.method,
                url=request.url,
                headers=request.headers,
                body=request.body,
                encoding=request.encoding,
                spider=spider,
                initial_request_done=asyncio.Event(),
            ),
            plain_subresources=self._plain_subresources(request),
        )
        ok = False
        timeout = self._navigation_timeout(request)
        try:
            _attach_page_event_handlers(
                page=page, request=request, spider=spider, context_name=context_name
            )
            await _maybe_execute_page_init_callback(
                page=page, request=request, context_name=context_name, spider=spider
            )
            try:
                response = await asyncio.wait_for(
                    self._download_with_pooled_page(request, page, spider),
                    timeout=2 * timeout if timeout else None,
                )
            except TimeoutError as exc:  # the guard, or Playwright's own timeout
                raise DownloadTimeoutError(
                    f"Getting {request.url} took longer than {timeout:g} seconds in the browser"
                    f" ({_first_line(exc) or 'no answer'})"
                ) from exc
            except PlaywrightTimeoutError as exc:
                raise DownloadTimeoutError(
                    f"Getting {request.url} took longer than {timeout:g} seconds in the browser"
                    f" ({_first_line(exc)})"
                ) from exc
            except PlaywrightError as exc:
                if "net::ERR_" not in str(exc):
                    raise
                raise DownloadFailedError(f"{request.url}: {_first_line(exc)}") from exc
            ok = True
            self.stats.inc_value("reelguard/browser/pages_served")
            return response
        finally:
            self._jobs.pop(page, None)
            # A reused page must not keep calling this request's event handlers.
            for event, handler in handlers.items():
                callback = getattr(spider, handler, None) if isinstance(handler, str) else handler
                if callback is not None:
                    try:
                        page.remove_listener(event, callback)
                    except (KeyError, ValueError):
                        pass
            request.meta.pop("playwright_page", None)
            request.meta.pop("playwright_include_page", None)
            await self._release(request, page, reusable=ok)

    def _navigation_timeout(self, request: Request) -> float:
        """Seconds the navigation may take: the request's ``download_timeout`` (set from
        ``DOWNLOAD_TIMEOUT`` for every request), capped by Playwright's navigation timeout."""
        limits = [float(t) for t in (request.meta.get("download_timeout"),) if t]
        if self.config.navigation_timeout_ms:
            limits.append(self.config.navigation_timeout_ms / 1000)
        goto = request.meta.get("playwright_page_goto_kwargs") or {}
        if goto.get("timeout"):
            limits = [float(goto["timeout"]) / 1000]
        timeout = min(limits) if limits else 0.0
        if timeout and not goto.get("timeout"):
            request.meta["playwright_page_goto_kwargs"] = {**goto, "timeout": timeout * 1000}
        return timeout


    async def _close(self) -> None:
        for pool in self._pools.values():
            for page in pool.idle:
                if not page.is_closed():
                    try:
                        await page.close()
                        self.stats.inc_value("playwright/page_count/closed")
                    except Exception:
                        logger.debug("closing an idle page", exc_info=True)
            pool.idle.clear()
        await super()._close()


def _first_line(exc: BaseException) -> str:
    """Playwright's messages carry a call log after the first line."""
    return str(exc).strip().split("\n", 1)[0]
