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

This module has the spiders' arguments, configuration, resuming and listing pages; requests and
the browser decision are :mod:`crawler.spider_fetch`, failed requests and the crawl's events
:mod:`crawler.spider_failures`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy import signals

from crawler.config import ReelguardConfig
from crawler.exceptions import ConfigError, UnknownMarketplace
from crawler.items import CrawledListing, ListingItem, RemovedListing
from crawler.pages import KNOWN_MARKETPLACES
from crawler.pages.adapter import to_page_input
from crawler.profiles import load_profiles, profiles_path
from crawler.spider_fetch import BROWSER_WAIT, FetchingSpider

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from scrapy.crawler import Crawler
    from scrapy.http import Response

__all__ = ["BROWSER_WAIT", "MarketplaceSpider", "split_arg"]

logger = logging.getLogger(__name__)


def split_arg(value: str | list[str] | None) -> list[str]:
    """Spider arguments arrive as comma- (or newline-) separated strings."""
    if value is None:
        return []
    if isinstance(value, list):
        return [v.strip() for v in value if v.strip()]
    return [v.strip() for v in value.replace("\n", ",").split(",") if v.strip()]


class MarketplaceSpider(FetchingSpider):
    """Base of the project's spiders; not a spider itself (no ``name``)."""

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

    # -- responses --------------------------------------------------------------------------
    def page_kind(self, response: Response) -> str:
        kind = response.meta.get("page_kind")
        if kind is None:
            kind = self.pages(response.meta["marketplace"]).classify(to_page_input(response))
        return str(kind)

    async def extract(self, response: Response, page_cls: type) -> Any:
        page = page_cls(response=to_page_input(response))
        return await page.to_item()

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

