"""Export evidence as a self-contained WACZ package that anyone can verify without Reelguard.

Layout (WACZ 1.1.1, plus the non-WARC artefacts and the chain entries)::

    archive/<seq>-<sha256>.warc.gz     each captured HTTP exchange
    indexes/index.cdxj                 a CDXJ index of the response records
    pages/pages.jsonl                  the captured pages (url, ts, title)
    evidence/<seq>-<kind>-<sha256>.<ext>   screenshot (png), rendered HTML, fields/decision
                                       JSON, person-supplied saved pages
    evidence.json                      the chain entries of these artefacts (hashed fields,
                                       entry_hash) and how an entry hash is computed
    README.txt                         how to verify with sha256sum
    SHA256SUMS                         ``sha256sum -c`` input for every file above
    datapackage.json                   every resource with its ``sha256:`` hash and size
    datapackage-digest.json            the SHA-256 of datapackage.json

Every artefact is checked against its chain entry before it is written: tampered evidence is
refused (``EvidenceError``) rather than exported. Artefact file names carry their SHA-256, so
the name, ``SHA256SUMS``, ``datapackage.json`` and ``evidence.json`` all say the same thing.

``export_request`` resolves a takedown request (table ``takedown_requests``, written by the
takedown part) to its listing through SQLAlchemy Core, so this module does not depend on the
takedown models.

No settings affect this module.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import column, inspect, select, table
from sqlalchemy.orm import Session

from crawler import __version__
from crawler.db.models_evidence import EvidenceRecord
from crawler.evidence.chain import ENTRY_FIELDS, entry_json
from crawler.evidence.store import EvidenceStore
from crawler.exceptions import EvidenceError

WACZ_VERSION = "1.1.1"
EXTENSIONS = {"screenshot": "png", "html": "html", "fields": "json", "decision": "json"}

README = """\
Reelguard evidence package
==========================

This is a WACZ file (a ZIP). Everything in it can be checked with standard tools only.

1. Unzip it and check every file against its SHA-256:

       unzip package.wacz -d package && cd package && sha256sum -c SHA256SUMS

   Every artefact's file name also contains its SHA-256 (e.g. evidence/3-screenshot-<sha256>.png).

2. datapackage.json lists every resource with "hash": "sha256:<hex>" and "bytes";
   datapackage-digest.json holds the SHA-256 of datapackage.json itself:

       sha256sum datapackage.json

