"""One seller's whole history, for ``reelguard sellers show`` and the investigation case file.

:func:`ledger_for` returns a :class:`SellerLedger` of plain dataclasses (``as_dict()`` gives
JSON-ready values: datetimes as ISO 8601 UTC strings):

``seller``
    the stored profile: ``id, marketplace, seller_key, name, shop_name, shop_url, location,
    rating_text, opened_text, first_seen, last_seen, profile``.
``licence``
    the licence block as stored (``has_licence_block, number, holder, authority, valid_from,
    valid_to, raw``) and ``finding``: the latest ``licence_findings`` row as a dict, or None.
``sightings``
    one :class:`Sighting` per listing of the seller: key, URL, title, status, first/last seen,
    removal time, sales shown, price, how many crawls saw it, the matches (member, work,
    decision, score); with ``observations=True`` each crawl's sighting too.
``requests``
    one :class:`RequestEntry` per takedown request on those listings (state, member, works,
    dates, platform verdict, ``cites_request_id`` for relistings).
``strikes``
    one :class:`LedgerStrike` per strike: date, work, member, offence, request, listing,
    evidence hash, ``counted`` (False without evidence), ``relisting``.
``events``
    the ``seller_events`` audit log of the seller (escalations, licence flags, links...).
``cluster``
    the linked accounts (``cluster_id``, ``members`` and the ``links`` with the identifiers and
    captures that prove them), or None.
``timeline``
    everything above in time order (:class:`crawler.sellers.timeline.TimelineEntry`: ``at,
    kind, detail`` and the ids and hash it refers to); ``kind`` is ``sighting``, ``takedown``
    (a request's state change: opened, submitted, accepted, removed, relisted...), ``strike``
    or ``seller_event``.
``standing``
    with ``policy=``: the seller's current :class:`crawler.sellers.escalate.Escalation`
    (computed, not recorded).

No settings affect this module. Data functions take a session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crawler.db.models import Listing, Marketplace, Match, Observation, Seller, utcnow
from crawler.db.models_sellers import (
    LicenceFinding,
    SellerCluster,
    SellerEvent,
    SellerIdentifier,
    SellerLink,
)
from crawler.db.models_takedown import TakedownEvent, TakedownRequest
from crawler.db.sql import json_safe
from crawler.sellers.ledger import SellerLookupError, load_strikes
from crawler.sellers.timeline import TimelineEntry, build_timeline

if TYPE_CHECKING:
    from crawler.sellers.escalate import Escalation
    from crawler.sellers.policy import Policy


@dataclass
class Sighting:
    listing_id: int
    listing_key: str
    url: str
    title: str
    status: str
    first_seen: datetime
    last_seen: datetime
    removed_at: datetime | None
    sales_count: int | None
    price: float | None
    currency: str | None
    crawls: int
    matches: list[dict[str, Any]] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RequestEntry:
    id: int
    listing_id: int
    member: str
    state: str
    decision: str
    catalog_ids: list[str]
    opened_at: datetime
    submitted_at: datetime | None
    removed_at: datetime | None
    platform_status: str | None
    platform_reason: str | None
    complaint_id: str | None
    cites_request_id: int | None


@dataclass
class LedgerStrike:
    id: int
    struck_at: datetime
    marketplace: str
    member: str
    catalog_id: str | None
    work: str | None
    offence: str
    request_id: int
    listing_id: int
    listing_key: str
    listing_url: str
    evidence_sha256: str | None
    counted: bool
    relisting: bool
    sales_count: int | None


@dataclass
class SellerLedger:
    """A seller's whole history (see the module docstring for every field)."""

    seller: dict[str, Any]
    licence: dict[str, Any]
    sightings: list[Sighting]
    requests: list[RequestEntry]
    strikes: list[LedgerStrike]
    events: list[dict[str, Any]]
    cluster: dict[str, Any] | None
    timeline: list[TimelineEntry]
    as_of: datetime
    standing: Escalation | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = json_safe({k: v for k, v in self.__dict__.items() if k != "standing"})
        out["standing"] = self.standing.as_dict() if self.standing is not None else None
        return out


