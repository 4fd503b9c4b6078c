"""Storage models for the takedown part of Reelguard (issue 4); see crawler/db/models.py for the rules.

* ``takedown_requests``: one request per (member, listing) at a time. The partial unique index
  ``ux_takedown_requests_open`` makes "never two open at once" a database fact, whatever
  the number of crawls, keywords or URL variants that find a listing: *open* means a state
  outside ``CLOSED_STATES``. A relisting opens a fresh request citing the old one
  (``cites_request_id``).
* ``takedown_events``: the audit log, one row per state change (who, when, from, to, why);
  never updated.
* ``notice_batches``: what is filed with a marketplace: at most 300 listings of one member on
  one marketplace, under an ``idempotency_key`` the intake deduplicates on, with the exact
  payload sent and its SHA-256.

``claimed_by``/``claimed_at`` are a worker's lease on a row (``crawler.takedown.queue``).

No settings affect this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from crawler.db.models import Base, UTCDateTime, _json, utcnow

TAKEDOWN_STATES = (
    "pending_review",
    "approved",
    "submitted",
    "acknowledged",
    "removed",
    "rejected",
    "relisted",
    "withdrawn",
)
# A request in one of these states no longer blocks a new one for the same (member, listing).
# ``relisted`` is closed too: the relisting is pursued by the fresh request that cites it.
CLOSED_STATES = ("removed", "rejected", "withdrawn", "relisted")
BATCH_STATES = ("prepared", "submitting", "submitted", "failed")

_OPEN_SQL = "state NOT IN ('removed', 'rejected', 'withdrawn', 'relisted')"
_STATES_SQL = ", ".join(f"'{s}'" for s in TAKEDOWN_STATES)
_BATCH_STATES_SQL = ", ".join(f"'{s}'" for s in BATCH_STATES)


class TakedownRequest(Base):
    """A request to take one listing down on behalf of one member (rights holder)."""

    __tablename__ = "takedown_requests"
    __table_args__ = (
        CheckConstraint(f"state IN ({_STATES_SQL})", name="state"),
        Index(
            "ux_takedown_requests_open",
            "member",
            "listing_id",
            unique=True,
            sqlite_where=text(_OPEN_SQL),
            postgresql_where=text(_OPEN_SQL),
        ),
        Index(None, "state", "member", "marketplace"),
        Index(None, "listing_id"),
        Index(None, "notice_batch_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"))
    member: Mapped[str] = mapped_column(String(64))
    marketplace: Mapped[str] = mapped_column(String(64))
    catalog_ids: Mapped[list[str] | None] = mapped_column(_json())
    decision: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Numeric(6, 4, asdecimal=False))
    state: Mapped[str] = mapped_column(String(16), default="pending_review")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cites_request_id: Mapped[int | None] = mapped_column(ForeignKey("takedown_requests.id"))
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notice_batch_id: Mapped[int | None] = mapped_column(ForeignKey("notice_batches.id"))
    complaint_id: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    platform_status: Mapped[str | None] = mapped_column(String(16))  # accepted|rejected|pending
    platform_reason: Mapped[str | None] = mapped_column(Text)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    time_to_removal_s: Mapped[float | None] = mapped_column(Float)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TakedownEvent(Base):
    """One state change of a request: the audit log (append-only)."""

    __tablename__ = "takedown_events"
    __table_args__ = (Index(None, "request_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("takedown_requests.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)


class NoticeBatch(Base):
    """A notice filed (or to be filed) with one marketplace for one member: ≤300 listings."""

    __tablename__ = "notice_batches"
    __table_args__ = (
        CheckConstraint(f"state IN ({_BATCH_STATES_SQL})", name="state"),
        Index(None, "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member: Mapped[str] = mapped_column(String(64))
    marketplace: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="prepared")
    complaint_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    listing_count: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[dict[str, Any]] = mapped_column(_json())
    payload_sha256: Mapped[str] = mapped_column(String(64))
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
