"""Notices: approved requests grouped per member and marketplace into batches of ≤300 listings.

A notice carries what the main notice-and-takedown regimes require (DMCA §512(c)(3), the EU
DSA art. 16, marketplaces' IP portals): the rights holder and its agent's contact details
(name, e-mail, postal address, phone), the identified work(s), every listing's URL and
marketplace id, the good-faith and accuracy statements, the signature, and the evidence: the
SHA-256 of each artefact the evidence log (table ``evidence``) holds for the listing.

:func:`prefiling_check` names every missing element; a notice missing a member-level element
is refused whole, a listing missing its own (URL, id, works, evidence) is left out of the batch
and reported. Without evidence a listing is refused unless ``allow_without_evidence``.

:func:`prepare_batches` claims approved, unbatched requests (``queue.claim_requests``), writes
``notice_batches`` rows (state ``prepared``) with the exact payload, its SHA-256 and an
idempotency key derived from (member, marketplace, request ids), and links the requests.

No settings affect this module. Data functions take a session and never commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session, aliased

from crawler.db.models import CatalogTitle, Listing, Seller, utcnow
from crawler.db.models_takedown import NoticeBatch, TakedownRequest
from crawler.takedown.config import MemberConfig, TakedownConfig
from crawler.takedown.queue import claim_requests, release_requests

MAX_BATCH = 300  # a large platform's IP portal takes at most 300 listings per complaint
SCHEMA = "reelguard.notice/1"

# Member-level elements: (path in the notice, what it is).
REQUIRED_NOTICE_FIELDS = (
    ("rights_holder.name", "the rights holder's legal name"),
    ("rights_holder.address", "the rights holder's address"),
    ("agent.name", "the agent's name"),
    ("agent.email", "the agent's e-mail"),
    ("agent.address", "the agent's postal address"),
    ("agent.phone", "the agent's phone"),
    ("statements.good_faith", "the good-faith statement"),
    ("statements.accuracy", "the accuracy statement"),
    ("signature.text", "the signature"),
    ("marketplace", "the marketplace"),
)
REQUIRED_LISTING_FIELDS = ("listing_id", "url", "works", "evidence")


def canonical_json(value: Any) -> bytes:
    """The bytes hashed and sent: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def idempotency_key(member: str, marketplace: str, request_ids: Sequence[int]) -> str:
    """Stable for the same batch contents: a retry of this batch can only be this batch."""
    raw = f"{member}\n{marketplace}\n{','.join(str(i) for i in sorted(request_ids))}"
    return "rg-" + sha256_hex(raw.encode())[:40]


def _get(notice: dict[str, Any], path: str) -> Any:
    value: Any = notice
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def listing_problems(entry: dict[str, Any], require_evidence: bool = True) -> list[str]:
    """The listing-level elements ``entry`` lacks (``"evidence"`` when it has no hash)."""
    missing = [f for f in REQUIRED_LISTING_FIELDS if f != "evidence" and _blank(entry.get(f))]
    if require_evidence and not entry.get("evidence"):
        missing.append("evidence")
    return missing


def prefiling_check(notice: dict[str, Any], require_evidence: bool = True) -> list[str]:
    """Every required element the notice lacks, as ``path (what)``; empty when fileable."""
    missing = [f"{path} ({what})" for path, what in REQUIRED_NOTICE_FIELDS
               if _blank(_get(notice, path))]
    works = notice.get("works") or []
    if not works:
        missing.append("works (the identified copyrighted work(s))")
    for i, work in enumerate(works):
        if _blank(work.get("title")):
            missing.append(f"works[{i}].title (title of work {work.get('catalog_id')})")
    listings = notice.get("listings") or []
    if not listings:
        missing.append("listings (at least one infringing listing)")
    if len(listings) > MAX_BATCH:
        missing.append(f"listings ({len(listings)} listings, at most {MAX_BATCH} per notice)")
    for i, entry in enumerate(listings):
        for name in listing_problems(entry, require_evidence):
            missing.append(f"listings[{i}].{name} (listing {entry.get('listing_id')})")
    return missing


# --------------------------------------------------------------------------- reading rows


@dataclass
class RequestRow:
    request_id: int
    member: str
    marketplace: str
    listing_db_id: int
    listing_id: str
    url: str
    title: str
    seller_id: str | None
    seller_name: str | None
    catalog_ids: list[str]
    decision: str
    score: float | None
    state: str
    cites_request_id: int | None
    cites_complaint_id: str | None


