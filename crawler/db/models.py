"""SQLAlchemy models: the durable record of what the crawler saw, when, and in which run.

All tables live in this one module on one ``MetaData`` so that Alembic's migration chain stays
linear (``crawler/db/migrations/versions``); later issues add matches, evidence and takedown
tables here and a new revision on top of the last one.

Design rules (STYLE.md principle 6):

* Every constraint and index gets its name from ``NAMING_CONVENTION``, so migrations can
  drop/alter them by name on PostgreSQL and in SQLite batch mode alike.
* Every timestamp is a ``UTCDateTime``: stored in UTC, returned timezone-aware (also on SQLite,
  which has no timezone type); naive datetimes are refused rather than guessed.
* Natural keys are unique (``(marketplace_id, listing_key)``, ``(marketplace_id, seller_key)``,
  ``(listing_id, run_id)``…), which is what makes a re-crawl an update instead of a duplicate.
* JSON columns are ``JSONB`` on PostgreSQL and ``JSON`` elsewhere; Python ``None`` is stored
  as SQL ``NULL`` (not JSON ``null``) so ``COALESCE``-style upserts behave.

No settings affect this module.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

LISTING_STATUSES = ("active", "removed")
RUN_STATUSES = ("running", "finished", "failed", "interrupted")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (``tzinfo=UTC``).

    PostgreSQL gets ``TIMESTAMP WITH TIME ZONE``; SQLite stores the naive UTC wall time as text
    (SQLAlchemy's fixed-width format, so string comparison is chronological) and the result
    processor re-attaches UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime expects a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            # Guessing the zone of a naive time is how evidence timestamps go wrong by 8 hours.
            raise ValueError(f"naive datetime {value.isoformat()} refused: pass an aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Price(TypeDecorator[float]):
    """A money amount: ``NUMERIC(14, 2)`` in the database, a ``float`` in Python.

    SQLite's NUMERIC affinity hands back whole amounts as ``int``; this keeps them float.
    """

    impl = Numeric(14, 2, asdecimal=False)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> float | None:
        return None if value is None else float(value)


def _json() -> TypeEngine[Any]:
    return JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class Base(DeclarativeBase):
    """Declarative base for every Reelguard table (one ``MetaData``, one naming convention)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Marketplace(Base):
    """A marketplace we crawl (``demo``, ``xianyu``…); ids are referenced by everything else."""

    __tablename__ = "marketplaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    base_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CrawlRun(Base):
    """One crawler process run (a search, a storefront crawl, a monitor tick) and its outcome."""

    __tablename__ = "crawl_runs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('running', 'finished', 'failed', 'interrupted')", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(32))
    marketplaces: Mapped[str] = mapped_column(String(255), default="")
    args: Mapped[dict[str, Any] | None] = mapped_column(_json())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="running")
    exit_reason: Mapped[str | None] = mapped_column(Text)
    stats: Mapped[dict[str, Any] | None] = mapped_column(_json())
    pages: Mapped[int] = mapped_column(Integer, default=0)
    listings: Mapped[int] = mapped_column(Integer, default=0)
    blocked: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)


class Seller(Base):
    """A seller/shop on one marketplace, with its latest profile and licence block."""

    __tablename__ = "sellers"
    __table_args__ = (UniqueConstraint("marketplace_id", "seller_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    marketplace_id: Mapped[int] = mapped_column(ForeignKey("marketplaces.id", ondelete="CASCADE"))
    seller_key: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(Text)
    shop_name: Mapped[str | None] = mapped_column(Text)
    shop_url: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    rating_text: Mapped[str | None] = mapped_column(Text)
    opened_text: Mapped[str | None] = mapped_column(Text)
    licence_number: Mapped[str | None] = mapped_column(Text)
    licence_holder: Mapped[str | None] = mapped_column(Text)
    licence_authority: Mapped[str | None] = mapped_column(Text)
    # As shown on the page (see items.Licence): dates there are not always ISO.
    licence_valid_from: Mapped[str | None] = mapped_column(String(64))
    licence_valid_to: Mapped[str | None] = mapped_column(String(64))
    licence_raw: Mapped[str | None] = mapped_column(Text)
    has_licence_block: Mapped[bool] = mapped_column(default=False)
    profile: Mapped[dict[str, Any] | None] = mapped_column(_json())
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="SET NULL")
    )


