"""Verify the evidence: every artefact re-hashed, every entry re-hashed, the chain walked.

Checks, each failure reported with the entry's ``seq``, database id, kind and artefact path:

* ``seq``        entries are numbered 1, 2, 3… with no gap, duplicate or reordering
* ``link``       each entry's ``prev_hash`` is the previous entry's ``entry_hash``
* ``entry_hash`` recomputed over the entry's fields matches the stored one (any edited field,
                 including a swapped ``seq`` or a replaced artefact hash, shows here)
* ``missing``    the artefact file is gone
* ``changed``    the file's SHA-256 or size is not the entry's (a flipped byte, a replaced file)
* ``warc``       a WARC's own ``WARC-Block-Digest``/``WARC-Payload-Digest`` do not match its
                 content. A WARC rewritten *with* recomputed internal digests passes this one
                 but fails ``changed`` (or, if its hash was also changed in the database,
                 ``entry_hash``).

A truncated chain (the newest entries deleted together) is consistent by construction; compare
the head ``seq``/``entry_hash`` with one recorded elsewhere (``--expect-head``) to catch it.

No settings affect this module (the CLI passes the database and evidence directory).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.db.models_evidence import GENESIS_HASH, EvidenceRecord
from crawler.evidence.chain import compute_entry_hash
from crawler.evidence.store import EvidenceStore
from crawler.evidence.warc import check_warc


@dataclass(frozen=True)
class Failure:
    check: str
    seq: int | None
    record_id: int | None
    kind: str | None
    path: str | None
    message: str

    def line(self) -> str:
        where = f"seq {self.seq} (id {self.record_id}, {self.kind})"
        path = f" {self.path}" if self.path else ""
        return f"{self.check}: {where}{path}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "seq": self.seq, "id": self.record_id, "kind": self.kind,
                "path": self.path, "message": self.message}


@dataclass
class VerifyReport:
    entries: int = 0
    artefacts_checked: int = 0
    warcs_checked: int = 0
    bytes_hashed: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries,
                "artefacts_checked": self.artefacts_checked, "warcs_checked": self.warcs_checked,
                "bytes_hashed": self.bytes_hashed, "head_seq": self.head_seq,
                "head_hash": self.head_hash, "failures": [f.as_dict() for f in self.failures]}


def _iter_records(session: Session) -> Iterator[EvidenceRecord]:
    # Ordered by seq (the chain order); ties broken by id so a duplicated seq is still seen.
    yield from session.execute(
        select(EvidenceRecord).order_by(EvidenceRecord.seq, EvidenceRecord.id)
        .execution_options(yield_per=500)
    ).scalars()


def verify(
    session: Session,
    store: EvidenceStore,
    *,
    check_files: bool = True,
    expect_head: str | None = None,
) -> VerifyReport:
    """Walk the chain in ``session`` and the files in ``store``; collect every failure."""
    report = VerifyReport()
    expected_seq = 1
    prev_hash = GENESIS_HASH
    seen_files: dict[str, tuple[str, int] | None] = {}
    for record in _iter_records(session):
        report.entries += 1
        relpath = None
        try:
            relpath = store.relpath(record.sha256)
        except ValueError:
            pass

        def fail(check: str, message: str, record: EvidenceRecord = record,
                 relpath: str | None = relpath) -> None:
            report.failures.append(Failure(check, record.seq, record.id, record.kind,
                                           str(store.root / relpath) if relpath else None,
                                           message))

        if record.seq != expected_seq:
            fail("seq", f"expected seq {expected_seq}, found {record.seq} "
                        "(an entry is missing, duplicated or out of order)")
        if record.prev_hash != prev_hash:
            fail("link", f"prev_hash {record.prev_hash[:16]}… is not the previous entry's "
                         f"hash {prev_hash[:16]}…")
        recomputed = compute_entry_hash(record)
        if recomputed != record.entry_hash:
            fail("entry_hash", f"entry fields hash to {recomputed[:16]}…, stored "
                               f"{record.entry_hash[:16]}… (the entry was edited)")
        expected_seq = record.seq + 1
        prev_hash = record.entry_hash
        report.head_seq, report.head_hash = record.seq, record.entry_hash
        if not check_files:
            continue
        if relpath is None:
            fail("changed", f"artefact hash {record.sha256!r} is not a SHA-256")
            continue
        path = store.root / relpath
        if relpath in seen_files:
            result = seen_files[relpath]
        else:
            if not path.is_file():
                result = None
            else:
                data = path.read_bytes()
                result = (hashlib.sha256(data).hexdigest(), len(data))
                report.bytes_hashed += len(data)
                report.artefacts_checked += 1
                if record.kind == "warc":
                    report.warcs_checked += 1
                    for problem in check_warc(data):
                        fail("warc", problem)
            seen_files[relpath] = result
        if result is None:
            fail("missing", "artefact file is missing")
            continue
        actual_sha, actual_size = result
        if actual_sha != record.sha256:
            fail("changed", f"file hashes to {actual_sha[:16]}…, the entry says "
                            f"{record.sha256[:16]}… (the artefact was changed or replaced)")
        elif actual_size != record.size:
            fail("changed", f"file has {actual_size} bytes, the entry says {record.size}")
    if expect_head is not None and expect_head != report.head_hash:
        report.failures.append(Failure(
            "head", report.head_seq, None, None, None,
            f"chain head is {report.head_hash[:16]}…, expected {expect_head[:16]}… "
            "(entries were removed from the end, or this is another chain)"))
    return report
