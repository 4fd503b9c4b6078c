"""``search``: search each marketplace for catalogue titles (or ``-a keywords=``).

``scrapy crawl search -a marketplace=demomart -a keywords="黑暗骑士,Fight Club"``; without
``keywords`` the catalogue in the database gives them (``-a strategy=primary|all``,
``-a limit=N``). Result pages are followed up to ``REELGUARD_MAX_SEARCH_PAGES``; each listing
page is opened (``REELGUARD_FOLLOW_LISTINGS``) or the result card is kept as it is.
"""

from __future__ import annotations

from typing import Any

from crawler.catalog.store import catalog_keywords
from crawler.items import SearchResults
from crawler.spider_base import MarketplaceSpider, split_arg


class SearchSpider(MarketplaceSpider):
    name = "search"

    def __init__(self, keywords: str | None = None, strategy: str = "primary",
                 limit: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keywords = split_arg(keywords)
        self.strategy = strategy
        self.limit = int(limit) if limit else None

    def keywords_for(self, marketplace: str) -> list[str]:
        if self.keywords:
            return self.keywords
        language = self.pages(marketplace).language
        return catalog_keywords(self.settings, language, self.strategy, self.limit)

    async def start(self):  # type: ignore[override]
        for marketplace in self.marketplaces:
            pages = self.pages(marketplace)
            base = self.base_urls[marketplace]
            for keyword in self.keywords_for(marketplace):
                yield self.make_request(
                    pages.search_url(base, keyword, 0),
                    marketplace,
                    self.parse_search,
                    meta={"keyword": keyword, "page_index": 0},
                )

    async def parse_search(self, response):  # type: ignore[no-untyped-def]
        marketplace = response.meta["marketplace"]
        kind = self.page_kind(response)
        if kind != "search":
            self.unexpected_page(response, "search", kind)
            return
        results: SearchResults = await self.extract(response, self.pages(marketplace).search_page)
        if results.needs_browser and not results.listings:
            request = self.refetch_in_browser(response)
            if request is not None:
                yield request
                return
        keyword = response.meta.get("keyword")
        self.crawler.stats.inc_value(f"reelguard/search/results/{marketplace}", len(results.listings))
        for card in results.listings:
            if self.rg.follow_listings:
                yield self.listing_request(card, marketplace, "search", keyword)
            else:
                yield self.with_context(card, response, "search")
        index = response.meta.get("page_index", 0) + 1
        if results.next_page_url and self.next_page_allowed(
            response, index, "REELGUARD_MAX_SEARCH_PAGES", self.rg.max_search_pages
        ):
            yield self.make_request(
                results.next_page_url,
                marketplace,
                self.parse_search,
                meta={"keyword": keyword, "page_index": index},
                browser=response.meta.get("fetched_via") == "browser",
            )
