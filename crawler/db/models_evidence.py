"""Storage models for the evidence part of Reelguard (issue 4); see crawler/db/models.py for the rules.

``evidence`` is the append-only, hash-chained log of every captured artefact (one row per
artefact: WARC, rendered HTML, screenshot, extracted fields, decision, person-supplied saved
page). The artefact bytes live content-addressed on disk (``crawler.evidence.store``); a row
points to them by SHA-256. Each row's ``entry_hash`` is the SHA-256 of a canonical JSON of its
own fields *including* ``prev_hash`` (the previous row's ``entry_hash``), so editing,
deleting or reordering a row breaks the chain (``crawler.evidence.chain``/``verify``).

Rows are never updated or deleted: the foreign keys have no ``ON DELETE`` action, so deleting
a listing or run that has evidence is refused instead of silently rewriting the log.

No settings affect this module.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from crawler.db.models import Base, UTCDateTime, utcnow

EVIDENCE_KINDS = ("warc", "html", "screenshot", "fields", "decision", "saved_page", "image")
GENESIS_HASH = "0" * 64


class EvidenceRecord(Base):
    """One artefact in the hash-chained evidence log (see the module docstring)."""

    __tablename__ = "evidence"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('warc', 'html', 'screenshot', 'fields', 'decision', 'saved_page', 'image')",
            name="kind",
        ),
        CheckConstraint("seq >= 1", name="seq_positive"),
        Index(None, "sha256"),
        Index(None, "listing_id"),
        Index(None, "capture_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    capture_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(128))
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    listing_id: Mapped[int | None] = mapped_column(ForeignKey("listings.id"))
    marketplace: Mapped[str | None] = mapped_column(String(64))
    listing_key: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    note: Mapped[str | None] = mapped_column(Text)
