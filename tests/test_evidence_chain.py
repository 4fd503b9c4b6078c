"""Evidence storage, the hash chain and tamper detection, on SQLite and PostgreSQL.

Content-addressed write-once files; chain append + verify; two concurrent appenders; every
kind of tampering caught (a flipped byte, a deleted file, swapped entries, an edited field, a
WARC rewritten with recomputed internal digests); a person-supplied saved page; the WACZ export
checked with hashlib and zipfile only.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import threading
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request
from sqlalchemy import text, update
from sqlalchemy.orm import Session, sessionmaker

from crawler.db.models_evidence import EvidenceRecord
from crawler.db.session import session_scope
from crawler.evidence import chain
from crawler.evidence.capture import Artefact, capture_saved_page, record_artefacts
from crawler.evidence.export import export_records, listing_of_request, records_for_listing
from crawler.evidence.store import EvidenceStore
from crawler.evidence.verify import verify
from crawler.evidence.warc import build_warc, check_warc
from crawler.exceptions import EvidenceError

URL = "http://127.0.0.1:9/item/42"


def _warc() -> bytes:
    req = Request(URL, headers={"User-Agent": "Reelguard-test", "Accept-Encoding": "gzip"})
    req.meta["reelguard_wire_content_encoding"] = "gzip"
    body = "<html><head><title>盗梦空间 蓝光</title></head><body>¥25</body></html>".encode()
    resp = HtmlResponse(URL, body=body, request=req,
                        headers={"Content-Type": "text/html; charset=utf-8"})
    return build_warc(resp, captured_at=datetime.now(UTC), marketplace="demomart", run_id=None,
                      user_agent="Reelguard-test", listing_key="42", capture_id="t")


def _capture(sessions: sessionmaker[Session], store: EvidenceStore, tag: str = "a",
             listing_id: int | None = None) -> list[EvidenceRecord]:
    artefacts = [
        Artefact("warc", _warc(), "application/warc"),
        Artefact("html", f"<html><title>{tag}</title></html>".encode(), "text/html"),
        Artefact("screenshot", b"\x89PNG\r\n\x1a\n" + os.urandom(64), "image/png"),
        Artefact("fields", chain.canonical_json({"title": f"盗梦空间 {tag}"}), "application/json"),
        Artefact("decision", chain.canonical_json({"decision": "takedown"}), "application/json"),
    ]
    return record_artefacts(sessions, store, artefacts, captured_at=datetime.now(UTC),
                            listing_id=listing_id, marketplace="demomart", listing_key="42",
                            url=URL)


def _verify(sessions: sessionmaker[Session], store: EvidenceStore):  # type: ignore[no-untyped-def]
    with session_scope(sessions) as session:
        return verify(session, store)


@pytest.fixture
def store(tmp_path: Path) -> EvidenceStore:
    return EvidenceStore(tmp_path / "evidence")


# -- store ------------------------------------------------------------------------------------
def test_store_is_content_addressed_and_write_once(store: EvidenceStore) -> None:
    first = store.put(b"hello evidence")
    digest = hashlib.sha256(b"hello evidence").hexdigest()
    assert first.sha256 == digest and first.created
    assert first.path == store.root / "sha256" / digest[:2] / digest[2:4] / digest
    assert first.path.read_bytes() == b"hello evidence"
    mtime = first.path.stat().st_mtime_ns
    again = store.put(b"hello evidence")
    assert not again.created and again.path == first.path
    assert first.path.stat().st_mtime_ns == mtime
    assert not os.access(first.path, os.W_OK) or os.geteuid() == 0
    assert not [p for p in first.path.parent.iterdir() if p.name.startswith(".tmp-")]


def test_store_never_overwrites_an_existing_artefact(store: EvidenceStore) -> None:
    stored = store.put(b"original")
    os.chmod(stored.path, 0o644)
    stored.path.write_bytes(b"tampered")  # someone edits the file behind our back
    assert not store.put(b"original").created  # recapturing does not silently "repair" it
    assert stored.path.read_bytes() == b"tampered"


# -- chain ------------------------------------------------------------------------------------
def test_chain_append_and_verify_ok(db_sessions: sessionmaker[Session],
                                    store: EvidenceStore) -> None:
    first = _capture(db_sessions, store, "a")
    second = _capture(db_sessions, store, "b")
    assert [r.seq for r in first + second] == list(range(1, 11))
    assert first[0].prev_hash == "0" * 64
    for before, after in zip(first + second, (first + second)[1:]):
        assert after.prev_hash == before.entry_hash
    report = _verify(db_sessions, store)
    assert report.ok, [f.line() for f in report.failures]
    assert report.entries == 10 and report.warcs_checked >= 1
    with session_scope(db_sessions) as session:
        from crawler.db import repo

        assert repo.counts(session)["evidence"] == 10


def test_chain_two_concurrent_appenders_never_fork(db_sessions: sessionmaker[Session],
                                                   store: EvidenceStore) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(tag: str) -> None:
        try:
            start.wait()
            for i in range(15):
                entry = chain.NewEntry(kind="fields", sha256=hashlib.sha256(
                    f"{tag}{i}".encode()).hexdigest(), size=1, media_type="application/json",
                    captured_at=datetime.now(UTC), note=tag)
                with session_scope(db_sessions) as session:
                    chain.append(session, [entry])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in ("x", "y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with session_scope(db_sessions) as session:
        report = verify(session, store, check_files=False)
        notes = [r.note for r in chain.records(session)]
    assert report.ok, [f.line() for f in report.failures]
    assert report.entries == 30 and notes.count("x") == notes.count("y") == 15


# -- tampering --------------------------------------------------------------------------------
def _failures(sessions: sessionmaker[Session], store: EvidenceStore) -> list[tuple[str, int]]:
    report = _verify(sessions, store)
    assert not report.ok
    return [(f.check, f.seq or 0) for f in report.failures]


def test_tamper_flipped_byte_is_caught(db_sessions: sessionmaker[Session],
                                       store: EvidenceStore) -> None:
    records = _capture(db_sessions, store)
    shot = next(r for r in records if r.kind == "screenshot")
    path = store.path(shot.sha256)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01
    path.write_bytes(bytes(data))
    report = _verify(db_sessions, store)
    assert [(f.check, f.seq, f.record_id) for f in report.failures] == [
        ("changed", shot.seq, shot.id)]
    assert str(path) in report.failures[0].line()


def test_tamper_deleted_file_is_caught(db_sessions: sessionmaker[Session],
                                       store: EvidenceStore) -> None:
    records = _capture(db_sessions, store)
    html = next(r for r in records if r.kind == "html")
    store.path(html.sha256).unlink()
    assert _failures(db_sessions, store) == [("missing", html.seq)]


def test_tamper_reordered_chain_is_caught(db_sessions: sessionmaker[Session],
                                          store: EvidenceStore) -> None:
    _capture(db_sessions, store)
    with session_scope(db_sessions) as session:  # swap seq 2 and 3
        session.execute(update(EvidenceRecord).where(EvidenceRecord.seq == 2).values(seq=1000))
        session.execute(update(EvidenceRecord).where(EvidenceRecord.seq == 3).values(seq=2))
        session.execute(update(EvidenceRecord).where(EvidenceRecord.seq == 1000).values(seq=3))
    found = _failures(db_sessions, store)
    assert ("entry_hash", 2) in found and ("entry_hash", 3) in found
    assert ("link", 2) in found


def test_tamper_edited_entry_field_is_caught(db_sessions: sessionmaker[Session],
                                             store: EvidenceStore) -> None:
    records = _capture(db_sessions, store)
    with session_scope(db_sessions) as session:
        session.execute(text("UPDATE evidence SET url = 'http://elsewhere/' WHERE seq = 4"))
    assert _failures(db_sessions, store) == [("entry_hash", records[3].seq)]


def test_tamper_deleted_entry_is_caught(db_sessions: sessionmaker[Session],
                                        store: EvidenceStore) -> None:
    _capture(db_sessions, store)
    with session_scope(db_sessions) as session:
        session.execute(text("DELETE FROM evidence WHERE seq = 2"))
    found = _failures(db_sessions, store)
    assert ("seq", 3) in found and ("link", 3) in found


def _rewritten_warc(original: bytes) -> bytes:
    """The same WARC with its response payload changed and every digest recomputed."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True, warc_version="WARC/1.1")
    for record in ArchiveIterator(io.BytesIO(original)):
        payload = record.content_stream().read()
        if record.rec_type == "response":
            payload = payload.replace("¥25".encode(), "¥99".encode())
            record.http_headers.replace_header("Content-Length", str(len(payload)))
        new = writer.create_warc_record(
            record.rec_headers.get_header("WARC-Target-URI") or "", record.rec_type,
            payload=io.BytesIO(payload), length=len(payload), http_headers=record.http_headers,
            warc_content_type=record.rec_headers.get_header("Content-Type"))
        writer.write_record(new)
    return buf.getvalue()


