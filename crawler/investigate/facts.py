"""The facts of a case, read straight from the tables: sellers, listings, requests, strikes…

:func:`collect` returns the facts (the JSON-ready body of ``case.json``, shape in
``crawler.investigate.casefile``) about an investigated seller, the accounts investigated with
it (``subject_ids``) and the accounts linked to them, with the evidence entries they cite. It
reads the tables of every part of Reelguard directly (``listings``, ``observations``,
``matches``, ``catalog_titles``, ``takedown_requests``/``takedown_events``, ``strikes``,
``seller_events``, ``licence_findings``, ``seller_identifiers``, ``seller_links``,
``seller_clusters``, ``evidence``) and never their Python APIs, so a case can be built whatever
state the code that fills them is in; a table with no rows simply says nothing.

The seller's level is the ``to_level`` of its latest ``escalation`` event in the audit log
(``seller_events``), with that event's reason: the log is what justifies a level.

No settings affect this module. Functions take a session and never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from crawler.db.models import (
    CatalogTitle,
    CrawlRun,
    Listing,
    Marketplace,
    Match,
    Observation,
    Seller,
)
from crawler.db.models_evidence import EvidenceRecord
from crawler.db.models_sellers import (
    LicenceFinding,
    SellerCluster,
    SellerEvent,
    SellerIdentifier,
    SellerLink,
    Strike,
)
from crawler.db.models_takedown import TakedownEvent, TakedownRequest
from crawler.evidence.store import EvidenceStore
from crawler.investigate import rows
from crawler.investigate.evidence import collect_evidence
from crawler.investigate.timeline import build_timeline, summary


@dataclass
class CaseData:
    """The facts (JSON-ready) and the evidence entries they cite, in chain order."""

    facts: dict[str, Any]
    records: list[EvidenceRecord]


def find_seller(session: Session, marketplace: str, seller_key: str) -> Seller | None:
    return session.execute(
        select(Seller)
        .join(Marketplace, Marketplace.id == Seller.marketplace_id)
        .where(Marketplace.name == marketplace, Seller.seller_key == seller_key)
    ).scalar_one_or_none()


def linked_seller_ids(session: Session, seller_ids: Iterable[int]) -> set[int]:
    """Sellers sharing an identifier with any of ``seller_ids`` (one hop in ``seller_links``)."""
    ids = set(seller_ids)
    if not ids:
        return set()
    found = session.execute(
        select(SellerLink.seller_a, SellerLink.seller_b).where(
            SellerLink.seller_a.in_(ids) | SellerLink.seller_b.in_(ids)
        )
    ).all()
    return {x for a, b in found for x in (a, b)} - ids


def cluster_of(session: Session, seller_ids: Iterable[int]) -> set[int]:
    """Every seller in the ``seller_clusters`` clusters of ``seller_ids`` (themselves included)."""
    ids = set(seller_ids)
    clusters = select(SellerCluster.cluster_id).where(SellerCluster.seller_id.in_(ids))
    return ids | set(
        session.execute(
            select(SellerCluster.seller_id).where(SellerCluster.cluster_id.in_(clusters))
        ).scalars()
    )


def _levels(session: Session, ids: set[int]) -> dict[int, dict[str, Any]]:
    """The latest escalation event of each seller: its level now, and why."""
    out: dict[int, dict[str, Any]] = {}
    for event in session.execute(
        select(SellerEvent)
        .where(SellerEvent.seller_id.in_(ids), SellerEvent.kind == "escalation")
        .order_by(SellerEvent.at, SellerEvent.id)
    ).scalars():
        out[event.seller_id] = {
            "level": event.to_level,
            "reason": event.reason,
            "policy": event.policy,
            "since": rows.iso(event.at),
        }
    return out


def _all(session: Session, stmt: Select[Any]) -> list[Any]:
    return list(session.execute(stmt).scalars())


def _clusters(session: Session, cluster_ids: set[int]) -> list[dict[str, Any]]:
    out = []
    for cluster_id in sorted(cluster_ids):
        members = session.execute(
            select(Seller.seller_key, Marketplace.name)
            .join(SellerCluster, SellerCluster.seller_id == Seller.id)
            .join(Marketplace, Marketplace.id == Seller.marketplace_id)
            .where(SellerCluster.cluster_id == cluster_id)
            .order_by(Seller.id)
        ).all()
        out.append(
            {
                "cluster_id": cluster_id,
                "members": [{"seller_id": k, "marketplace": m} for k, m in members],
            }
        )
    return out


def collect(
    session: Session,
    *,
    seller_id: int,
    subject_ids: Iterable[int] = (),
    run_ids: Iterable[int] = (),
    store: EvidenceStore | None = None,
) -> CaseData:
    """Everything the case says about seller ``seller_id`` (see the module docstring)."""
    subjects = {seller_id, *subject_ids}
    # Linked: the clusters of the accounts investigated and their direct links (clusters may
    # be stale or not computed yet; the links are what proves them).
    involved = subjects | cluster_of(session, subjects) | linked_seller_ids(session, subjects)
    sellers = {
        s.id: rows.seller_dict(s, m)
        for s, m in session.execute(
            select(Seller, Marketplace.name)
            .join(Marketplace, Marketplace.id == Seller.marketplace_id)
            .where(Seller.id.in_(involved))
        ).all()
    }
    key_of = {i: d["seller_id"] for i, d in sellers.items()}
    strike_counts = {
        a: int(b)
        for a, b in session.execute(
            select(Strike.seller_id, func.count())
            .where(Strike.seller_id.in_(involved))
            .group_by(Strike.seller_id)
        ).all()
    }
    findings = {
        f.seller_id: f
        for f in _all(session, select(LicenceFinding).where(LicenceFinding.seller_id.in_(involved)))
    }
    clusters = {
        a: b
        for a, b in session.execute(
            select(SellerCluster.seller_id, SellerCluster.cluster_id).where(
                SellerCluster.seller_id.in_(involved)
            )
        ).all()
    }

    # -- what the investigated accounts listed, and what happened to it ----------------------
    of_subjects = select(Listing.id).where(Listing.seller_id.in_(subjects))
    listings = _all(
        session, select(Listing).where(Listing.seller_id.in_(subjects)).order_by(Listing.id)
    )
    by_id = {x.id: x for x in listings}
    sightings = session.execute(
        select(Observation, CrawlRun.job)
        .join(CrawlRun, CrawlRun.id == Observation.run_id)
        .where(Observation.listing_id.in_(of_subjects))
        .order_by(Observation.seen_at, Observation.id)
    ).all()
    matches = _all(
        session,
        select(Match)
        .where(Match.listing_id.in_(of_subjects))
        .order_by(Match.listing_id, Match.member),
    )
    titles = {
        t.id: t
        for t in _all(
            session,
            select(CatalogTitle).where(
                CatalogTitle.id.in_({c for m in matches for c in rows.catalog_ids(m)})
            ),
        )
    }
    requests = _all(
        session,
        select(TakedownRequest)
        .where(TakedownRequest.listing_id.in_(of_subjects))
        .order_by(TakedownRequest.id),
    )
    events_of: dict[int, list[TakedownEvent]] = defaultdict(list)
    for ev in _all(
        session,
        select(TakedownEvent)
        .where(TakedownEvent.request_id.in_([r.id for r in requests]))
        .order_by(TakedownEvent.at, TakedownEvent.id),
    ):
        events_of[ev.request_id].append(ev)
    decision_of: dict[int, dict[str, str]] = defaultdict(dict)
    for m in matches:
        decision_of[m.listing_id][m.member] = m.decision

    # -- strikes, the audit log, links and their proofs ------------------------------------
    strikes = _all(
        session,
        select(Strike).where(Strike.seller_id.in_(involved)).order_by(Strike.struck_at, Strike.id),
    )
    seller_events = _all(
        session,
        select(SellerEvent)
        .where(SellerEvent.seller_id.in_(involved))
        .order_by(SellerEvent.at, SellerEvent.id),
    )
    links = _all(
        session,
        select(SellerLink)
        .where(SellerLink.seller_a.in_(involved), SellerLink.seller_b.in_(involved))
        .order_by(SellerLink.kind, SellerLink.value, SellerLink.id),
    )
    idents = {
        i.id: i
        for i in _all(
            session,
            select(SellerIdentifier).where(
                SellerIdentifier.id.in_(
                    {i for x in links for i in (x.identifier_a, x.identifier_b)}
                )
            ),
        )
    }
    # A proof's listing may belong to an account that was not crawled.
    listing_url = {x.id: x.url for x in listings}
    wanted = {i.listing_id for i in idents.values() if i.listing_id} - set(listing_url)
    if wanted:
        listing_url.update(
            {
                i: u
                for i, u in session.execute(
                    select(Listing.id, Listing.url).where(Listing.id.in_(wanted))
                ).all()
            }
        )

    # -- evidence: the run(s), the listings' captures, every capture a fact cites ------------
    cited = {f.evidence_sha256 for f in findings.values()}
    cited |= {i.evidence_sha256 for i in idents.values()} | {s.evidence_sha256 for s in strikes}
    base_urls = {
        n: u for n, u in session.execute(select(Marketplace.name, Marketplace.base_url)).all() if u
    }
    evidence = collect_evidence(
        session,
        run_ids=run_ids,
        listing_ids=list(by_id),
        sha256s={h for h in cited if h},
        sellers=[sellers[i] for i in subjects if i in sellers],
        base_urls=base_urls,
        store=store,
    )
    captures_of: dict[int, list[str]] = defaultdict(list)
    for page in evidence.pages:
        if page["listing_db_id"] is not None:
            captures_of[page["listing_db_id"]].append(page["capture_id"])

    levels = _levels(session, set(sellers))
    accounts = []
    for sid in sorted(sellers, key=lambda i: (i != seller_id, i not in subjects, i)):
        role = (
            "investigated"
            if sid == seller_id
            else ("investigated, linked" if sid in subjects else "linked")
        )
        accounts.append(
            {
                **sellers[sid],
                "role": role,
                "crawled": sid in subjects,
                "level": levels.get(sid),
                "strikes": strike_counts.get(sid, 0),
                "licence_status": findings[sid].status if sid in findings else None,
                "cluster_id": clusters.get(sid),
                "listings": sum(1 for x in listings if x.seller_id == sid),
            }
        )
    facts: dict[str, Any] = {
        "seller": accounts[0],
        "accounts": accounts,
        "clusters": _clusters(session, set(clusters.values())),
        "listings": [
            rows.listing_dict(
                x,
                sellers.get(x.seller_id or -1),
                decision_of.get(x.id, {}),
                captures_of.get(x.id, []),
            )
            for x in listings
        ],
        "sightings": [
            {
                "at": rows.iso(o.seen_at),
                "listing_id": by_id[o.listing_id].listing_key,
                "run_id": o.run_id,
                "job": job,
                "source": o.source,
                "status": o.status,
                "price": o.price,
                "title": o.title,
            }
            for o, job in sightings
        ],
        "works": rows.works(matches, titles, by_id),
        "requests": [
            rows.request_dict(r, by_id[r.listing_id], events_of.get(r.id, [])) for r in requests
        ],
        "strikes": [
            rows.strike_dict(
                s, key_of, by_id[s.listing_id].listing_key if s.listing_id in by_id else None
            )
            for s in strikes
        ],
        "seller_events": [rows.event_dict(e, key_of) for e in seller_events],
        "licence_findings": [
            rows.finding_dict(findings[i], key_of[i])
            for i in sorted(findings, key=lambda i: (i != seller_id, i))
        ],
        "links": [rows.link_dict(x, idents, key_of, listing_url) for x in links],
        "pages": evidence.pages,
        "artefacts": evidence.artefacts,
    }
    facts["timeline"] = build_timeline(facts)
    facts["summary"] = summary(facts)
    return CaseData(facts, evidence.records)
