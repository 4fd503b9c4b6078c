"""Normalise pipeline (100): clean every scraped string, parse prices, currencies and counts.

A listing without an id or a title is dropped (``DropItem``) and counted; nothing else is
dropped here. Functions live in ``crawler.normalize.fields``.

No settings affect this module.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from scrapy.exceptions import DropItem

from crawler.items import CrawledListing, ListingItem, RemovedListing, SellerItem
from crawler.normalize.fields import (
    MAX_TITLE,
    clean,
    normalize_title,
    parse_count,
    parse_price,
)
from crawler.pages import get_pages


class NormalizePipeline:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> NormalizePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, CrawledListing):
            self.listing(item.listing)
            return item
        if isinstance(item, ListingItem):
            return self.listing(item)
        if isinstance(item, SellerItem):
            return self.seller(item)
        if isinstance(item, RemovedListing):
            item.message = clean(item.message, 500)
        return item

    def _clean_strings(self, item: Any, skip: tuple[str, ...] = ()) -> None:
        for f in dataclasses.fields(item):
            value = getattr(item, f.name)
            if f.name in skip:
                continue
            if isinstance(value, str):
                setattr(item, f.name, clean(value))
            elif isinstance(value, list):
                setattr(item, f.name, [c for v in value if (c := clean(str(v), 2000))])

    def listing(self, item: ListingItem) -> ListingItem:
        stats = self.crawler.stats
        self._clean_strings(item, skip=("title",))
        title = clean(item.title, MAX_TITLE)
        listing_id = clean(item.listing_id, 255)
        if not listing_id or not title:
            stats.inc_value("reelguard/dropped/incomplete_listing")
            raise DropItem(f"listing without {'id' if not listing_id else 'title'} at {item.url}")
        item.listing_id, item.title = listing_id, title
        item.title_norm = normalize_title(title)
        default_currency = None
        if item.marketplace:
            default_currency = get_pages(item.marketplace).currency
        item.price, item.currency = parse_price(item.price_text, default_currency)
        item.sales_count = parse_count(item.sales_text)
        return item

    def seller(self, item: SellerItem) -> SellerItem:
        self._clean_strings(item, skip=("licence",))
        if item.licence is not None:
            self._clean_strings(item.licence)
        if not item.seller_id:
            self.crawler.stats.inc_value("reelguard/dropped/incomplete_seller")
            raise DropItem("seller without an id")
        return item