def resolve_seller(session: Session, ref: str, marketplace: str | None = None) -> int:
    """The seller a person means: ``#<id>``, else a seller key, else a name or shop name."""
    ref = ref.strip()
    if ref.startswith("#") and ref[1:].isdigit():
        found = session.get(Seller, int(ref[1:]))
        if found is None:
            raise SellerLookupError(f"no seller with id {ref[1:]}")
        return found.id
    base = select(Seller.id, Marketplace.name, Seller.seller_key).join(
        Marketplace, Marketplace.id == Seller.marketplace_id
    )
    if marketplace:
        base = base.where(Marketplace.name == marketplace)
    for cond in (Seller.seller_key == ref, or_(Seller.name == ref, Seller.shop_name == ref)):
        rows = session.execute(base.where(cond).order_by(Seller.id)).all()
        if len(rows) == 1:
            return int(rows[0][0])
        if rows:
            choices = ", ".join(f"{m}:{k}" for _id, m, k in rows[:10])
            raise SellerLookupError(
                f"{ref!r} is more than one seller ({choices}); give --marketplace or the seller key"
            )
    where = f" on {marketplace}" if marketplace else ""
    raise SellerLookupError(f"no seller {ref!r}{where} (give the seller key, name or #id)")


def _seller(session: Session, seller_id: int) -> tuple[Seller, str]:
    row = session.execute(
        select(Seller, Marketplace.name)
        .join(Marketplace, Marketplace.id == Seller.marketplace_id)
        .where(Seller.id == seller_id)
    ).first()
    if row is None:
        raise SellerLookupError(f"no seller with id {seller_id}")
    return row[0], row[1]


def _cluster(session: Session, seller_id: int) -> dict[str, Any] | None:
    cid = session.execute(
        select(SellerCluster.cluster_id).where(SellerCluster.seller_id == seller_id)
    ).scalar_one_or_none()
    if cid is None:
        return None
    ids = list(
        session.execute(
            select(SellerCluster.seller_id).where(SellerCluster.cluster_id == cid)
        ).scalars()
    )
    if len(ids) < 2:
        return None
    members = [
        {"seller_id": sid, "marketplace": m, "seller_key": k, "name": n or shop}
        for sid, m, k, n, shop in session.execute(
            select(Seller.id, Marketplace.name, Seller.seller_key, Seller.name, Seller.shop_name)
            .join(Marketplace, Marketplace.id == Seller.marketplace_id)
            .where(Seller.id.in_(ids))
            .order_by(Seller.id)
        ).all()
    ]
    links = []
    for link in session.execute(
        select(SellerLink)
        .where(SellerLink.seller_a.in_(ids), SellerLink.seller_b.in_(ids))
        .order_by(SellerLink.id)
    ).scalars():
        proof = []
        for ident_id in (link.identifier_a, link.identifier_b):
            ident = session.get(SellerIdentifier, ident_id)
            if ident is not None:
                proof.append(
                    {
                        "seller_id": ident.seller_id,
                        "shown": ident.shown,
                        "url": ident.url,
                        "listing_id": ident.listing_id,
                        "sha256": ident.evidence_sha256,
                        "first_seen": ident.first_seen,
                    }
                )
        links.append(
            {
                "seller_a": link.seller_a,
                "seller_b": link.seller_b,
                "kind": link.kind,
                "value": link.value,
                "distance": link.distance,
                "proof": proof,
            }
        )
    return {"cluster_id": cid, "members": members, "links": links}


