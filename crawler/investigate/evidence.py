"""Which evidence belongs in a case, grouped into captured pages.

A case holds every entry of the evidence log that is

* captured in the investigation's crawl run(s) (every page, matched or not, with
  ``REELGUARD_EVIDENCE_ALL``), whatever listing or page it is;
* of a listing of an investigated account (its earlier captures);
* in the same capture as an artefact that a fact of the case cites by hash: the licence page
  of a licence finding, the pages that show a shared identifier, a strike's evidence.

Entries are grouped by ``capture_id`` into *pages*, each classified as ``image`` (only image
artefacts: a product photo fetched for its perceptual hash), ``listing`` (the entry names a
listing), ``shop`` (a storefront page: its URL is under an account's storefront URL, or its
extracted fields are a seller's profile) or ``page``.

No settings affect this module. Functions take a session and never commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crawler.db.models import Listing, Seller
from crawler.db.models_evidence import EvidenceRecord
from crawler.evidence.chain import format_time
from crawler.evidence.export import EXTENSIONS
from crawler.evidence.store import EvidenceStore


@dataclass
class CaseEvidence:
    records: list[EvidenceRecord] = field(default_factory=list)
    pages: list[dict[str, Any]] = field(default_factory=list)
    artefacts: list[dict[str, Any]] = field(default_factory=list)


def wacz_path(record: EvidenceRecord) -> str:
    """Where ``crawler.evidence.export.export_records`` puts ``record`` in the WACZ."""
    if record.kind == "warc":
        return f"archive/{record.seq}-{record.sha256}.warc.gz"
    ext = EXTENSIONS.get(record.kind, "html" if "html" in record.media_type else "bin")
    return f"evidence/{record.seq}-{record.kind}-{record.sha256}.{ext}"


def select_records(
    session: Session,
    *,
    run_ids: Iterable[int],
    listing_ids: Iterable[int],
    sha256s: Iterable[str],
) -> list[EvidenceRecord]:
    runs, listings, hashes = set(run_ids), set(listing_ids), set(sha256s)
    conditions = []
    if runs:
        conditions.append(EvidenceRecord.run_id.in_(runs))
    if listings:
        conditions.append(EvidenceRecord.listing_id.in_(listings))
    if hashes:
        cited = select(EvidenceRecord.capture_id).where(EvidenceRecord.sha256.in_(hashes))
        conditions.append(EvidenceRecord.capture_id.in_(cited))
    if not conditions:
        return []
    return list(
        session.execute(
            select(EvidenceRecord).where(or_(*conditions)).order_by(EvidenceRecord.seq)
        ).scalars()
    )


def _shop_prefixes(sellers: Sequence[dict[str, Any]], base_urls: dict[str, str]) -> list[str]:
    """``host/path`` prefixes under which the accounts' storefront pages live."""
    from crawler.pages import KNOWN_MARKETPLACES, get_pages

    prefixes = []
    for seller in sellers:
        urls = [seller.get("shop_url")]
        market, base = seller.get("marketplace"), base_urls.get(seller.get("marketplace") or "")
        if market in KNOWN_MARKETPLACES and base:
            urls.append(get_pages(market).shop_url(base, seller["seller_id"]))
        for url in urls:
            if url:
                parts = urlsplit(url)
                if parts.netloc and parts.path.strip("/"):
                    prefixes.append(f"{parts.netloc}{parts.path.rstrip('/')}")
    return prefixes


def _under(url: str | None, prefixes: list[str]) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    where = f"{parts.netloc}{parts.path.rstrip('/')}"
    return any(where == p or where.startswith(p + "/") for p in prefixes)


def _fields_of(records: list[EvidenceRecord], store: EvidenceStore | None) -> dict[str, Any]:
    if store is None:
        return {}
    for record in records:
        if record.kind == "fields" and store.exists(record.sha256):
            try:
                value = json.loads(store.read(record.sha256))
            except ValueError:
                return {}
            return value if isinstance(value, dict) else {}
    return {}


def collect_evidence(
    session: Session,
    *,
    run_ids: Iterable[int],
    listing_ids: Iterable[int],
    sha256s: Iterable[str],
    sellers: Sequence[dict[str, Any]],
    base_urls: dict[str, str] | None = None,
    store: EvidenceStore | None = None,
) -> CaseEvidence:
    """The case's evidence entries, pages and artefact table (see the module docstring)."""
    records = select_records(session, run_ids=run_ids, listing_ids=listing_ids, sha256s=sha256s)
    listing_keys: dict[int, tuple[str, str | None]] = {}
    ids = {r.listing_id for r in records if r.listing_id is not None}
    if ids:
        for lid, key, seller_key in session.execute(
            select(Listing.id, Listing.listing_key, Seller.seller_key)
            .outerjoin(Seller, Seller.id == Listing.seller_id)
            .where(Listing.id.in_(ids))
        ).all():
            listing_keys[lid] = (key, seller_key)
    prefixes = _shop_prefixes(sellers, base_urls or {})
    groups: dict[str, list[EvidenceRecord]] = {}
    for record in records:
        groups.setdefault(record.capture_id, []).append(record)

    pages = []
    for capture_id, group in groups.items():
        first = group[0]
        listing = listing_keys.get(first.listing_id or -1)
        if all(r.kind == "image" for r in group):
            kind = "image"  # a product photo fetched on its own (linked-account image hashes)
        elif first.listing_id is not None:
            kind = "listing"
        elif _under(first.url, prefixes) or {"seller_id", "has_licence_block"} <= set(
            _fields_of(group, store)
        ):
            kind = "shop"
        else:
            kind = "page"
        pages.append(
            {
                "capture_id": capture_id,
                "page": kind,
                "url": first.url,
                "marketplace": first.marketplace,
                "listing_id": listing[0] if listing else first.listing_key,
                "listing_db_id": first.listing_id,
                "seller_id": listing[1] if listing else None,
                "run_id": first.run_id,
                "captured_at": format_time(first.captured_at),
                "note": first.note,
                "artefacts": [{"seq": r.seq, "kind": r.kind, "sha256": r.sha256} for r in group],
            }
        )
    artefacts = [
        {
            "seq": r.seq,
            "kind": r.kind,
            "sha256": r.sha256,
            "size": r.size,
            "media_type": r.media_type,
            "url": r.url,
            "captured_at": format_time(r.captured_at),
            "capture_id": r.capture_id,
            "entry_hash": r.entry_hash,
            "prev_hash": r.prev_hash,
            "marketplace": r.marketplace,
            "listing_id": r.listing_key,
            "run_id": r.run_id,
            "note": r.note,
            "wacz_path": wacz_path(r),
            "file": None,
        }
        for r in records
    ]
    return CaseEvidence(records, pages, artefacts)
