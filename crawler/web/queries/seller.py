"""The seller page's query: the strike ledger, escalation level with its reason, licence
findings, linked accounts with their proofs, listings over time and investigations, built on
``crawler.sellers.history.ledger_for`` and cut down to the user's member.

A member's user sees a seller only when their member has a request on one of its listings
(``crawler.web.scope.seller_visible``), and then only their member's requests, strikes and
matches; the escalation level is the programme's (all members' confirmed removals count
towards it), so it is shown with its reason but not with other members' strikes. Contact
identifiers of linked accounts are masked as ``reelguard links`` masks them.

No settings affect this module. Data functions take a session and never commit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.db.models_sellers import Investigation
from crawler.linking.identifiers import mask
from crawler.sellers.history import SellerLedger, ledger_for
from crawler.sellers.policy import level_words, load_policy
from crawler.web.member_view import member_view
from crawler.web.queries.request import evidence_by_sha
from crawler.web.scope import NotFound, seller_visible
from crawler.web.users import Principal


@dataclass
class SellerPage:
    ledger: SellerLedger
    level: str | None
    level_words: str
    level_reason: str
    policy: str
    listings_per_day: list[tuple[date, int]]
    removed_per_day: list[tuple[date, int]]
    links: list[dict[str, Any]]
    proofs: dict[str, int]
    investigations: list[Investigation]


def _for_member(session: Session, ledger: SellerLedger, principal: Principal) -> SellerLedger:
    if principal.is_admin:
        return ledger
    member = principal.member
    ledger.requests = [r for r in ledger.requests if r.member == member]
    ledger.strikes = [s for s in ledger.strikes if s.member == member]
    listing_ids = {r.listing_id for r in ledger.requests}
    ledger.sightings = [s for s in ledger.sightings if s.listing_id in listing_ids]
    for sighting in ledger.sightings:
        sighting.matches = [m for m in sighting.matches if m.get("member") == member]
    # A match row of the member's still lists every member's works of a shared decision.
    view = member_view(session, principal, [s.matches for s in ledger.sightings],
                       own_ids=[cid for r in ledger.requests for cid in r.catalog_ids or []])
    for sighting in ledger.sightings:
        sighting.matches = view.value(sighting.matches)
    ledger.timeline = []  # built over every member's requests: not shown to a member's user
    for event in ledger.events:
        event["evidence"] = None  # an escalation's evidence names other members' requests
    return ledger


def seller_page(session: Session, principal: Principal, seller_id: int) -> SellerPage:
    if not seller_visible(session, principal, seller_id):
        raise NotFound(f"seller {seller_id}")
    policy = load_policy()
    ledger = _for_member(session, ledger_for(session, seller_id, policy=policy), principal)
    standing = ledger.standing
    per_day = Counter(s.first_seen.date() for s in ledger.sightings)
    removed = Counter(s.removed_at.date() for s in ledger.sightings if s.removed_at)
    links: list[dict[str, Any]] = []
    shas: list[str] = []
    if ledger.cluster:
        for link in ledger.cluster["links"]:
            shown = dict(link)
            shown["value"] = mask(link["kind"], link["value"])
            shown["proof"] = [
                {**p, "shown": p["shown"] if link["kind"] == "image" else None}
                for p in link["proof"]
            ]
            shas += [p["sha256"] for p in link["proof"] if p.get("sha256")]
            links.append(shown)
    investigations = list(session.execute(
        select(Investigation).where(
            Investigation.marketplace == ledger.seller["marketplace"],
            Investigation.seller_key == ledger.seller["seller_key"],
        ).order_by(Investigation.id.desc())
    ).scalars())
    level = standing.level if standing else None
    return SellerPage(
        ledger=ledger, level=level, level_words=level_words(level),
        level_reason=standing.reason if standing else "no confirmed removals",
        policy=policy.name, listings_per_day=sorted(per_day.items()),
        removed_per_day=sorted(removed.items()), links=links,
        proofs=evidence_by_sha(session, shas), investigations=investigations,
    )