@pytest.mark.parametrize("db_sha_too", [False, True], ids=["file-only", "file-and-db-sha"])
def test_tamper_warc_with_recomputed_digests_is_caught(
    db_sessions: sessionmaker[Session], store: EvidenceStore, db_sha_too: bool
) -> None:
    records = _capture(db_sessions, store)
    warc = next(r for r in records if r.kind == "warc")
    path = store.path(warc.sha256)
    forged = _rewritten_warc(path.read_bytes())
    assert check_warc(forged) == []  # internally consistent: its own digests pass
    assert "¥99".encode() in gzip.decompress(forged)
    if db_sha_too:  # the forger also updates the entry and moves the file to its new address
        new = store.put(forged)
        with session_scope(db_sessions) as session:
            session.execute(update(EvidenceRecord).where(EvidenceRecord.id == warc.id)
                            .values(sha256=new.sha256, size=new.size))
        assert _failures(db_sessions, store) == [("entry_hash", warc.seq)]
    else:
        os.chmod(path, 0o644)
        path.write_bytes(forged)
        assert _failures(db_sessions, store) == [("changed", warc.seq)]


def test_tamper_warc_digest_mismatch_is_reported(db_sessions: sessionmaker[Session],
                                                 store: EvidenceStore) -> None:
    records = _capture(db_sessions, store)
    warc = next(r for r in records if r.kind == "warc")
    path = store.path(warc.sha256)
    raw = gzip.decompress(path.read_bytes()).replace("¥25".encode(), "¥99".encode())
    os.chmod(path, 0o644)
    path.write_bytes(raw)
    checks = {c for c, _ in _failures(db_sessions, store)}
    assert checks == {"changed", "warc"}


