"""How the project's spiders fetch: request building, the browser decision, page limits.

:class:`FetchingSpider` builds every request with the marketplace in ``meta`` (for the block
detector and the run log), the marketplace as its download slot (politeness per marketplace,
whatever the host), an errback that records the failure
(:class:`crawler.spider_failures.FailureHandlingSpider`), and decides per request whether the
browser is needed: ``REELGUARD_BROWSER=auto`` fetches over HTTP and re-fetches in the browser
only a page that says it needs JavaScript (:meth:`FetchingSpider.refetch_in_browser`).

Each marketplace's profile (``crawler.profiles``) gives its browser mode (used when
``REELGUARD_BROWSER`` is ``auto``), its page limit, and the login session the user supplied:
browser requests then use a Playwright context named after the marketplace created with the
``storage_state`` file, HTTP requests carry the session's cookies for the hosts they match.

Settings: ``REELGUARD_BROWSER``, ``REELGUARD_MAX_SEARCH_PAGES``, ``REELGUARD_MAX_SHOP_PAGES``
(the limits :meth:`FetchingSpider.next_page_allowed` applies), ``REELGUARD_PROFILES``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import scrapy
from scrapy_playwright.page import PageMethod

from crawler.spider_failures import FailureHandlingSpider

if TYPE_CHECKING:
    from scrapy.http import Response

# Wait, in the browser, until a page's scripts have put their results into the DOM (or said
# there are none): any element marked data-rendered or data-error, at most 10 s. A page with
# no script-rendered shell (data-render=js) has nothing to wait for: a server-rendered next
# page of a search that needed the browser, or any page under REELGUARD_BROWSER=always,
# would otherwise wait the 10 s out and fail.
BROWSER_WAIT = PageMethod(
    "wait_for_selector",
    "[data-rendered], [data-error], body:not(:has([data-render=js]))",
    state="attached",
    timeout=10_000,
)


class FetchingSpider(FailureHandlingSpider):
    """Request building and browser escalation of the project's spiders (no ``name``)."""

    def make_request(
        self,
        url: str,
        marketplace: str,
        callback: Any,
        meta: dict[str, Any] | None = None,
        browser: bool = False,
        dont_filter: bool = False,
        priority: int = 0,
    ) -> scrapy.Request:
        listing_id = (meta or {}).get("listing_id")
        if (listing_id and (meta or {}).get("source") == "listing"
                and marketplace in getattr(self, "base_urls", {})):
            # One page, one request: a variant of a listing's URL (tracking parameters after
            # its id, ``?id=X&spm=...``) is fetched as the listing's own URL, so that Scrapy's
            # duplicate filter drops the second variant as it does on search pages.
            url = self.pages(marketplace).listing_url(self.base_urls[marketplace], str(listing_id))
        mode = self.browser_mode(marketplace)
        use_browser = mode == "always" or (browser and mode != "never")
        profile = self.profiles.get(marketplace) if hasattr(self, "profiles") else None
        cookies: dict[str | bytes, str | bytes | bool | float | int] = {}
        full_meta: dict[str, Any] = {
            "marketplace": marketplace,
            "download_slot": marketplace,
            **(meta or {}),
        }
        if use_browser:
            # The browser's latency is rendering time, not the server's: give browser requests
            # their own slot and keep them out of AutoThrottle's estimate of the site.
            full_meta["download_slot"] = f"{marketplace}:browser"
            full_meta["autothrottle_dont_adjust_delay"] = True
            full_meta["playwright"] = True
            full_meta["playwright_page_methods"] = [BROWSER_WAIT] if browser else []
            full_meta["fetched_via"] = "browser"
            if profile is not None and profile.storage_state is not None:
                # The user's login session: a context of its own, created from the state file.
                full_meta["playwright_context"] = marketplace
                full_meta["playwright_context_kwargs"] = {
                    "storage_state": str(profile.storage_state)
                }
        else:
            full_meta.pop("playwright", None)
            full_meta["fetched_via"] = "http"
            if profile is not None:
                # The user's session cookies, only for the hosts their domains cover.
                cookies.update(profile.cookies_for(urlsplit(url).hostname))
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            meta=full_meta,
            dont_filter=dont_filter,
            priority=priority,
            cookies=cookies or None,
        )

    def browser_mode(self, marketplace: str) -> str:
        """``REELGUARD_BROWSER``, unless it is ``auto`` and the profile says otherwise."""
        profiles = getattr(self, "profiles", None) or {}
        if self.rg.browser == "auto" and marketplace in profiles:
            return profiles[marketplace].browser
        return self.rg.browser

    def page_limit(self, marketplace: str, setting: int) -> int:
        """Result pages to open: the setting, capped by the profile's ``max_pages``."""
        profile = (getattr(self, "profiles", None) or {}).get(marketplace)
        if profile is not None and profile.max_pages is not None:
            return min(setting, profile.max_pages)
        return setting

    def next_page_allowed(self, response: Response, index: int, setting: str, value: int) -> bool:
        """Whether result page ``index`` (0-based) may be opened; record it when the limit stops us.

        A limit that cuts a crawl short is not an error, but the run must say that the site
        offered more pages than were read (``page_limit`` event, ``reelguard/page_limit`` stat).
        """
        marketplace = response.meta["marketplace"]
        limit = self.page_limit(marketplace, value)
        if index < limit:
            return True
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("reelguard/page_limit")
        self.event("page_limit", response.url,
                   f"stopped after {limit} pages: the site offers more ({setting}={value}"
                   f"{', capped by the profile' if limit < value else ''})", marketplace)
        return False

    def refetch_in_browser(self, response: Response) -> scrapy.Request | None:
        """The same request through the browser, or ``None`` when the browser is off."""
        if response.meta.get("fetched_via") == "browser":
            return None
        assert self.crawler.stats is not None
        if self.browser_mode(response.meta.get("marketplace", "")) == "never":
            # Not an error, but the run must say that it could not see this page's results.
            self.crawler.stats.inc_value("reelguard/browser/needed_but_off")
            self.event(
                "needs_browser",
                response.url,
                "the page renders its results only with JavaScript and REELGUARD_BROWSER=never",
                response.meta.get("marketplace"),
            )
            return None
        self.crawler.stats.inc_value("reelguard/browser/escalated")
        meta = {
            k: v
            for k, v in response.meta.items()
            if k in ("marketplace", "keyword", "page_index", "seller_id", "card")
        }
        return self.make_request(
            response.request.url if response.request else response.url,
            response.meta["marketplace"],
            response.request.callback if response.request else None,
            meta=meta,
            browser=True,
            dont_filter=True,
        )