3. evidence.json holds the entries of Reelguard's append-only, hash-chained evidence log for
   these artefacts: when each was captured (UTC), from which URL, marketplace and crawl run.
   Each entry's "entry_hash" is the SHA-256 of the canonical JSON of its fields
   {fields} (keys sorted, separators "," and ":", no whitespace, UTF-8, non-ASCII
   characters unescaped), e.g. in Python:

       hashlib.sha256(json.dumps({{k: e[k] for k in FIELDS}}, sort_keys=True,
           separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()

   "prev_hash" is the hash of the entry before it in the full log, which is what makes
   the log tamper-evident; "sha256" is the artefact's hash.

4. archive/*.warc.gz are WARC/1.1 files (request, response and a metadata record naming the
   crawler version, user agent, marketplace and crawl run); any WARC tool (warcio, pywb,
   ReplayWeb.page) opens them, and each record carries its own WARC-Block-Digest.
"""


@dataclass
class ExportResult:
    path: Path
    records: int
    files: int
    bytes: int
    sha256: str  # of the whole package


def records_for_listing(session: Session, listing_id: int,
                        capture_id: str | None = None) -> list[EvidenceRecord]:
    stmt = select(EvidenceRecord).where(EvidenceRecord.listing_id == listing_id)
    if capture_id is not None:
        stmt = stmt.where(EvidenceRecord.capture_id == capture_id)
    return list(session.execute(stmt.order_by(EvidenceRecord.seq)).scalars())


def listing_of_request(session: Session, request_id: int) -> int:
    """The listing id of takedown request ``request_id`` (table ``takedown_requests``)."""
    if not inspect(session.connection()).has_table("takedown_requests"):
        raise EvidenceError("no takedown requests in this database yet (table "
                            "takedown_requests does not exist): use --listing LISTING_ID")
    requests = table("takedown_requests", column("id"), column("listing_id"))
    row = session.execute(
        select(requests.c.listing_id).where(requests.c.id == request_id)
    ).first()
    if row is None:
        raise EvidenceError(f"no takedown request with id {request_id}")
    if row[0] is None:
        raise EvidenceError(f"takedown request {request_id} names no listing")
    return int(row[0])


def _surt(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    host = host.removeprefix("www.")
    labels = ",".join(reversed(host.split("."))) if host else ""
    if parts.port:
        labels += f":{parts.port}"
    path = parts.path or "/"
    return f"{labels}){path.lower()}" + (f"?{parts.query}" if parts.query else "")


def _cdxj_lines(name: str, data: bytes) -> list[str]:
    from io import BytesIO

    from warcio.archiveiterator import ArchiveIterator

    lines = []
    stream = ArchiveIterator(BytesIO(data))
    for record in stream:
        if record.rec_type != "response":
            record.content_stream().read()
            continue
        url = record.rec_headers.get_header("WARC-Target-URI")
        date = record.rec_headers.get_header("WARC-Date") or ""
        ts = "".join(ch for ch in date if ch.isdigit())[:14]
        status = record.http_headers.get_statuscode() if record.http_headers else None
        mime = record.http_headers.get_header("Content-Type") if record.http_headers else None
        digest = record.rec_headers.get_header("WARC-Payload-Digest")
        offset = stream.get_record_offset()
        record.content_stream().read()
        stream.read_to_end(record)
        length = stream.get_record_length()
        lines.append(f"{_surt(url)} {ts} " + json.dumps(
            {"url": url, "mime": (mime or "").split(";")[0], "status": status, "digest": digest,
             "length": str(length), "offset": str(offset), "filename": name},
            separators=(",", ":")))
    return lines


def _title(records: Sequence[EvidenceRecord], data_of: dict[int, bytes]) -> str | None:
    for record in records:
        if record.kind == "fields":
            try:
                return str(json.loads(data_of[record.id]).get("title") or "") or None
            except (ValueError, AttributeError):
                return None
    return None


def export_records(
    session: Session,
    store: EvidenceStore,
    records: Sequence[EvidenceRecord],
    out: Path,
    *,
    title: str | None = None,
    description: str | None = None,
) -> ExportResult:
    """Write ``records`` (and their artefacts) to the WACZ ``out``; refuse tampered ones."""
    if not records:
        raise EvidenceError("no evidence to export")
    records = sorted(records, key=lambda r: r.seq)
    data_of: dict[int, bytes] = {}
    for record in records:
        path = store.path(record.sha256)
        if not path.is_file():
            raise EvidenceError(f"evidence seq {record.seq}: artefact {path} is missing")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != record.sha256:
            raise EvidenceError(f"evidence seq {record.seq}: artefact {path} does not match "
                                "its recorded SHA-256 (run `reelguard evidence verify`)")
        data_of[record.id] = data

    files: dict[str, bytes] = {}
    entries = []
    cdxj: list[str] = []
    pages: dict[str, dict[str, Any]] = {}
    for record in records:
        data = data_of[record.id]
        if record.kind == "warc":
            name = f"archive/{record.seq}-{record.sha256}.warc.gz"
            cdxj += _cdxj_lines(name.removeprefix("archive/"), data)
        else:
            ext = EXTENSIONS.get(record.kind, "html" if "html" in record.media_type else "bin")
            name = f"evidence/{record.seq}-{record.kind}-{record.sha256}.{ext}"
        files[name] = data
        entries.append(entry_json(record) | {"file": name})
        if record.url and record.url not in pages:
            pages[record.url] = {
                "id": record.capture_id, "url": record.url,
                "ts": record.captured_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
    page_title = title or _title(records, data_of)
    page_lines = [json.dumps({"format": "json-pages-1.0", "id": "pages", "title": "All Pages"})]
    for page in pages.values():
        if page_title:
            page["title"] = page_title
        page_lines.append(json.dumps(page, ensure_ascii=False))
    files["pages/pages.jsonl"] = ("\n".join(page_lines) + "\n").encode("utf-8")
    if cdxj:
        files["indexes/index.cdxj"] = ("\n".join(sorted(cdxj)) + "\n").encode("utf-8")
    files["evidence.json"] = json.dumps({
        "entry_hash": {"algorithm": "sha256", "fields": list(ENTRY_FIELDS),
                       "canonical_json": "sort_keys, separators (',', ':'), "
                                         "ensure_ascii false, UTF-8"},
        "entries": entries,
    }, ensure_ascii=False, indent=2).encode("utf-8")
    files["README.txt"] = README.format(fields=", ".join(ENTRY_FIELDS)).encode("utf-8")
    files["SHA256SUMS"] = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())
    ).encode("utf-8")

    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    package = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": page_title or "Reelguard evidence",
        "description": description or "Evidence captured by Reelguard",
        "created": created,
        "software": f"Reelguard/{__version__}",
        "mainPageURL": next(iter(pages), None),
        "resources": [
            {"name": name.rsplit("/", 1)[-1], "path": name,
             "hash": f"sha256:{hashlib.sha256(data).hexdigest()}", "bytes": len(data)}
            for name, data in sorted(files.items())
        ],
    }
    package_bytes = json.dumps(package, ensure_ascii=False, indent=2).encode("utf-8")
    digest = {"path": "datapackage.json",
              "hash": f"sha256:{hashlib.sha256(package_bytes).hexdigest()}"}

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, data in sorted(files.items()):
            # WARCs and PNGs are compressed already; WACZ readers seek into stored WARCs.
            stored = name.startswith("archive/") or name.endswith(".png")
            zf.writestr(name, data, zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
        zf.writestr("datapackage.json", package_bytes, zipfile.ZIP_DEFLATED)
        zf.writestr("datapackage-digest.json",
                    json.dumps(digest, indent=2).encode("utf-8"), zipfile.ZIP_DEFLATED)
    tmp.replace(out)
    whole = out.read_bytes()
    return ExportResult(out, len(records), len(files) + 2, len(whole),
                        hashlib.sha256(whole).hexdigest())
