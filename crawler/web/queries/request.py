"""The request page's query: a request in the user's scope with its listing, the catalogue
entries it cites, the matching engine's signals, the evidence artefacts and the state history;
and the "verify" action over that evidence.

No settings affect this module. Data functions take a session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.db.models import CatalogTitle, Listing, Marketplace, Match, Seller
from crawler.db.models_evidence import EvidenceRecord
from crawler.db.models_takedown import TakedownEvent, TakedownRequest
from crawler.evidence.export import records_for_listing
from crawler.evidence.store import EvidenceStore
from crawler.evidence.verify import verify
from crawler.takedown.states import TRANSITIONS
from crawler.web.member_view import member_view
from crawler.web.scope import get_request, member_clause
from crawler.web.users import Principal

# Raster images by their first bytes: only these are ever shown inline (a captured SVG or HTML
# page could carry script; an <img> of a PNG cannot).
RASTER_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
PICTURE_KINDS = ("screenshot", "image")


def raster_type(data: bytes) -> str | None:
    """The image type of ``data`` if it is a PNG, JPEG or GIF, else None."""
    for magic, media_type in RASTER_MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass
class RequestDetail:
    request: TakedownRequest
    listing: Listing
    marketplace: str
    seller: Seller | None
    works: list[CatalogTitle]
    signals: list[dict[str, Any]]
    evidence: list[EvidenceRecord]
    picture: EvidenceRecord | None
    history: list[TakedownEvent]
    related: list[TakedownRequest] = field(default_factory=list)
    can_approve: bool = False
    can_reject: bool = False


def _match_decision(match: Match | None) -> dict[str, Any]:
    if match is None:
        return {}
    return {"member": match.member, "catalog_id": match.catalog_id,
            "catalog_ids": list(match.catalog_ids or []), "signals": match.signals or []}


def request_detail(session: Session, principal: Principal, request_id: int) -> RequestDetail:
    """Everything the request page shows (NotFound outside the user's scope)."""
    req = get_request(session, principal, request_id)
    listing = session.get(Listing, req.listing_id)
    assert listing is not None  # a foreign key
    market = session.get(Marketplace, listing.marketplace_id)
    seller = session.get(Seller, listing.seller_id) if listing.seller_id else None
    own = member_clause(principal, CatalogTitle.member)
    works = list(session.execute(
        select(CatalogTitle).where(CatalogTitle.id.in_(list(req.catalog_ids or [])), own,
                                   CatalogTitle.member == req.member)
    ).scalars())
    match = session.execute(
        select(Match).where(Match.listing_id == listing.id, Match.member == req.member,
                            member_clause(principal, Match.member))
    ).scalar_one_or_none()
    # One decision covers every member the listing concerns: the user sees its own part.
    view = member_view(session, principal, _match_decision(match), own_ids=req.catalog_ids or [])
    signals = sorted(view.value((match.signals or []) if match else []),
                     key=lambda s: -abs(float(s.get("weight") or 0)))
    evidence = records_for_listing(session, listing.id)
    pictures = [r for r in evidence if r.kind in PICTURE_KINDS]
    # The full-page screenshot beats the listing's photo; the newest of each kind wins.
    picture = max(pictures, key=lambda r: (r.kind == "screenshot", r.seq), default=None)
    history = list(session.execute(
        select(TakedownEvent).where(TakedownEvent.request_id == req.id)
        .order_by(TakedownEvent.at, TakedownEvent.id)
    ).scalars())
    related = list(session.execute(
        select(TakedownRequest).where(
            TakedownRequest.listing_id == listing.id, TakedownRequest.id != req.id,
            member_clause(principal, TakedownRequest.member),
            TakedownRequest.member == req.member,
        ).order_by(TakedownRequest.id)
    ).scalars())
    return RequestDetail(
        request=req, listing=listing, marketplace=market.name if market else req.marketplace,
        seller=seller, works=works, signals=signals, evidence=evidence,
        picture=picture, history=history, related=related,
        can_approve="approved" in TRANSITIONS[req.state],
        can_reject="rejected" in TRANSITIONS[req.state],
    )


@dataclass
class ArtefactCheck:
    record_id: int
    seq: int
    kind: str
    sha256: str
    ok: bool
    problems: list[str]


@dataclass
class VerifyResult:
    chain_ok: bool
    entries: int
    head_seq: int
    head_hash: str
    artefacts: list[ArtefactCheck]
    other_failures: int

    @property
    def ok(self) -> bool:
        return self.chain_ok and all(a.ok for a in self.artefacts)


def verify_request_evidence(
    session: Session, principal: Principal, request_id: int, store: EvidenceStore,
) -> VerifyResult:
    """Run ``reelguard evidence verify``'s check and report it for this request's artefacts.

    The whole chain is walked (a break anywhere before an artefact makes its place in the
    log unprovable), and every artefact file is re-hashed, as the command does; failures of
    other listings' artefacts are counted, not shown (they may be another member's).
    """
    req = get_request(session, principal, request_id)
    records = records_for_listing(session, req.listing_id)
    report = verify(session, store)
    ours = {r.id for r in records}
    chain_checks = ("seq", "link", "entry_hash", "head")
    chain_ok = not any(f.check in chain_checks for f in report.failures)
    by_record: dict[int, list[str]] = {}
    other = 0
    for failure in report.failures:
        if failure.record_id in ours:
            by_record.setdefault(failure.record_id, []).append(f"{failure.check}: "
                                                               f"{failure.message}")
        elif failure.check not in chain_checks:
            other += 1
    artefacts = [
        ArtefactCheck(r.id, r.seq, r.kind, r.sha256, r.id not in by_record,
                      by_record.get(r.id, []))
        for r in records
    ]
    return VerifyResult(chain_ok=chain_ok, entries=report.entries, head_seq=report.head_seq,
                        head_hash=report.head_hash, artefacts=artefacts, other_failures=other)


def evidence_by_sha(session: Session, sha256_values: list[str]) -> dict[str, int]:
    """The first evidence row id of each artefact hash (for links to ``/evidence/<id>``)."""
    if not sha256_values:
        return {}
    out: dict[str, int] = {}
    for rid, sha in session.execute(
        select(EvidenceRecord.id, EvidenceRecord.sha256)
        .where(EvidenceRecord.sha256.in_(sha256_values)).order_by(EvidenceRecord.id)
    ).all():
        out.setdefault(sha, rid)
    return out
