"""What the search, storefront and listing spiders share: where to go and how to fetch.

A :class:`MarketplaceSpider` crawls one or more marketplaces, each through its page-object
bundle (``crawler.pages``). It builds every request with the marketplace in ``meta`` (for the
block detector and the run log), the marketplace as its download slot (politeness per
marketplace, whatever the host), an errback that records the failure, and decides per request
whether the browser is needed: ``REELGUARD_BROWSER=auto`` fetches over HTTP and re-fetches in
the browser only a page that says it needs JavaScript (``SearchResults.needs_browser``).

Each marketplace's profile (``crawler.profiles``) gives its default base URL (used when
``REELGUARD_MARKETPLACE_URLS`` has none), its browser mode (used when ``REELGUARD_BROWSER`` is
``auto``), its page limit, and the login session the user supplied: browser requests then use a
Playwright context named after the marketplace created with the ``storage_state`` file, HTTP
requests carry the session's cookies for the hosts they match.

Resuming (``--set REELGUARD_RESUME=true``): a search or storefront crawl run again after it was
stopped (Ctrl-C, ``kill -9``, a database that gave up) with the same arguments does not open
the listing pages of listings those unfinished runs stored: it finds them in the runs of the
same job and arguments since the last finished one (``crawler.db.runs.runs_to_resume``) and
their observations. Result and shop index pages are fetched again (that is how the remainder
is found); every other listing page is fetched once. The ``listing`` spider resumes with
``--due-hours``: listings an interrupted re-check saw are not due again.

Settings: ``REELGUARD_MARKETPLACE_URLS``, ``REELGUARD_BROWSER``, ``REELGUARD_FOLLOW_LISTINGS``,
``REELGUARD_MAX_SEARCH_PAGES``, ``REELGUARD_MAX_SHOP_PAGES``, ``REELGUARD_PROFILES``,
``REELGUARD_RESUME`` (default false).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy_playwright.page import PageMethod

from crawler import signals as rg_signals
from crawler.config import ReelguardConfig
from crawler.exceptions import ConfigError, UnknownMarketplace
from crawler.items import CrawledListing, ListingItem, RemovedListing
from crawler.pages import KNOWN_MARKETPLACES, get_pages
from crawler.pages.adapter import to_page_input
from crawler.profiles import MarketplaceProfile, load_profiles, profiles_path

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

    from crawler.pages.base import MarketplacePages

logger = logging.getLogger(__name__)

_REDIRECT_META = ("redirect_urls", "redirect_times", "redirect_ttl", "redirect_reasons",
                  "page_kind")

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


def split_arg(value: str | list[str] | None) -> list[str]:
    """Spider arguments arrive as comma- (or newline-) separated strings."""
    if value is None:
        return []
    if isinstance(value, list):
        return [v.strip() for v in value if v.strip()]
    return [v.strip() for v in value.replace("\n", ",").split(",") if v.strip()]


class MarketplaceSpider(scrapy.Spider):
    """Base of the project's spiders; not a spider itself (no ``name``)."""

    rg: ReelguardConfig
    base_urls: dict[str, str]
    profiles: dict[str, MarketplaceProfile]
    resume_skip: frozenset[tuple[str, str]] = frozenset()  # (marketplace, id): _load_resume

    def __init__(self, marketplace: str = "all", run_id: str | int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        wanted = split_arg(marketplace)
        if not wanted or wanted == ["all"]:
            wanted = []  # resolved in from_crawler against the configured URLs
        for name in wanted:
            if name not in KNOWN_MARKETPLACES:
                raise UnknownMarketplace(
                    f"unknown marketplace {name!r}; known: {', '.join(KNOWN_MARKETPLACES)}"
                )
        self.marketplaces: list[str] = wanted
        self.run_id = int(run_id) if run_id else None
        self.run_args: dict[str, Any] = {"marketplace": marketplace, **kwargs}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> MarketplaceSpider:
        spider: MarketplaceSpider = super().from_crawler(crawler, *args, **kwargs)
        spider.rg = ReelguardConfig.from_settings(crawler.settings)
        spider.profiles = load_profiles(profiles_path(crawler.settings))
        defaults = {m: p.base_url for m, p in spider.profiles.items() if p.base_url}
        explicit = spider.rg.marketplace_urls
        # A marketplace named explicitly (-m taobao) may use its profile's default base URL;
        # "all" means the marketplaces given URLs (the demo sites always need one).
        urls = {**{m: defaults[m] for m in spider.marketplaces if m in defaults}, **explicit}
        if not spider.marketplaces:
            spider.marketplaces = [m for m in KNOWN_MARKETPLACES if m in explicit]
            if not spider.marketplaces:
                raise ConfigError(
                    "no marketplace to crawl: set REELGUARD_MARKETPLACE_URLS "
                    "(name=url,...) or run `reelguard demo`"
                )
        missing = [m for m in spider.marketplaces if m not in urls]
        if missing:
            raise ConfigError(
                f"no base URL for {', '.join(missing)}: set REELGUARD_MARKETPLACE_URLS "
                "(e.g. demomart=http://127.0.0.1:8800) or start `reelguard fixtures serve`"
            )
        spider.base_urls = {m: urls[m] for m in spider.marketplaces}
        # Every argument the spider was given: what the run records, and what a resumed run
        # must match.
        spider.run_args = {"marketplace": "all", **{k: v for k, v in kwargs.items()
                                                     if k != "run_id"}}
        spider.resume_skip = spider._load_resume(crawler)
        crawler.signals.connect(spider.on_dropped, signal=signals.request_dropped)
        return spider

    def _load_resume(self, crawler: Crawler) -> frozenset[tuple[str, str]]:
        """Listings stored by the unfinished runs this crawl resumes (none unless asked)."""
        if not crawler.settings.getbool("REELGUARD_RESUME") or self.run_id:
            return frozenset()  # a monitoring pass's spiders join its run: nothing to resume
        from crawler.db.runs import listings_observed, runs_to_resume
        from crawler.db.session import session_scope
        from crawler.storage import database_from_settings

        db = database_from_settings(crawler.settings)
        with session_scope(db.sessions) as session:
            run_ids = runs_to_resume(session, self.name, self.run_args)
            known = listings_observed(session, run_ids)

        def record(**_: Any) -> None:
            assert crawler.stats is not None
            crawler.stats.set_value("reelguard/resume/runs", ",".join(map(str, run_ids)))
            crawler.stats.set_value("reelguard/resume/known", len(known))

        crawler.signals.connect(record, signal=signals.spider_opened, weak=False)
        logger.info("resuming %s run(s) %s: %d listing(s) already stored are not fetched again",
                    self.name, run_ids or "(none unfinished)", len(known))
        return frozenset(known)

    # -- requests ---------------------------------------------------------------------------
    def pages(self, marketplace: str) -> MarketplacePages:
        return get_pages(marketplace)

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

    # -- responses --------------------------------------------------------------------------
    def page_kind(self, response: Response) -> str:
        kind = response.meta.get("page_kind")
        if kind is None:
            kind = self.pages(response.meta["marketplace"]).classify(to_page_input(response))
        return str(kind)

    async def extract(self, response: Response, page_cls: type) -> Any:
        page = page_cls(response=to_page_input(response))
        return await page.to_item()

    def event(self, kind: str, url: str, reason: str, marketplace: str | None) -> None:
        self.crawler.signals.send_catch_log(
            rg_signals.crawl_event, kind=kind, url=url, reason=reason, marketplace=marketplace
        )

    def unexpected_page(self, response: Response, expected: str, kind: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"reelguard/unexpected_page/{kind}")
        self.event(
            "unknown_page" if kind == "unknown" else "unexpected_page",
            response.url,
            f"expected a {expected} page, got {kind} (HTTP {response.status})",
            response.meta.get("marketplace"),
        )

    def with_context(self, item: ListingItem, response: Response, source: str) -> CrawledListing:
        """Fill the crawl context of ``item`` and wrap it with its response for the pipelines."""
        item.marketplace = response.meta["marketplace"]
        item.source = source
        item.keyword = response.meta.get("keyword")
        item.fetched_via = response.meta.get("fetched_via", "http")
        return CrawledListing(listing=item, response=response)

    def listing_request(
        self, card: ListingItem, marketplace: str, source: str, keyword: str | None
    ) -> scrapy.Request | None:
        """The request of ``card``'s listing page; ``None`` when a resumed run has it already
        (callbacks yield it as is: Scrapy ignores ``None``)."""
        if (marketplace, card.listing_id) in self.resume_skip:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("reelguard/resume/skipped")
            return None
        pages = self.pages(marketplace)
        url = pages.listing_url(self.base_urls[marketplace], card.listing_id)
        card.marketplace, card.source, card.keyword = marketplace, source, keyword
        return self.make_request(
            url,
            marketplace,
            self.parse_listing,
            meta={"card": card, "keyword": keyword, "source": source},
            priority=10,  # finish listings before opening more result pages
        )

    async def parse_listing(self, response: Response) -> AsyncIterator[Any]:
        marketplace = response.meta["marketplace"]
        pages = self.pages(marketplace)
        kind = self.page_kind(response)
        source = response.meta.get("source", "listing")
        if kind == "item":
            item: ListingItem = await self.extract(response, pages.listing_page)
            yield self.with_context(item, response, source)
        elif kind == "removed":
            removed: RemovedListing = await self.extract(response, pages.removed_page)
            if removed.listing_id is None:
                removed.listing_id = self._listing_id_of(response.request or response)
            removed.marketplace = marketplace
            self.event("removed", response.url, removed.message or "listing removed", marketplace)
            yield removed
        else:
            self.unexpected_page(response, "listing", kind)

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
