"""The append-only, hash-chained evidence log (table ``evidence``).

Each entry describes one stored artefact. Its ``entry_hash`` is the SHA-256 of the canonical
JSON (sorted keys, no spaces, UTF-8) of :data:`ENTRY_FIELDS`, which include ``seq`` and
``prev_hash`` (the previous entry's ``entry_hash``; 64 zeros for the first). Editing any field,
deleting an entry or swapping two entries' ``seq`` breaks a hash or a link, which
``crawler.evidence.verify`` reports. Entries are only ever inserted.

Appends are serialised so that two writers never chain to the same head: on PostgreSQL with a
transaction-level advisory lock (``pg_advisory_xact_lock``), on SQLite with the database write
lock, taken by a no-op UPDATE before the head is read. ``seq`` and ``entry_hash`` are unique as
well, so a writer that somehow raced would fail rather than fork the chain. The lock is held
until the caller's transaction ends (the caller commits, STYLE.md principle 6).

No settings affect this module.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from crawler.db.models_evidence import EVIDENCE_KINDS, GENESIS_HASH, EvidenceRecord

# Arbitrary constant naming "the evidence chain head" among PostgreSQL advisory locks.
ADVISORY_LOCK_KEY = 0x52474556  # "RGEV"

ENTRY_FIELDS = (
    "seq",
    "prev_hash",
    "capture_id",
    "kind",
    "sha256",
    "size",
    "media_type",
    "captured_at",
    "listing_id",
    "marketplace",
    "listing_key",
    "url",
    "run_id",
    "note",
)


def format_time(value: datetime) -> str:
    """A UTC time as hashed and exported: ``2026-11-29T08:01:02.123456Z``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} refused: pass an aware datetime")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys, no whitespace, UTF-8): what gets hashed."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_fields(source: Any) -> dict[str, Any]:
    """The hashed fields of an entry (an ``EvidenceRecord`` or a mapping), JSON-ready."""
    get = source.get if isinstance(source, dict) else lambda name: getattr(source, name)
    fields = {name: get(name) for name in ENTRY_FIELDS}
    captured_at = fields["captured_at"]
    if not isinstance(captured_at, datetime):
        raise TypeError(f"evidence entry without a capture time: {captured_at!r}")
    fields["captured_at"] = format_time(captured_at)
    return fields


def compute_entry_hash(source: Any) -> str:
    return hashlib.sha256(canonical_json(entry_fields(source))).hexdigest()


def new_capture_id() -> str:
    return uuid.uuid4().hex


@dataclass
class NewEntry:
    """An artefact to append to the chain (already stored in the ``EvidenceStore``)."""

    kind: str
    sha256: str
    size: int
    media_type: str
    captured_at: datetime
    capture_id: str = field(default_factory=new_capture_id)
    listing_id: int | None = None
    marketplace: str | None = None
    listing_key: str | None = None
    url: str | None = None
    run_id: int | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in EVIDENCE_KINDS:
            raise ValueError(f"unknown evidence kind {self.kind!r} (one of {EVIDENCE_KINDS})")
        # Microseconds are what both backends keep: hash exactly what will be read back.
        self.captured_at = self.captured_at.astimezone(UTC)


def lock_chain(session: Session) -> None:
    """Take the chain's append lock for the rest of the session's transaction."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    elif dialect == "sqlite":
        # A write statement takes SQLite's RESERVED lock even when it changes no row; taking it
        # before reading the head means a DEFERRED transaction cannot deadlock on the upgrade.
        session.execute(text("UPDATE evidence SET seq = seq WHERE 1 = 0"))
    else:
        raise NotImplementedError(f"evidence chain locking is implemented for SQLite and "
                                  f"PostgreSQL, not {dialect}")


def head(session: Session) -> tuple[int, str]:
    """``(seq, entry_hash)`` of the last entry, ``(0, GENESIS_HASH)`` for an empty chain."""
    row = session.execute(
        select(EvidenceRecord.seq, EvidenceRecord.entry_hash)
        .order_by(EvidenceRecord.seq.desc())
        .limit(1)
    ).first()
    return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))


def append(session: Session, entries: Sequence[NewEntry]) -> list[EvidenceRecord]:
    """Append ``entries`` (in order) to the chain in the session's transaction."""
    if not entries:
        return []
    lock_chain(session)
    seq, prev = head(session)
    records: list[EvidenceRecord] = []
    for entry in entries:
        seq += 1
        values: dict[str, Any] = {
            "seq": seq,
            "prev_hash": prev,
            "capture_id": entry.capture_id,
            "kind": entry.kind,
            "sha256": entry.sha256,
            "size": entry.size,
            "media_type": entry.media_type,
            "captured_at": entry.captured_at,
            "listing_id": entry.listing_id,
            "marketplace": entry.marketplace,
            "listing_key": entry.listing_key,
            "url": entry.url,
            "run_id": entry.run_id,
            "note": entry.note,
        }
        values["entry_hash"] = compute_entry_hash(values)
        record = EvidenceRecord(**values)
        session.add(record)
        records.append(record)
        prev = values["entry_hash"]
    session.flush()
    return records


def records(session: Session) -> list[EvidenceRecord]:
    """Every entry, in chain order."""
    return list(session.execute(select(EvidenceRecord).order_by(EvidenceRecord.seq)).scalars())


def entry_json(record: EvidenceRecord, store_relpath: str | None = None) -> dict[str, Any]:
    """An entry as exported (the hashed fields, its hash and its database id)."""
    out = entry_fields(record)
    out["entry_hash"] = record.entry_hash
    out["id"] = record.id
    if store_relpath is not None:
        out["path"] = store_relpath
    return out