def request_rows(session: Session, request_ids: Iterable[int]) -> list[RequestRow]:
    ids = sorted(set(request_ids))
    cited = aliased(TakedownRequest)
    out: list[RequestRow] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = session.execute(
            select(TakedownRequest, Listing.listing_key, Listing.url, Listing.title,
                   Seller.seller_key, Seller.name, cited.complaint_id)
            .join(Listing, Listing.id == TakedownRequest.listing_id)
            .outerjoin(Seller, Seller.id == Listing.seller_id)
            .outerjoin(cited, cited.id == TakedownRequest.cites_request_id)
            .where(TakedownRequest.id.in_(chunk))
            .order_by(TakedownRequest.id)
        ).all()
        for req, key, url, title, seller_key, seller_name, cites_complaint in rows:
            out.append(RequestRow(
                req.id, req.member, req.marketplace, req.listing_id, key, url, title,
                seller_key, seller_name, list(req.catalog_ids or []), req.decision, req.score,
                req.state, req.cites_request_id, cites_complaint,
            ))
    return out


def evidence_hashes(session: Session, listing_db_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """``{listing db id: [{kind, sha256, captured_at, entry_hash}]}`` from the evidence log
    (empty when the evidence table does not exist yet)."""
    ids = sorted(set(listing_db_ids))
    out: dict[int, list[dict[str, Any]]] = {}
    if not ids or not inspect(session.connection()).has_table("evidence"):
        return out
    from crawler.db.models_evidence import EvidenceRecord as E

    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(E.listing_id, E.kind, E.sha256, E.captured_at, E.entry_hash)
            .where(E.listing_id.in_(ids[start:start + 500]))
            .order_by(E.seq)
        ).all()
        for listing_id, kind, sha, at, entry_hash in rows:
            if listing_id is None:
                continue
            seen = out.setdefault(int(listing_id), [])
            if any(e["sha256"] == sha for e in seen):
                continue
            seen.append({"kind": kind, "sha256": sha,
                         "captured_at": at.isoformat() if at else None,
                         "log_entry": entry_hash})
    return out


