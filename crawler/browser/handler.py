"""scrapy-playwright's download handler, with browser pages reused instead of one per request.

Out of the box scrapy-playwright opens and closes a page for every request, which costs about
half of a light page's render time. :class:`PagePoolPlaywrightHandler` keeps a pool of open pages
per browser context (at most ``PLAYWRIGHT_MAX_PAGES_PER_CONTEXT``) and hands an idle one to each
request with ``meta["playwright"]``; a page that failed, crashed or was closed is dropped and
replaced. Requests that ask for their page (``playwright_include_page``) bypass the pool. Plain
HTTP requests go to Scrapy's HTTP/1.1 handler as before.

Settings: ``PLAYWRIGHT_*`` (scrapy-playwright's), ``REELGUARD_BROWSER_ABORT_RESOURCES``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

if TYPE_CHECKING:
    from playwright.async_api import Page
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


class PagePoolPlaywrightHandler(ScrapyPlaywrightDownloadHandler):
    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self._pools: dict[str, _Pool] = {}

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
        except BaseException:
            await self._forget(pool)
            raise
        self.stats.inc_value("reelguard/browser/pages_created")
        return page

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
        request.meta["playwright_page"] = page
        request.meta["playwright_include_page"] = True
        ok = False
        try:
            response = await super()._download_request_with_retry(request=request, spider=spider)
            ok = True
            self.stats.inc_value("reelguard/browser/pages_served")
            return response
        finally:
            request.meta.pop("playwright_page", None)
            request.meta.pop("playwright_include_page", None)
            await self._release(request, page, reusable=ok)

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
