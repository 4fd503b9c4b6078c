"""The strike ledger: one strike per removal a platform accepted, and each seller's full history.

:func:`update_strikes` adds a ``strikes`` row for every takedown request that

* the platform **accepted** (``platform_status = 'accepted'``, set by the follow-up when the
  complaint's verdict says so), and
* whose listing is **confirmed removed** (``removed_at`` set by the follow-up's re-crawl, state
  ``removed``, or ``relisted`` for a removal the seller later undid),

and nothing else: detections, requests pending review, approved, submitted, acknowledged but
still up, rejected or withdrawn never become strikes. Each strike records the seller (the
listing's seller), the work (first catalogue id of the request, its title from
``catalog_titles``), the member, the date (``struck_at = removed_at``), the offence kind
(:mod:`crawler.sellers.offence`) and the evidence: the SHA-256 of the listing's earliest WARC
capture made before the removal (else its earliest other capture). A strike without evidence
is kept in the ledger but never counts toward escalation (``crawler.sellers.escalate``). The
insert ignores rows that exist (unique ``request_id``), so the update is idempotent.

:func:`load_strikes` gives the strikes with what the policy needs to judge them; a seller's
whole history (``ledger_for``) is built from them in ``crawler.sellers.history``.

No settings affect this module. Data functions take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.db.models import CatalogTitle, Listing
from crawler.db.models_evidence import EvidenceRecord
from crawler.db.models_sellers import Strike
from crawler.db.models_takedown import TakedownRequest
from crawler.db.sql import _insert
from crawler.exceptions import ConfigError
from crawler.sellers.offence import classify_offence

# States a confirmed removal can be in: still removed, or removed and later put back.
REMOVED_STATES = ("removed", "relisted")
# Which capture best shows the listing as it was offered: the HTTP exchange first.
_KIND_RANK = {
    "warc": 0,
    "saved_page": 1,
    "html": 2,
    "screenshot": 3,
    "fields": 4,
    "decision": 5,
    "image": 6,
}
_CHUNK = 500


class SellerLookupError(ConfigError):
    """No seller, or more than one, answers to what was asked (the CLI exits 2)."""


@dataclass(frozen=True)
class StrikeFact:
    """One strike and what the policy needs to judge it (see :func:`load_strikes`)."""

    id: int
    seller_id: int
    marketplace: str
    request_id: int
    listing_id: int
    member: str
    catalog_id: str | None
    work: str | None
    offence: str
    struck_at: datetime
    evidence_sha256: str | None
    cites_request_id: int | None
    listing_first_seen: datetime
    sales_count: int | None
    listing_key: str
    listing_url: str
    listing_title: str


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start : start + _CHUNK])


def best_evidence(
    session: Session, listing_ids: Iterable[int]
) -> dict[int, list[tuple[int, datetime, str]]]:
    """``{listing id: [(kind rank, captured_at, sha256), ...]}`` best first."""
    ids = sorted(set(listing_ids))
    found: dict[int, list[tuple[int, datetime, str]]] = {}
    for chunk in _chunks(ids):
        rows = session.execute(
            select(
                EvidenceRecord.listing_id,
                EvidenceRecord.kind,
                EvidenceRecord.captured_at,
                EvidenceRecord.sha256,
            )
            .where(EvidenceRecord.listing_id.in_(chunk))
            .order_by(EvidenceRecord.seq)
        ).all()
        for listing_id, kind, at, sha in rows:
            if listing_id is None:
                continue
            found.setdefault(int(listing_id), []).append((_KIND_RANK.get(kind, 9), at, sha))
    for entries in found.values():
        entries.sort(key=lambda e: (e[0], e[1]))
    return found


def _evidence_before(entries: list[tuple[int, datetime, str]], moment: datetime) -> str | None:
    # A capture made after the removal shows the "removed" page, not the offer.
    for _rank, at, sha in entries:
        if at <= moment:
            return sha
    return None


def _works(session: Session, catalog_ids: Iterable[str]) -> dict[str, CatalogTitle]:
    ids = sorted(set(catalog_ids))
    out: dict[str, CatalogTitle] = {}
    for start in range(0, len(ids), _CHUNK):
        for row in session.execute(
            select(CatalogTitle).where(CatalogTitle.id.in_(ids[start : start + _CHUNK]))
        ).scalars():
            out[row.id] = row
    return out


def work_label(title: CatalogTitle | None, catalog_id: str | None) -> str | None:
    if title is None:
        return catalog_id
    return f"{title.title} ({title.year})" if title.year else title.title


def update_strikes(session: Session) -> int:
    """Add the strikes of accepted, confirmed removals not in the ledger yet; return how many."""
    rows = session.execute(
        select(
            TakedownRequest.id,
            TakedownRequest.listing_id,
            TakedownRequest.member,
            TakedownRequest.marketplace,
            TakedownRequest.catalog_ids,
            TakedownRequest.removed_at,
            Listing.seller_id,
            Listing.title,
            Listing.description,
        )
        .join(Listing, Listing.id == TakedownRequest.listing_id)
        .outerjoin(Strike, Strike.request_id == TakedownRequest.id)
        .where(
            Strike.id.is_(None),
            TakedownRequest.platform_status == "accepted",
            TakedownRequest.state.in_(REMOVED_STATES),
            TakedownRequest.removed_at.is_not(None),
            Listing.seller_id.is_not(None),
        )
        .order_by(TakedownRequest.id)
    ).all()
    if not rows:
        return 0
    evidence = best_evidence(session, [r.listing_id for r in rows])
    first_ids = {r.id: next(iter(r.catalog_ids or []), None) for r in rows}
    titles = _works(session, [c for c in first_ids.values() if c])
    # Every alias of the work is blanked before classifying, so titles are not offence words.
    added = 0
    for r in rows:
        catalog_id = first_ids[r.id]
        work = titles.get(catalog_id) if catalog_id else None
        names = [work.title, *(work.aliases or [])] if work is not None else []
        values = {
            "seller_id": r.seller_id,
            "marketplace": r.marketplace,
            "request_id": r.id,
            "listing_id": r.listing_id,
            "member": r.member,
            "catalog_id": catalog_id,
            "work": work_label(work, catalog_id),
            "offence": classify_offence(r.title, r.description, names),
            "struck_at": r.removed_at,
            "evidence_sha256": _evidence_before(evidence.get(r.listing_id, []), r.removed_at),
        }
        stmt = (
            _insert(session, Strike)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(Strike.id)
        )
        if session.execute(stmt).scalar_one_or_none() is not None:
            added += 1
    session.flush()
    return added


def load_strikes(session: Session, seller_ids: Iterable[int] | None = None) -> list[StrikeFact]:
    """Strikes (of ``seller_ids``, or all), oldest first, with their request and listing facts."""
    stmt = (
        select(
            Strike,
            TakedownRequest.cites_request_id,
            Listing.first_seen,
            Listing.sales_count,
            Listing.listing_key,
            Listing.url,
            Listing.title,
        )
        .join(TakedownRequest, TakedownRequest.id == Strike.request_id)
        .join(Listing, Listing.id == Strike.listing_id)
        .order_by(Strike.struck_at, Strike.id)
    )
    batches: list[Any] = [None]
    if seller_ids is not None:
        ids = sorted(set(seller_ids))
        if not ids:
            return []
        batches = list(_chunks(ids))
    facts: list[StrikeFact] = []
    for batch in batches:
        query = stmt if batch is None else stmt.where(Strike.seller_id.in_(batch))
        for s, cites, first_seen, sales, key, url, title in session.execute(query).all():
            facts.append(
                StrikeFact(
                    id=s.id,
                    seller_id=s.seller_id,
                    marketplace=s.marketplace,
                    request_id=s.request_id,
                    listing_id=s.listing_id,
                    member=s.member,
                    catalog_id=s.catalog_id,
                    work=s.work,
                    offence=s.offence,
                    struck_at=s.struck_at,
                    evidence_sha256=s.evidence_sha256,
                    cites_request_id=cites,
                    listing_first_seen=first_seen,
                    sales_count=sales,
                    listing_key=key,
                    listing_url=url,
                    listing_title=title,
                )
            )
    facts.sort(key=lambda f: (f.struck_at, f.id))
    return facts
