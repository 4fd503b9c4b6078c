"""The catalogue and crawl targets as stored in the database.

``import_catalog`` / ``import_authorized`` validate a whole file first (nothing is
half-imported), then write it in one transaction; re-importing updates titles in place.
``catalog_keywords`` and ``listings_due`` give spiders their work.

Settings: ``REELGUARD_DATABASE_URL``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from crawler.catalog.importer import load_authorized, load_catalog
from crawler.catalog.keywords import keywords_for
from crawler.db import repo
from crawler.db.models import CatalogTitle, Listing, Marketplace
from crawler.db.session import session_scope
from crawler.storage import Database, database_from_settings


@dataclass
class StoredTitle:
    id: str
    title: str
    aliases: list[str] = field(default_factory=list)


def import_catalog(db: Database, path: str, member: str | None = None) -> tuple[int, int]:
    """Validate and import a catalogue file: ``(created, updated)``."""
    entries = load_catalog(path, member=member)
    with session_scope(db.sessions) as session:
        return repo.upsert_catalog_titles(session, [e.as_row() for e in entries])


def import_authorized(db: Database, path: str) -> int:
    rows = load_authorized(path)
    with session_scope(db.sessions) as session:
        repo.replace_authorized_sellers(
            session, [{"marketplace": r.marketplace, "seller": r.seller, "member": r.member}
                      for r in rows]
        )
    return len(rows)


def stored_titles(db: Database) -> list[StoredTitle]:
    with session_scope(db.sessions) as session:
        rows = session.execute(
            select(CatalogTitle.id, CatalogTitle.title, CatalogTitle.aliases).order_by(
                CatalogTitle.member, CatalogTitle.id
            )
        ).all()
    return [StoredTitle(r.id, r.title, list(r.aliases or [])) for r in rows]


def catalog_keywords(settings: Any, language: str, strategy: str = "primary",
                     limit: int | None = None) -> list[str]:
    return keywords_for(stored_titles(database_from_settings(settings)), language, strategy, limit)


def listings_due(settings: Any, marketplaces: list[str], hours: float) -> list[tuple[str, str]]:
    """(marketplace, listing id) of active listings not seen for ``hours``."""
    db = database_from_settings(settings)
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
    with session_scope(db.sessions) as session:
        rows = session.execute(
            select(Marketplace.name, Listing.listing_key)
            .join(Marketplace, Marketplace.id == Listing.marketplace_id)
            .where(Marketplace.name.in_(marketplaces))
            .where(Listing.status == "active")
            .where(Listing.last_seen <= cutoff)
            .order_by(Listing.id)
        ).all()
    return [(r[0], r[1]) for r in rows]
