"""Store pipeline (400): write each listing (with its match rows), seller and removal at once.

Every item is its own short transaction (upserts on natural keys), so a crawl killed at any
moment keeps everything it stored and a re-crawl never duplicates a listing, a seller or an
observation. A database that is locked (SQLite: another writer past ``busy_timeout``,
``DatabaseLocked``) or briefly unavailable (a dropped connection, ``DatabaseUnreachable``) is
retried with backoff, up to ``REELGUARD_DB_RETRY_TIMES`` times; the item is written late, not
lost. One that stays unavailable stops the crawl: the item, and every item after it, is dropped
(``DropItem``, counted in ``reelguard/store/not_stored``), the spider is closed with the reason
``database_unavailable`` (the run fails, the command exits 4: see ``crawler.monitor.runner``)
and, at close, each listing not stored is an ``error`` event naming why, so that the next
crawl stores it (the upserts make that run idempotent).

Settings: ``REELGUARD_DATABASE_URL``, ``REELGUARD_DB_RETRY_TIMES`` (default 5).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any

from scrapy.exceptions import DropItem
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from crawler import signals as rg_signals
from crawler.db import repo
from crawler.db.errors import DatabaseLocked, DatabaseUnreachable
from crawler.db.models import Listing
from crawler.db.session import session_scope
from crawler.extensions.runlog import DATABASE_UNAVAILABLE
from crawler.items import CrawledListing, ListingItem, RemovedListing, SellerItem
from crawler.matching.store import upsert_match
from crawler.storage import database_from_settings

logger = logging.getLogger(__name__)

# What a retry can outlive: a lock held by another writer, a connection that was dropped.
# (session_scope turns the driver's OperationalError into the first two.)
TRANSIENT = (DatabaseLocked, DatabaseUnreachable, OperationalError)
CLOSE_REASON = DATABASE_UNAVAILABLE


class StorePipeline:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.db = database_from_settings(crawler.settings)
        self.retry_times = crawler.settings.getint("REELGUARD_DB_RETRY_TIMES", 5)
        self.base_urls: dict[str, str] = {}
        # Marketplace row ids, once a transaction that ensured the row has committed.
        self._market_ids: dict[str, int] = {}
        # Why the database was given up on (then every further item is dropped at once), and
        # the listings not stored because of it: (url, marketplace).
        self.unavailable: str | None = None
        self.not_stored: list[tuple[str, str | None]] = []

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
        if self.unavailable is not None:
            self._not_stored(target, self.unavailable, None)
        stats = self.crawler.stats
        for attempt in range(self.retry_times + 1):
            try:
                with session_scope(self.db.sessions) as session:
                    marketplace, market_id = self._write(session, target, crawled)
                self._market_ids.setdefault(marketplace, market_id)
                break
            except TRANSIENT as exc:
                why = _why(exc)
                if attempt >= self.retry_times:
                    self._give_up(why)
                    self._not_stored(target, self.unavailable or why, exc)
                stats.inc_value("reelguard/store/retried")
                pause = min(5.0, 0.2 * 2**attempt)
                logger.warning("database busy (%s): retry %d of %d in %.1f s",
                               why, attempt + 1, self.retry_times, pause)
                # Blocking on purpose: nothing else can be stored meanwhile either, and the
                # downloads wait instead of piling up items.
                time.sleep(pause)
        return item

    def _give_up(self, why: str) -> None:
        """Stop trying: close the spider, which makes the command exit 4."""
        if self.unavailable is not None:
            return
        self.unavailable = (f"database unavailable after {self.retry_times} retries "
                            f"(REELGUARD_DB_RETRY_TIMES): {why}")
        self.crawler.stats.set_value("reelguard/store/unavailable", self.unavailable)
        logger.error("stopping the crawl: %s", self.unavailable)
        engine = self.crawler.engine
        if engine is not None:
            asyncio.ensure_future(engine.close_spider_async(reason=CLOSE_REASON))

    def _not_stored(self, target: Any, why: str, cause: BaseException | None) -> None:
        url = getattr(target, "url", None) or getattr(target, "shop_url", None) or ""
        key = getattr(target, "listing_id", None) or getattr(target, "seller_id", None)
        self.not_stored.append((str(url), getattr(target, "marketplace", None)))
        self.crawler.stats.inc_value("reelguard/store/not_stored")
        raise DropItem(f"not stored ({type(target).__name__} {key}): {why}") from cause

    def close_spider(self) -> None:
        # The lock may be gone by now: say, on the run, which listings this crawl lost.
        for url, marketplace in self.not_stored:
            self.crawler.signals.send_catch_log(
                rg_signals.crawl_event, kind="error", url=url,
                reason=f"not stored: {self.unavailable}", marketplace=marketplace,
            )

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
            crawled.seller_db_id = seller_db_id
            if crawled.decision is not None:
                for member in crawled.members:
                    upsert_match(session, listing_id, member, crawled.decision, run_id, now)
                stats.inc_value("reelguard/store/matches", len(crawled.members))
        stats.inc_value("reelguard/store/listings_created" if created else
                        "reelguard/store/listings_updated")
        return marketplace, market_id


def _why(exc: BaseException) -> str:
    """One line: our message for DatabaseLocked/Unreachable, the driver's for the rest."""
    if isinstance(exc, OperationalError):
        text = str(exc.orig).strip()
        return text.splitlines()[0] if text else type(exc.orig).__name__
    return str(exc)
