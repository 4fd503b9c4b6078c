"""Store pipeline (400): write each listing (with its match rows), seller and removal at once.

Every item is its own short transaction (upserts on natural keys), so a crawl killed at any
moment keeps everything it stored and a re-crawl never duplicates a listing, a seller or an
observation. A database that is locked or briefly unavailable is retried with backoff; one
that stays unavailable stops the crawl with a ``StorageError`` (exit code 4).

Settings: ``REELGUARD_DATABASE_URL``, ``REELGUARD_DB_RETRY_TIMES`` (default 5).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from crawler.db import repo
from crawler.db.models import Listing
from crawler.db.session import session_scope
from crawler.exceptions import StorageError
from crawler.items import CrawledListing, ListingItem, RemovedListing, SellerItem
from crawler.matching.store import upsert_match
from crawler.storage import database_from_settings

logger = logging.getLogger(__name__)


class StorePipeline:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.db = database_from_settings(crawler.settings)
        self.retry_times = crawler.settings.getint("REELGUARD_DB_RETRY_TIMES", 5)
        self.base_urls: dict[str, str] = {}
        # Marketplace row ids, once a transaction that ensured the row has committed.
        self._market_ids: dict[str, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> StorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        spider = self.crawler.spider
        self.base_urls = dict(getattr(spider, "base_urls", {}) or {})

    def process_item(self, item: Any) -> Any:
        crawled = item if isinstance(item, CrawledListing) else None
        target = crawled.listing if crawled is not None else item
        if not isinstance(target, (ListingItem, SellerItem, RemovedListing)):
            return item
        for attempt in range(self.retry_times + 1):
            try:
                with session_scope(self.db.sessions) as session:
                    marketplace, market_id = self._write(session, target, crawled)
                self._market_ids.setdefault(marketplace, market_id)
                break
            except OperationalError as exc:
                if attempt >= self.retry_times:
                    raise StorageError(f"cannot write to {self.db.url}: {exc.orig}") from exc
                self.crawler.stats.inc_value("reelguard/store/retried")
                time.sleep(min(5.0, 0.2 * 2**attempt))
        return item

    def _run_id(self) -> int | None:
        return getattr(self.crawler.spider, "run_id", None)

    def _write(
        self, session: Any, item: Any, crawled: CrawledListing | None = None
    ) -> tuple[str, int]:
        """Write ``item`` in ``session``; return its marketplace and the marketplace's row id."""
        now = dt.datetime.now(dt.UTC)
        stats = self.crawler.stats
        marketplace = item.marketplace or "unknown"
        market_id = self._market_ids.get(marketplace)
        if market_id is None:
            market_id = repo.ensure_marketplace(
                session, marketplace, self.base_urls.get(marketplace)
            )
        run_id = self._run_id()
        if isinstance(item, SellerItem):
            repo.upsert_seller(session, market_id, item, run_id, now, full_profile=True)
            stats.inc_value("reelguard/store/sellers")
            return marketplace, market_id
        if isinstance(item, RemovedListing):
            if item.listing_id is None:
                return marketplace, market_id
            row = session.execute(
                select(Listing.id).where(
                    Listing.marketplace_id == market_id, Listing.listing_key == item.listing_id
                )
            ).scalar_one_or_none()
            if row is not None:
                session.execute(
                    update(Listing)
                    .where(Listing.id == row, Listing.removed_at.is_(None))
                    .values(status="removed", removed_at=now, last_seen=now)
                )
                stats.inc_value("reelguard/store/removed")
            return marketplace, market_id
        seller_db_id = None
        if item.seller_id:
            seller = SellerItem(
                seller_id=item.seller_id, name=item.seller_name, shop_url=item.shop_url,
                marketplace=marketplace,
            )
            seller_db_id = repo.upsert_seller(session, market_id, seller, run_id, now)
        listing_id, created = repo.upsert_listing(
            session, market_id, item, seller_db_id, run_id, now
        )
        if run_id is not None:
            repo.record_observation(session, listing_id, run_id, item, now)
        if crawled is not None:
            crawled.listing_db_id = listing_id
            if crawled.decision is not None:
                for member in crawled.members:
                    upsert_match(session, listing_id, member, crawled.decision, run_id, now)
                stats.inc_value("reelguard/store/matches", len(crawled.members))
        stats.inc_value("reelguard/store/listings_created" if created else
                        "reelguard/store/listings_updated")
        return marketplace, market_id
