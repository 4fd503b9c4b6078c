"""``listing``: (re-)check listing pages: ``-a urls=URL[,URL...]`` or those due in the database.

With ``urls`` each URL's marketplace is the one whose base URL it starts with (or
``-a marketplace=``). Without, ``-a due_hours=N`` re-checks every active listing of the chosen
marketplaces not seen for N hours (default 0: all of them). A page that says the listing is gone
marks it removed.
"""

from __future__ import annotations

from typing import Any

from crawler.catalog.store import listings_due
from crawler.exceptions import ConfigError
from crawler.spider_base import MarketplaceSpider, split_arg


class ListingSpider(MarketplaceSpider):
    name = "listing"

    def __init__(self, urls: str | None = None, due_hours: str = "0", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = split_arg(urls)
        self.due_hours = float(due_hours)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ListingSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        assert isinstance(spider, ListingSpider)
        # Refuse foreign URLs (file://, other hosts) now, as one clear error, not in start().
        for url in spider.urls:
            spider.marketplace_of(url)
        return spider

    def marketplace_of(self, url: str) -> str:
        for marketplace, base in self.base_urls.items():
            if url.startswith(base + "/") or url == base:
                return marketplace
        raise ConfigError(f"{url}: not on any configured marketplace ({', '.join(self.base_urls)})")

    async def start(self):  # type: ignore[override]
        targets: list[tuple[str, str, str | None]]
        if self.urls:
            targets = []
            for u in self.urls:
                marketplace = self.marketplace_of(u)
                targets.append((marketplace, u, self.listing_id_from_url(marketplace, u)))
        else:
            targets = [
                (m, self.pages(m).listing_url(self.base_urls[m], listing_id), listing_id)
                for m, listing_id in listings_due(self.settings, self.marketplaces, self.due_hours)
            ]
        for marketplace, url, listing_id in targets:
            # The listing id lets a 404 mark the stored listing removed.
            yield self.make_request(url, marketplace, self.parse_listing,
                                    meta={"source": "listing", "listing_id": listing_id})
