"""Write a case file: one self-contained folder (and a .zip of it beside) for one seller.

Layout of ``<out>/<marketplace>-<seller>-<UTC timestamp>/``::

    report.html      the report (crawler.investigate.report): opens offline, prints on A4
    case.json        the same facts, machine-readable (shape below)
    captures.wacz    every capture of the case (crawler.evidence.export.export_records)
    artefacts/       the screenshots and images the report shows, named
                     <seq>-<kind>-<sha256>.<ext> like their copy in the WACZ
    CHAIN_HEAD       the evidence log's head when the case was generated (seq, entry_hash)
    SHA256SUMS       ``sha256sum -c`` input for every other file in the folder

and ``<out>/<case id>.zip`` holding the folder. ``reelguard case verify`` checks either
(``crawler.investigate.verify``).

``case.json`` (``"format": "reelguard-case/1"``), every time ISO 8601 UTC::

    case_id, generated_at, generator
    investigation   {id, marketplace, seller, depth, linked, run_id, started_at,
                     hops: [{hop, sellers: ["market:seller", ...]}], refresh_error} or null
    chain_head      {seq, entry_hash}
    wacz            {file, sha256, bytes, records}
    summary         {seller_id, marketplace, name, level, level_reason, level_since, strikes,
                     licence_status, licence_problems, linked_accounts: [{seller_id, marketplace}],
                     listings, listings_active, listings_removed, matches, works, requests,
                     removals, relistings, pages_captured, artefacts, from, to}
    seller          the investigated account (as in accounts)
    accounts        [{db_id, marketplace, seller_id, name, shop_name, shop_url, location, rating,
                      opened, first_seen, last_seen, licence_block, role, crawled,
                      level: {level, reason, policy, since} | null, strikes, licence_status,
                      cluster_id, listings}]
    clusters        [{cluster_id, members: [{seller_id, marketplace}]}]
    listings        [{db_id, marketplace, seller_id, listing_id, url, title, price, currency,
                      price_text, status, first_seen, last_seen, removed_at,
                      decisions: {member: decision}, captures: [capture_id]}]
    sightings       [{at, listing_id, run_id, job, source, status, price, title}]
    timeline        [{at, kind, text, seller_id, listing_id, request_id}]
    works           [{member, catalog_id, title, year, takedown, review, listings: [id]}]
    requests        [{id, listing_id, listing_url, title, member, marketplace, catalog_ids,
                      decision, score, state, opened_at, submitted_at, removed_at,
                      platform_status, platform_reason, complaint_id, cites_request_id,
                      events: [{at, from, to, actor, reason}]}]
    strikes         [{id, seller_id, marketplace, request_id, listing_id, member, catalog_id,
                      work, offence, struck_at, evidence_sha256}]
    seller_events   [{id, seller_id, at, kind, policy, from_level, to_level, reason, evidence,
                      actor}]
    licence_findings [{seller_id, marketplace, status, sells_discs, disc_listings, number,
                       holder, authority, valid_from, valid_to, problems: [text], register,
                       register_holder, evidence_sha256, evidence_url, checked_at}]
    links           [{id, kind, value, distance, created_at, a: SIDE, b: SIDE}], SIDE =
                    {seller_id, kind, value, shown, url, listing_url, evidence_sha256,
                     first_seen, last_seen}
    pages           [{capture_id, page: listing|shop|image|page, url, marketplace, listing_id,
                      listing_db_id, seller_id, run_id, captured_at, note,
                      artefacts: [{seq, kind, sha256}]}]
    artefacts       [{seq, kind, sha256, size, media_type, url, captured_at, capture_id,
                      entry_hash, prev_hash, marketplace, listing_id, run_id, note,
                      wacz_path, file}]   (file: its copy under artefacts/, or null)

No settings affect this module (the caller passes the database session and evidence store).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from crawler import __version__
from crawler.evidence import chain
from crawler.evidence.export import export_records
from crawler.evidence.store import EvidenceStore
from crawler.exceptions import EvidenceError, UnknownSeller
from crawler.investigate.facts import collect, find_seller
from crawler.investigate.report import render_report

CASE_FORMAT = "reelguard-case/1"
DEFAULT_CASES_DIR = Path("var") / "cases"
SUMS = "SHA256SUMS"
HEAD_FILE = "CHAIN_HEAD"
# Raster images only (checked by their bytes, not their declared type): a captured SVG or HTML
# file opened from the folder could run script, an image in <img> cannot.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF8", "gif"),
    (b"RIFF", "webp"),
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class CaseResult:
    case_id: str
    path: Path
    zip_path: Path
    zip_sha256: str
    manifest_sha256: str  # of SHA256SUMS, which pins every file of the folder
    summary: dict[str, Any]


def safe_component(value: str, limit: int = 48) -> str:
    """``value`` as a file-name component: ASCII letters, digits, ``.``, ``_``, ``-``."""
    text = unicodedata.normalize("NFKC", value)
    cleaned = _UNSAFE.sub("_", text).strip("._")[:limit]
    if cleaned != text:  # say which value it was when it had to change
        cleaned = f"{cleaned or 'x'}_{hashlib.sha256(value.encode()).hexdigest()[:8]}"
    return cleaned


def image_extension(data: bytes) -> str | None:
    for magic, ext in _MAGIC:
        if data.startswith(magic) and (ext != "webp" or data[8:12] == b"WEBP"):
            return ext
    return None


def zip_path_of(folder: Path) -> Path:
    return folder.with_name(f"{folder.name}.zip")  # not with_suffix: ids may contain dots


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _copy_images(facts: dict[str, Any], store: EvidenceStore, folder: Path) -> None:
    """Copy screenshots and images into ``artefacts/`` (checked against their hash)."""
    for artefact in facts["artefacts"]:
        if artefact["kind"] not in ("screenshot", "image"):
            continue
        data = store.path(artefact["sha256"]).read_bytes()
        if sha256_hex(data) != artefact["sha256"]:
            raise EvidenceError(
                f"evidence seq {artefact['seq']}: artefact does not match its "
                "recorded SHA-256 (run `reelguard evidence verify`)"
            )
        ext = image_extension(data)
        if ext is None:
            continue
        name = f"artefacts/{artefact['seq']}-{artefact['kind']}-{artefact['sha256']}.{ext}"
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(data)
        artefact["file"] = name


def write_sums(folder: Path) -> bytes:
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel != SUMS:
            lines.append(f"{sha256_hex(path.read_bytes())}  {rel}\n")
    data = "".join(lines).encode("utf-8")
    (folder / SUMS).write_bytes(data)
    return data


def write_zip(folder: Path, target: Path, when: datetime) -> str:
    """Zip ``folder`` as ``target`` (entries under the folder's name); return its SHA-256."""
    stamp = when.astimezone(UTC).timetuple()[:6]
    tmp = target.with_name(f".{target.name}.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = f"{folder.name}/{path.relative_to(folder).as_posix()}"
            info = zipfile.ZipInfo(rel, date_time=stamp)  # type: ignore[arg-type]
            packed = path.suffix in (".wacz", ".png", ".jpg", ".gif", ".webp")
            info.compress_type = zipfile.ZIP_STORED if packed else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    tmp.replace(target)
    return sha256_hex(target.read_bytes())


def build_case(
    session: Session,
    store: EvidenceStore,
    *,
    marketplace: str,
    seller: str,
    out_dir: Path | None = None,
    subject_ids: list[int] | None = None,
    run_ids: list[int] | None = None,
    investigation: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> CaseResult:
    """Write the case folder and zip for ``seller`` on ``marketplace`` (module docstring)."""
    row = find_seller(session, marketplace, seller)
    if row is None:
        raise UnknownSeller(
            marketplace,
            seller,
            "not in the database (crawl its storefront first, or run `reelguard investigate`)",
        )
    generated = (now or datetime.now(UTC)).astimezone(UTC)
    data = collect(
        session, seller_id=row.id, subject_ids=subject_ids or [], run_ids=run_ids or [], store=store
    )
    if not data.records:
        raise EvidenceError(
            f"{marketplace}: no evidence captured for seller {seller!r}: "
            "investigate it (`reelguard investigate`) to capture its pages"
        )
    head_seq, head_hash = chain.head(session)
    case_id = (
        f"{safe_component(marketplace)}-{safe_component(seller)}-"
        f"{generated.strftime('%Y%m%dT%H%M%SZ')}"
    )
    parent = (Path(out_dir) if out_dir is not None else DEFAULT_CASES_DIR).absolute()
    parent.mkdir(parents=True, exist_ok=True)
    final = parent / case_id
    n = 1
    while final.exists() or zip_path_of(final).exists():
        n += 1
        final = parent / f"{case_id}-{n}"
    case_id = final.name
    work = parent / f".{case_id}.tmp"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        facts = data.facts
        _copy_images(facts, store, work)
        wacz = export_records(
            session,
            store,
            data.records,
            work / "captures.wacz",
            title=f"Case {case_id}",
            description=f"Captures of seller {seller} on {marketplace} and linked accounts",
        )
        head = {"seq": head_seq, "entry_hash": head_hash}
        case = {
            "format": CASE_FORMAT,
            "case_id": case_id,
            "generated_at": generated.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "generator": f"Reelguard/{__version__}",
            "investigation": investigation,
            "chain_head": head,
            "wacz": {
                "file": "captures.wacz",
                "sha256": wacz.sha256,
                "bytes": wacz.bytes,
                "records": wacz.records,
            },
        }
        document = {**case, **facts}
        (work / "case.json").write_text(
            json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        (work / "report.html").write_text(
            render_report(facts, {**case, "id": case_id}), encoding="utf-8"
        )
        (work / HEAD_FILE).write_text(
            f"seq {head_seq}\nentry_hash {head_hash}\ngenerated_at {case['generated_at']}\n",
            encoding="utf-8",
        )
        sums = write_sums(work)
        work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    zip_sha = write_zip(final, zip_path_of(final), generated)
    return CaseResult(
        case_id, final, zip_path_of(final), zip_sha, sha256_hex(sums), facts["summary"]
    )


def build_investigation_case(
    session: Session, store: EvidenceStore, investigation_id: int, out_dir: Path | None = None
) -> CaseResult:
    """Rebuild the case of investigation ``investigation_id`` from what is stored now."""
    from crawler.db.models_sellers import Investigation
    from crawler.exceptions import ConfigError

    row = session.get(Investigation, investigation_id)
    if row is None:
        raise ConfigError(f"no investigation {investigation_id}")
    summary = row.summary or {}
    subjects = []
    for hop in summary.get("hops") or []:
        for name in hop.get("sellers", []):
            market, _, key = str(name).partition(":")
            found = find_seller(session, market, key)
            if found is not None:
                subjects.append(found.id)
    investigation = {
        "id": row.id,
        "marketplace": row.marketplace,
        "seller": row.seller_key,
        "depth": row.depth,
        "linked": row.linked,
        "run_id": row.run_id,
        "started_at": row.started_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "hops": summary.get("hops") or [],
        "refresh_error": summary.get("refresh_error"),
    }
    return build_case(
        session,
        store,
        marketplace=row.marketplace,
        seller=row.seller_key,
        out_dir=out_dir,
        subject_ids=subjects,
        run_ids=[row.run_id] if row.run_id else [],
        investigation=investigation,
    )