# -- person-supplied saved page ---------------------------------------------------------------
def test_saved_page_is_stored_as_received_with_a_note(db_sessions: sessionmaker[Session],
                                                      store: EvidenceStore) -> None:
    data = "<html>保存的页面\r\n</html>".encode("gb18030")
    result = capture_saved_page(data, "https://example.invalid/item/7", "saved by analyst",
                                sessions=db_sessions, store=store, marketplace="xianyu",
                                supplied_by="li@example.org")
    (record,) = result.records
    assert record.kind == "saved_page" and record.sha256 == hashlib.sha256(data).hexdigest()
    assert store.read(record.sha256) == data
    assert record.note and record.note.startswith("supplied by a person (li@example.org)")
    assert _verify(db_sessions, store).ok
    with pytest.raises(ValueError):
        capture_saved_page(data, "https://example.invalid/", " ", sessions=db_sessions,
                           store=store)


# -- export -----------------------------------------------------------------------------------
def test_export_wacz_verifies_with_hashlib_only(db_sessions: sessionmaker[Session],
                                                store: EvidenceStore, tmp_path: Path) -> None:
    records = _capture(db_sessions, store)
    out = tmp_path / "pkg.wacz"
    with session_scope(db_sessions) as session:
        export_records(session, store, records, out)
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        package = json.loads(zf.read("datapackage.json"))
        digest = json.loads(zf.read("datapackage-digest.json"))
        assert digest["hash"] == "sha256:" + hashlib.sha256(zf.read("datapackage.json")).hexdigest()
        listed = {r["path"] for r in package["resources"]}
        assert listed | {"datapackage.json", "datapackage-digest.json"} == names
        for resource in package["resources"]:
            data = zf.read(resource["path"])
            assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
            assert resource["bytes"] == len(data)
        assert any(n.startswith("archive/") and n.endswith(".warc.gz") for n in names)
        assert "pages/pages.jsonl" in names and "README.txt" in names
        for line in zf.read("SHA256SUMS").decode().splitlines():
            sha, name = line.split("  ", 1)
            assert hashlib.sha256(zf.read(name)).hexdigest() == sha
        entries = json.loads(zf.read("evidence.json"))
        fields = entries["entry_hash"]["fields"]
        for entry in entries["entries"]:  # every entry hash recomputed without Reelguard code
            canon = json.dumps({k: entry[k] for k in fields}, sort_keys=True,
                               separators=(",", ":"), ensure_ascii=False).encode()
            assert hashlib.sha256(canon).hexdigest() == entry["entry_hash"]
            assert hashlib.sha256(zf.read(entry["file"])).hexdigest() == entry["sha256"]
    assert {e["kind"] for e in entries["entries"]} == {"warc", "html", "screenshot", "fields",
                                                        "decision"}


def test_export_refuses_tampered_evidence(db_sessions: sessionmaker[Session],
                                          store: EvidenceStore, tmp_path: Path) -> None:
    records = _capture(db_sessions, store)
    store.path(records[1].sha256).unlink()
    with session_scope(db_sessions) as session, pytest.raises(EvidenceError, match="missing"):
        export_records(session, store, records, tmp_path / "x.wacz")


def test_export_by_listing_and_unknown_request(db_sessions: sessionmaker[Session],
                                               store: EvidenceStore) -> None:
    _capture(db_sessions, store)
    with session_scope(db_sessions) as session:
        assert records_for_listing(session, 12345) == []
        with pytest.raises(EvidenceError):
            listing_of_request(session, 987654)
