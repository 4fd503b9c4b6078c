"""Fault 14: evidence tampering, each kind caught by the ``reelguard evidence verify`` command.

The chain's own tests (tests/test_evidence_chain.py) check ``verify`` function by function;
here the same forgeries are made on a SQLite file and the evidence store a crawl would use, and
the command a legal desk runs must exit 1 naming what was broken, with no traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import update

from crawler.db.models_evidence import EvidenceRecord
from crawler.db.session import make_engine, session_factory, session_scope, upgrade
from crawler.evidence.store import EvidenceStore
from tests.crawl_support import run_cli, sqlite_url
from tests.test_evidence_chain import _capture, _rewritten_warc

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]


def _flip_byte(store: EvidenceStore, records: list[EvidenceRecord], _sessions) -> str:  # type: ignore[no-untyped-def]
    shot = next(r for r in records if r.kind == "screenshot")
    path = store.path(shot.sha256)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return f"FAIL changed: seq {shot.seq}"


def _delete_file(store: EvidenceStore, records: list[EvidenceRecord], _sessions) -> str:  # type: ignore[no-untyped-def]
    html = next(r for r in records if r.kind == "html")
    store.path(html.sha256).unlink()
    return f"FAIL missing: seq {html.seq}"


def _reorder_chain(_store: EvidenceStore, _records: list[EvidenceRecord], sessions) -> str:  # type: ignore[no-untyped-def]
    with session_scope(sessions) as session:  # swap the entries at seq 2 and 3
        session.execute(update(EvidenceRecord).where(EvidenceRecord.seq == 2).values(seq=1000))
        session.execute(update(EvidenceRecord).where(EvidenceRecord.seq == 3).values(seq=2))
        session.execute(update(EvidenceRecord).where(EvidenceRecord.seq == 1000).values(seq=3))
    return "FAIL entry_hash: seq 2"


def _forge_warc(store: EvidenceStore, records: list[EvidenceRecord], sessions) -> str:  # type: ignore[no-untyped-def]
    """Rewrite the WARC's payload, recompute its digests, move it and update the entry's hash."""
    warc = next(r for r in records if r.kind == "warc")
    forged = store.put(_rewritten_warc(store.path(warc.sha256).read_bytes()))
    with session_scope(sessions) as session:
        session.execute(update(EvidenceRecord).where(EvidenceRecord.id == warc.id)
                        .values(sha256=forged.sha256, size=forged.size))
    return f"FAIL entry_hash: seq {warc.seq}"


@pytest.mark.parametrize("tamper", [_flip_byte, _delete_file, _reorder_chain, _forge_warc],
                         ids=["flipped-byte", "deleted-file", "reordered-chain",
                              "warc-recomputed-digests"])
def test_evidence_verify_command_catches_tampering(tmp_path: Path, tamper) -> None:  # type: ignore[no-untyped-def]
    db = sqlite_url(tmp_path)
    upgrade(db)
    engine = make_engine(db)
    sessions = session_factory(engine)
    store = EvidenceStore(tmp_path / "var" / "evidence")
    try:
        records = _capture(sessions, store)
        ok = run_cli("evidence", "verify", "--db", db, cwd=tmp_path)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        expected = tamper(store, records, sessions)
    finally:
        engine.dispose()
    bad = run_cli("evidence", "verify", "--db", db, cwd=tmp_path)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert expected in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr
