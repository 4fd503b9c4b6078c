"""Match pipeline (200): decide every crawled listing against the member catalogues.

Builds the engine once per crawl from the catalogue and authorised sellers stored in the
database (``reelguard catalog import``); with no catalogue stored, matching is off and says so
once. Each :class:`~crawler.items.CrawledListing` gets ``decision`` (the ``reelguard match``
output for it) and ``members`` (the rights holders it concerns); the store pipeline writes one
``matches`` row per member. Counted as ``reelguard/match/<decision>``. A listing that matched a
work and whose shop has a flagged licence finding also gets the ``shop_licence`` signal (weight
0: information for the reviewer, never a match on its own; see ``crawler.licences.signal``).

Settings: ``REELGUARD_MATCHING_CONFIG`` (path of a matching.yaml; default: the bundled one).
"""

from __future__ import annotations

import gc
import logging
from typing import Any

from crawler.db.session import session_scope
from crawler.items import CrawledListing, ListingItem
from crawler.licences.signal import ShopLicenceSignals, add_to_decision
from crawler.matching.engine import ListingError
from crawler.matching.store import engine_from_database
from crawler.storage import database_from_settings

logger = logging.getLogger(__name__)


def engine_seller(engine: Any, marketplace: str | None, seller_id: str | None,
                  seller_name: str | None) -> str | None:
    """The seller as the authorised list names it: by id, else by name."""
    for candidate in (seller_id, seller_name):
        if candidate and engine.seller_status(marketplace, candidate).authorised_for:
            return candidate
    return seller_id or seller_name


def decide_listing(engine: Any, member_of: dict[str, str], listing: ListingItem) -> dict[str, Any]:
    """The engine's decision on ``listing`` as a dict, with ``member_catalog_ids``.

    Raises :class:`~crawler.matching.engine.ListingError` for a listing the engine refuses.
    """
    decision = engine.match({
        "id": listing.listing_id,
        "marketplace": listing.marketplace,
        "title": listing.title,
        "price": listing.price,
        "currency": listing.currency,
        "seller": engine_seller(engine, listing.marketplace, listing.seller_id,
                                listing.seller_name),
        "url": listing.url,
        "description": listing.description,
    })
    result = decision.as_dict()
    # A collection can name several members' works: one match row each, naming its own.
    by_member: dict[str, list[str]] = {}
    for catalog_id in result["catalog_ids"]:
        if catalog_id in member_of:
            by_member.setdefault(member_of[catalog_id], []).append(catalog_id)
    if result["member"] and result["member"] not in by_member:
        by_member[result["member"]] = [result["catalog_id"]] if result["catalog_id"] else []
    result["member_catalog_ids"] = by_member
    return result


class MatchPipeline:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.engine: Any = None
        self.member_of: dict[str, str] = {}
        self.licences: ShopLicenceSignals | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> MatchPipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        db = database_from_settings(self.crawler.settings)
        with session_scope(db.sessions) as session:
            self.engine, self.member_of = engine_from_database(
                session, self.crawler.settings.get("REELGUARD_MATCHING_CONFIG")
            )
        if self.engine is None:
            logger.warning("no catalogue in the database: listings are stored unmatched "
                           "(import one with `reelguard catalog import`)")
            self.crawler.stats.set_value("reelguard/match/off", 1)
            return
        self.licences = ShopLicenceSignals(db.sessions)
        # The index is built once and lives for the crawl: keep the collector off it.
        gc.freeze()

    def process_item(self, item: Any) -> Any:
        if self.engine is None or not isinstance(item, CrawledListing):
            return item
        listing = item.listing
        if listing.status != "active":
            return item
        try:
            result = decide_listing(self.engine, self.member_of, listing)
        except ListingError as exc:
            self.crawler.stats.inc_value("reelguard/match/skipped")
            logger.warning("not matched %s: %s", listing.url, exc)
            return item
        if self.licences is not None:
            add_to_decision(result, self.licences.signal(listing.marketplace, listing.seller_id))
        item.decision = result
        by_member = result["member_catalog_ids"]
        item.members = sorted(by_member)
        self.crawler.stats.inc_value(f"reelguard/match/{result['decision']}")
        return item
