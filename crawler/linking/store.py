"""Storage of seller identifiers: who showed what, on which page, proved by which capture.

Data functions over a session (the caller commits). :func:`upsert_identifier` keeps one row per
(seller, kind, value): the first sighting that came with evidence stays its proof (listing,
page URL, text shown, evidence hash); later sightings only move ``last_seen``. A row recorded
without evidence gets the first proof that arrives.

No settings affect this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crawler.db.models import Listing
from crawler.db.models_evidence import EvidenceRecord
from crawler.db.models_sellers import IDENTIFIER_KINDS, SellerIdentifier

MAX_VALUE_CHARS = 512
MAX_SHOWN_CHARS = 500


def seller_of_listing(session: Session, listing_id: int) -> int | None:
    """The database id of the seller of stored listing ``listing_id`` (None if unknown)."""
    return session.execute(
        select(Listing.seller_id).where(Listing.id == listing_id)
    ).scalar_one_or_none()


def newest_capture(
    session: Session, listing_id: int, since: datetime | None = None, kind: str = "warc"
) -> str | None:
    """SHA-256 of the newest ``kind`` evidence of ``listing_id`` captured at or after ``since``."""
    stmt = (
        select(EvidenceRecord.sha256)
        .where(EvidenceRecord.listing_id == listing_id, EvidenceRecord.kind == kind)
        .order_by(EvidenceRecord.seq.desc())
        .limit(1)
    )
    if since is not None:
        stmt = stmt.where(EvidenceRecord.captured_at >= since)
    return session.execute(stmt).scalar_one_or_none()


def proven_values(session: Session, seller_id: int) -> set[tuple[str, str]]:
    """(kind, value) of the seller's identifiers that already have their proof."""
    rows = session.execute(
        select(SellerIdentifier.kind, SellerIdentifier.value).where(
            SellerIdentifier.seller_id == seller_id,
            SellerIdentifier.evidence_sha256.is_not(None),
        )
    ).all()
    return {(str(k), str(v)) for k, v in rows}


def upsert_identifier(
    session: Session,
    *,
    seller_id: int,
    kind: str,
    value: str,
    seen_at: datetime,
    shown: str | None = None,
    listing_id: int | None = None,
    url: str | None = None,
    evidence_sha256: str | None = None,
) -> None:
    """Record that ``seller_id`` showed ``kind``/``value`` (see the module docstring)."""
    if kind not in IDENTIFIER_KINDS:
        raise ValueError(f"unknown identifier kind {kind!r} (one of {IDENTIFIER_KINDS})")
    if not value or len(value) > MAX_VALUE_CHARS:
        raise ValueError(f"identifier value of {len(value)} characters refused")
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(
            f"upserts are implemented for SQLite and PostgreSQL, not {dialect}"
        )
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(SellerIdentifier).values(
        seller_id=seller_id,
        kind=kind,
        value=value,
        shown=shown[:MAX_SHOWN_CHARS] if shown else shown,
        listing_id=listing_id,
        url=url,
        evidence_sha256=evidence_sha256,
        first_seen=seen_at,
        last_seen=seen_at,
    )
    new = stmt.excluded
    unproven = SellerIdentifier.evidence_sha256.is_(None)

    def first_proof(column: str) -> object:
        # The proof (evidence and what it shows) is taken as a whole, once.
        return case((unproven, getattr(new, column)), else_=getattr(SellerIdentifier, column))

    stmt = stmt.on_conflict_do_update(
        index_elements=["seller_id", "kind", "value"],
        set_={
            "last_seen": func.coalesce(new.last_seen, SellerIdentifier.last_seen),
            "shown": first_proof("shown"),
            "listing_id": first_proof("listing_id"),
            "url": first_proof("url"),
            "evidence_sha256": func.coalesce(SellerIdentifier.evidence_sha256, new.evidence_sha256),
        },
    )
    session.execute(stmt)