def ledger_for(
    session: Session,
    seller_id: int,
    *,
    as_of: datetime | None = None,
    observations: bool = False,
    policy: Policy | None = None,
) -> SellerLedger:
    """The whole history of seller ``seller_id`` (see the module docstring)."""
    as_of = as_of or utcnow()
    seller, market = _seller(session, seller_id)
    listings = list(
        session.execute(
            select(Listing)
            .where(Listing.seller_id == seller_id)
            .order_by(Listing.first_seen, Listing.id)
        ).scalars()
    )
    listing_ids = [x.id for x in listings]
    matches: dict[int, list[dict[str, Any]]] = {}
    seen: dict[int, list[Observation]] = {}
    requests: list[TakedownRequest] = []
    events: list[TakedownEvent] = []
    if listing_ids:
        for m in session.execute(
            select(Match).where(Match.listing_id.in_(listing_ids)).order_by(Match.id)
        ).scalars():
            matches.setdefault(m.listing_id, []).append(
                {
                    "member": m.member,
                    "catalog_id": m.catalog_id,
                    "catalog_ids": m.catalog_ids,
                    "decision": m.decision,
                    "score": m.score,
                    "decided_at": m.decided_at,
                }
            )
        for o in session.execute(
            select(Observation)
            .where(Observation.listing_id.in_(listing_ids))
            .order_by(Observation.seen_at)
        ).scalars():
            seen.setdefault(o.listing_id, []).append(o)
        requests = list(
            session.execute(
                select(TakedownRequest)
                .where(TakedownRequest.listing_id.in_(listing_ids))
                .order_by(TakedownRequest.id)
            ).scalars()
        )
    if requests:
        events = list(
            session.execute(
                select(TakedownEvent)
                .where(TakedownEvent.request_id.in_([r.id for r in requests]))
                .order_by(TakedownEvent.at, TakedownEvent.id)
            ).scalars()
        )
    sightings = [
        Sighting(
            listing_id=x.id,
            listing_key=x.listing_key,
            url=x.url,
            title=x.title,
            status=x.status,
            first_seen=x.first_seen,
            last_seen=x.last_seen,
            removed_at=x.removed_at,
            sales_count=x.sales_count,
            price=x.price,
            currency=x.currency,
            crawls=len(seen.get(x.id, [])),
            matches=matches.get(x.id, []),
            observations=[
                {
                    "seen_at": o.seen_at,
                    "run_id": o.run_id,
                    "price": o.price,
                    "title": o.title,
                    "status": o.status,
                    "source": o.source,
                    "keyword": o.keyword,
                }
                for o in seen.get(x.id, [])
            ]
            if observations
            else [],
        )
        for x in listings
    ]
    request_rows = [
        RequestEntry(
            id=r.id,
            listing_id=r.listing_id,
            member=r.member,
            state=r.state,
            decision=r.decision,
            catalog_ids=list(r.catalog_ids or []),
            opened_at=r.opened_at,
            submitted_at=r.submitted_at,
            removed_at=r.removed_at,
            platform_status=r.platform_status,
            platform_reason=r.platform_reason,
            complaint_id=r.complaint_id,
            cites_request_id=r.cites_request_id,
        )
        for r in requests
    ]
    from crawler.sellers.escalate import relisting_ids

    facts = load_strikes(session, [seller_id])
    relisted = relisting_ids(facts)
    strikes = [
        LedgerStrike(
            id=s.id,
            struck_at=s.struck_at,
            marketplace=s.marketplace,
            member=s.member,
            catalog_id=s.catalog_id,
            work=s.work,
            offence=s.offence,
            request_id=s.request_id,
            listing_id=s.listing_id,
            listing_key=s.listing_key,
            listing_url=s.listing_url,
            evidence_sha256=s.evidence_sha256,
            counted=bool(s.evidence_sha256),
            relisting=s.id in relisted,
            sales_count=s.sales_count,
        )
        for s in facts
    ]
    seller_events = [
        {
            "id": e.id,
            "at": e.at,
            "kind": e.kind,
            "policy": e.policy,
            "from_level": e.from_level,
            "to_level": e.to_level,
            "reason": e.reason,
            "evidence": e.evidence,
            "actor": e.actor,
        }
        for e in session.execute(
            select(SellerEvent)
            .where(SellerEvent.seller_id == seller_id)
            .order_by(SellerEvent.at, SellerEvent.id)
        ).scalars()
    ]
    finding = session.execute(
        select(LicenceFinding).where(LicenceFinding.seller_id == seller_id)
    ).scalar_one_or_none()
    licence = {
        "has_licence_block": seller.has_licence_block,
        "number": seller.licence_number,
        "holder": seller.licence_holder,
        "authority": seller.licence_authority,
        "valid_from": seller.licence_valid_from,
        "valid_to": seller.licence_valid_to,
        "raw": seller.licence_raw,
        "finding": None
        if finding is None
        else {c.name: getattr(finding, c.name) for c in LicenceFinding.__table__.columns},
    }
    profile = {
        "id": seller.id,
        "marketplace": market,
        "seller_key": seller.seller_key,
        "name": seller.name,
        "shop_name": seller.shop_name,
        "shop_url": seller.shop_url,
        "location": seller.location,
        "rating_text": seller.rating_text,
        "opened_text": seller.opened_text,
        "first_seen": seller.first_seen,
        "last_seen": seller.last_seen,
        "profile": seller.profile,
    }
    ledger = SellerLedger(
        seller=profile,
        licence=licence,
        sightings=sightings,
        requests=request_rows,
        strikes=strikes,
        events=seller_events,
        cluster=_cluster(session, seller_id),
        timeline=build_timeline(sightings, requests, events, strikes, seller_events),
        as_of=as_of,
    )
    if policy is not None:
        from crawler.sellers.escalate import evaluate_all

        found = evaluate_all(session, policy, as_of=as_of, record=False, seller_ids=[seller_id])
        ledger.standing = found[0] if found else None
    return ledger
