"""Read-side queries: row counts, listings for the CLI, per-marketplace totals of a run.

Functions take a session and never commit. No settings affect this module."""


from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    func,
    inspect,
    select,
    table,
    union,
)
from sqlalchemy.orm import Session

from crawler.db.models import (
    CrawlRun,
    Listing,
    Marketplace,
    Observation,
    Seller,
)

# Tables added by later issues; counts() reports 0 until their migration has run.
_FUTURE_COUNT_TABLES = {
    "matches": "matches",
    "takedown_requests": "takedown_requests",
    "evidence": "evidence",
}

# --------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class ListingRow:
    """A listing as shown by ``reelguard listings``: with its marketplace and seller names."""

    id: int
    marketplace: str
    listing_key: str
    url: str
    title: str
    price: float | None
    currency: str | None
    status: str
    seller_key: str | None
    seller_name: str | None
    first_seen: datetime
    last_seen: datetime


def counts(session: Session) -> dict[str, int]:
    """Row counts: listings, sellers, observations, matches, takedown_requests, evidence."""
    result: dict[str, int] = {}
    for key, model in (("listings", Listing), ("sellers", Seller), ("observations", Observation)):
        result[key] = int(session.execute(select(func.count()).select_from(model)).scalar_one())
    inspector = inspect(session.connection())
    for key, table_name in _FUTURE_COUNT_TABLES.items():
        if inspector.has_table(table_name):
            stmt = select(func.count()).select_from(table(table_name))
            result[key] = int(session.execute(stmt).scalar_one())
        else:
            result[key] = 0
    return result


def list_listings(
    session: Session, marketplace: str | None = None, limit: int = 50, offset: int = 0
) -> list[ListingRow]:
    """Listings, most recently seen first, optionally of one marketplace (by name)."""
    stmt = (
        select(
            Listing.id,
            Marketplace.name.label("marketplace"),
            Listing.listing_key,
            Listing.url,
            Listing.title,
            Listing.price,
            Listing.currency,
            Listing.status,
            Seller.seller_key,
            Seller.name.label("seller_name"),
            Listing.first_seen,
            Listing.last_seen,
        )
        .join(Marketplace, Marketplace.id == Listing.marketplace_id)
        .outerjoin(Seller, Seller.id == Listing.seller_id)
        .order_by(Listing.last_seen.desc(), Listing.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if marketplace is not None:
        stmt = stmt.where(Marketplace.name == marketplace)
    return [ListingRow(**row._asdict()) for row in session.execute(stmt).all()]


def listing_stats_by_marketplace(
    session: Session, run_id: int | None = None
) -> dict[str, dict[str, int]]:
    """``{marketplace: {"listings": n, "sellers": m}}``.

    Without ``run_id``: everything stored, every known marketplace. With ``run_id``: listings
    observed in that run and their sellers (plus sellers whose profile the run refreshed);
    the run's own marketplaces appear even with zero, so an empty crawl is visible.
    """
    stats: dict[str, dict[str, int]] = {}

    def slot(name: str) -> dict[str, int]:
        return stats.setdefault(name, {"listings": 0, "sellers": 0})

    if run_id is None:
        for name in session.execute(select(Marketplace.name).order_by(Marketplace.name)).scalars():
            slot(name)
        listing_q = (
            select(Marketplace.name, func.count(Listing.id))
            .join(Listing, Listing.marketplace_id == Marketplace.id)
            .group_by(Marketplace.name)
        )
        seller_q = (
            select(Marketplace.name, func.count(Seller.id))
            .join(Seller, Seller.marketplace_id == Marketplace.id)
            .group_by(Marketplace.name)
        )
    else:
        run = session.get(CrawlRun, run_id)
        if run is None:
            raise LookupError(f"crawl run {run_id} does not exist")
        for name in filter(None, (n.strip() for n in (run.marketplaces or "").split(","))):
            slot(name)
        listing_q = (
            select(Marketplace.name, func.count(func.distinct(Observation.listing_id)))
            .select_from(Observation)
            .join(Listing, Listing.id == Observation.listing_id)
            .join(Marketplace, Marketplace.id == Listing.marketplace_id)
            .where(Observation.run_id == run_id)
            .group_by(Marketplace.name)
        )
        seen_sellers = union(
            select(Listing.seller_id.label("sid"))
            .join(Observation, Observation.listing_id == Listing.id)
            .where(Observation.run_id == run_id, Listing.seller_id.is_not(None)),
            select(Seller.id.label("sid")).where(Seller.last_run_id == run_id),
        ).subquery()
        seller_q = (
            select(Marketplace.name, func.count())
            .select_from(seen_sellers)
            .join(Seller, Seller.id == seen_sellers.c.sid)
            .join(Marketplace, Marketplace.id == Seller.marketplace_id)
            .group_by(Marketplace.name)
        )
    for name, n in session.execute(listing_q).all():
        slot(name)["listings"] = int(n)
    for name, n in session.execute(seller_q).all():
        slot(name)["sellers"] = int(n)
    return stats