class Listing(Base):
    """A listing (offer) on one marketplace: its latest known state and lifecycle."""

    __tablename__ = "listings"
    __table_args__ = (
        UniqueConstraint("marketplace_id", "listing_key"),
        CheckConstraint("status IN ('active', 'removed')", name="status"),
        Index(None, "seller_id"),
        Index(None, "last_seen"),
        Index(None, "title_norm"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    marketplace_id: Mapped[int] = mapped_column(ForeignKey("marketplaces.id", ondelete="CASCADE"))
    listing_key: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    title_norm: Mapped[str | None] = mapped_column(Text)
    price: Mapped[float | None] = mapped_column(Price())
    currency: Mapped[str | None] = mapped_column(String(8))
    price_text: Mapped[str | None] = mapped_column(Text)
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("sellers.id", ondelete="SET NULL"))
    sales_count: Mapped[int | None] = mapped_column(Integer)
    location: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    image_urls: Mapped[list[str] | None] = mapped_column(_json())
    condition: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("crawl_runs.id", ondelete="SET NULL")
    )
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Observation(Base):
    """One sighting of a listing in one run (re-sightings in the same run update this row)."""

    __tablename__ = "observations"
    __table_args__ = (
        UniqueConstraint("listing_id", "run_id"),
        Index(None, "run_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id", ondelete="CASCADE"))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    price: Mapped[float | None] = mapped_column(Price())
    currency: Mapped[str | None] = mapped_column(String(8))
    title: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(32))
    keyword: Mapped[str | None] = mapped_column(Text)
    fetched_via: Mapped[str | None] = mapped_column(String(16))


class CrawlEvent(Base):
    """Something that went wrong (or was refused/removed) during a run, with its reason."""

    __tablename__ = "crawl_events"
    __table_args__ = (Index(None, "run_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    marketplace: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # "blocked" | "error" | "refused" | "removed"…
    url: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)


class CatalogTitle(Base):
    """A protected title from a member's catalogue (what the matcher looks for)."""

    __tablename__ = "catalog_titles"
    __table_args__ = (Index(None, "member"),)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # stable catalogue id
    member: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer)
    aliases: Mapped[list[str] | None] = mapped_column(_json())
    kind: Mapped[str | None] = mapped_column(String(32))
    release_date: Mapped[date | None] = mapped_column(Date)
    home_release_date: Mapped[date | None] = mapped_column(Date)
    # People and franchises, each a list of the names it goes by (migration 0011).
    directors: Mapped[list[list[str]] | None] = mapped_column(_json())
    cast: Mapped[list[list[str]] | None] = mapped_column(_json())
    franchise: Mapped[list[list[str]] | None] = mapped_column(_json())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuthorizedSeller(Base):
    """A seller a member has authorised on a marketplace (never reported for that member)."""

    __tablename__ = "authorized_sellers"
    __table_args__ = (UniqueConstraint("marketplace", "seller", "member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    marketplace: Mapped[str] = mapped_column(String(64))
    seller: Mapped[str] = mapped_column(String(255))
    member: Mapped[str] = mapped_column(String(64))


MATCH_DECISIONS = ("takedown", "review", "none")


class Match(Base):
    """The matching engine's latest decision on a listing for one member (rights holder).

    One row per (listing, member): a re-crawl or a re-decision updates it. ``signals`` keeps the
    explainable signals (name, weight, the text that triggered them) a reviewer reads.
    """

    __tablename__ = "matches"
    __table_args__ = (
        UniqueConstraint("listing_id", "member"),
        CheckConstraint("decision IN ('takedown', 'review', 'none')", name="decision"),
        Index(None, "member", "decision"),
        Index(None, "catalog_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    member: Mapped[str] = mapped_column(String(64))
    catalog_id: Mapped[str | None] = mapped_column(String(128))
    catalog_ids: Mapped[list[str] | None] = mapped_column(_json())
    decision: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Numeric(6, 4, asdecimal=False))
    signals: Mapped[list[dict[str, Any]] | None] = mapped_column(_json())
    engine_version: Mapped[str | None] = mapped_column(String(32))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
    first_decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# Models of later parts live in their own modules on the same metadata (imported last so that
# Base is defined): evidence (content-addressed artefacts, hash-chained log) and the takedown
# queue (requests, state transitions, notices).
from crawler.db import models_evidence as _models_evidence  # noqa: F401
from crawler.db import models_sellers as _models_sellers  # noqa: F401
from crawler.db import models_takedown as _models_takedown  # noqa: F401
from crawler.db import models_web as _models_web  # noqa: F401
