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

    def marketplace_of(self, url: str) -> str:
        for marketplace, base in self.base_urls.items():
            if url.startswith(base + "/") or url == base:
                return marketplace
        raise ConfigError(f"{url}: not on any configured marketplace ({', '.join(self.base_urls)})")

    async def start(self):  # type: ignore[override]
        if self.urls:
            targets = [(self.marketplace_of(u), u) for u in self.urls]
        else:
            targets = [
                (m, self.pages(m).listing_url(self.base_urls[m], listing_id))
                for m, listing_id in listings_due(self.settings, self.marketplaces, self.due_hours)
            ]
        for marketplace, url in targets:
            yield self.make_request(url, marketplace, self.parse_listing, meta={"source": "listing"})