def works(session: Session, catalog_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    ids = sorted(set(catalog_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(CatalogTitle.id, CatalogTitle.title, CatalogTitle.year, CatalogTitle.member)
        .where(CatalogTitle.id.in_(ids))
    ).all()
    return {r.id: {"catalog_id": r.id, "title": r.title, "year": r.year, "owner": r.member}
            for r in rows}


# --------------------------------------------------------------------------- building


def build_notice(
    member: MemberConfig,
    marketplace: str,
    rows: Sequence[RequestRow],
    evidence: dict[int, list[dict[str, Any]]],
    catalog: dict[str, dict[str, Any]],
    *,
    key: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The notice for ``rows`` (one member, one marketplace) as a JSON-ready dict."""
    now = now or utcnow()
    listed_works: dict[str, dict[str, Any]] = {}
    entries = []
    for row in rows:
        row_works = [catalog.get(c, {"catalog_id": c, "title": None, "year": None})
                     for c in row.catalog_ids]
        for w in row_works:
            listed_works.setdefault(w["catalog_id"], {k: w.get(k) for k in
                                                      ("catalog_id", "title", "year")})
        entries.append({
            "request_id": row.request_id,
            "listing_id": row.listing_id,
            "url": row.url,
            "title": row.title,
            "seller_id": row.seller_id,
            "seller_name": row.seller_name,
            "works": [w["catalog_id"] for w in row_works],
            "evidence": evidence.get(row.listing_db_id, []),
            "cites": ({"request_id": row.cites_request_id,
                       "complaint_id": row.cites_complaint_id}
                      if row.cites_request_id else None),
        })
    ids = [r.request_id for r in rows]
    return {
        "schema": SCHEMA,
        "idempotency_key": key or idempotency_key(member.member, marketplace, ids),
        "marketplace": marketplace,
        "member": member.member,
        "rights_holder": {"name": member.legal_name, "address": member.address,
                          "email": member.email},
        "agent": {"name": member.agent.name, "email": member.agent.email,
                  "address": member.agent.address, "phone": member.agent.phone},
        "works": sorted(listed_works.values(), key=lambda w: w["catalog_id"]),
        "listings": entries,
        "statements": {"good_faith": member.good_faith_statement,
                       "accuracy": member.accuracy_statement},
        "signature": {"text": member.signature, "signed_at": now.isoformat()},
    }


@dataclass
class Refusal:
    """Requests not filed, and why (the elements the pre-filing check found missing)."""

    member: str
    marketplace: str
    request_ids: list[int]
    missing: list[str]


@dataclass
class PrepareResult:
    batches: list[int] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    listings: int = 0


def group_notices(
    session: Session,
    config: TakedownConfig,
    rows: Sequence[RequestRow],
    *,
    allow_without_evidence: bool = False,
    max_per_batch: int = MAX_BATCH,
) -> tuple[list[tuple[list[RequestRow], dict[str, Any]]], list[Refusal]]:
    """Notices for ``rows`` per member and marketplace, ≤``max_per_batch`` listings each, and
    the refusals of the pre-filing check. Reads only; writes nothing."""
    if not 1 <= max_per_batch <= MAX_BATCH:
        raise ValueError(f"max_per_batch must be between 1 and {MAX_BATCH}")
    evidence = evidence_hashes(session, [r.listing_db_id for r in rows])
    catalog = works(session, [c for r in rows for c in r.catalog_ids])
    require = not allow_without_evidence
    groups: dict[tuple[str, str], list[RequestRow]] = {}
    for row in rows:
        groups.setdefault((row.member, row.marketplace), []).append(row)
    notices: list[tuple[list[RequestRow], dict[str, Any]]] = []
    refused: list[Refusal] = []
    for (member_name, marketplace), members_rows in sorted(groups.items()):
        member = config.member(member_name)
        # A listing that lacks its own elements is refused alone; its neighbours are filed.
        fileable: list[RequestRow] = []
        for row in members_rows:
            probe = build_notice(member, marketplace, [row], evidence, catalog)
            entry = probe["listings"][0]
            problems = listing_problems(entry, require)
            problems += [f"works.{w['catalog_id']}.title" for w in probe["works"]
                         if not w.get("title")]
            if problems:
                why = ["no evidence" if p == "evidence" else p for p in problems]
                refused.append(Refusal(member_name, marketplace, [row.request_id], why))
            else:
                fileable.append(row)
        for start in range(0, len(fileable), max_per_batch):
            chunk = fileable[start:start + max_per_batch]
            notice = build_notice(member, marketplace, chunk, evidence, catalog)
            missing = prefiling_check(notice, require)
            if missing:
                refused.append(Refusal(member_name, marketplace,
                                       [r.request_id for r in chunk], missing))
            else:
                notices.append((chunk, notice))
    return notices, refused


def prepare_batches(
    session: Session,
    config: TakedownConfig,
    worker: str,
    *,
    member: str | None = None,
    marketplace: str | None = None,
    allow_without_evidence: bool = False,
    max_per_batch: int = MAX_BATCH,
    lease_s: float = 300.0,
) -> PrepareResult:
    """Batch every approved, unbatched request this worker can claim (see the module doc)."""
    result = PrepareResult()
    claimed = claim_requests(session, worker, member=member, marketplace=marketplace,
                             limit=100_000, lease_s=lease_s)
    if not claimed:
        return result
    rows = request_rows(session, claimed)
    notices, refused = group_notices(session, config, rows,
                                     allow_without_evidence=allow_without_evidence,
                                     max_per_batch=max_per_batch)
    result.refused = refused
    release_requests(session, [i for r in refused for i in r.request_ids], worker)
    now = utcnow()
    for chunk, notice in notices:
        ids = [r.request_id for r in chunk]
        batch = NoticeBatch(
            member=chunk[0].member, marketplace=chunk[0].marketplace,
            idempotency_key=notice["idempotency_key"], state="prepared", created_at=now,
            attempts=0, listing_count=len(chunk), payload=notice,
            payload_sha256=sha256_hex(canonical_json(notice)),
        )
        session.add(batch)
        session.flush()
        session.execute(
            update(TakedownRequest).where(TakedownRequest.id.in_(ids))
            .values(notice_batch_id=batch.id, claimed_by=None, claimed_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        result.batches.append(batch.id)
        result.listings += len(chunk)
    return result

