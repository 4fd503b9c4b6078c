"""Escalation: each seller's level under the repeat-infringer policy, in words, with its evidence.

:func:`assess` is the policy applied to a list of strikes as of a moment (pure): which strikes
count (those with evidence, confirmed on or before ``as_of``), which are inside the rolling
window (``struck_at`` in ``(as_of - window_days, as_of]``: a strike stops counting exactly
``window_days`` after it was confirmed), the total (removals, or points per offence plus the
relisting points), the level it reaches, the law-enforcement referral criteria, and the reason
in words ("4 accepted removals in 90 days: 3 needed for termination request").

A **relisting** is a strike whose request cites an earlier request (the takedown follow-up saw
the listing come back), or whose listing was first seen after a removal of the same work for
the same member from the same seller or, when pooled, from a linked account. A listing taken
down once counts as one removal, however many members' requests (each its own strike row)
it answered.

:func:`evaluate_all` judges every seller with strikes, and every account linked to one
(``seller_clusters``): a seller in a cluster is judged on its own strikes and on the cluster's
pooled strikes, and the higher level applies ("... across 3 linked accounts"). When a
seller's level differs from the last one recorded under the same policy, a ``seller_events``
row is written (``escalation`` or ``deescalation``, from/to level, the reason, and the strikes
that justify it: ``{strike_id, request_id, listing_id, sha256, ...}``). Strikes without
evidence never count, so a seller never moves up without evidence. Running it again with no
new data writes nothing. Each policy keeps its own track in the audit log.

No settings affect this module (the policy is passed in). Data functions take a session and
never commit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.db.models import Marketplace, Seller, utcnow
from crawler.db.models_sellers import SellerCluster, SellerEvent
from crawler.db.sql import json_safe
from crawler.sellers.ledger import StrikeFact, load_strikes
from crawler.sellers.policy import Policy, level_rank, level_words

EVENT_KINDS = ("escalation", "deescalation")
ACTOR = "system:sellers-policy"


@dataclass
class Assessment:
    """The policy applied to one set of strikes (a seller's own, or its cluster's)."""

    scope: str  # "own" | "cluster"
    accounts: int
    level: str | None
    total: int  # removals or points inside the window
    in_window: int  # counted removals inside the window
    expired: int  # counted removals that aged out of the window
    unevidenced: int  # accepted removals without evidence (never counted)
    relistings: int  # relistings inside the window
    by_offence: dict[str, int] = field(default_factory=dict)
    copies_sold: int = 0
    referral: str | None = None  # the referral criterion met, in words
    reason: str = ""
    evidence: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Escalation:
    """A seller's standing under a policy, and the audit-log event written for it (if any)."""

    seller_id: int
    marketplace: str
    seller_key: str
    name: str | None
    policy: str
    as_of: datetime
    level: str | None
    previous_level: str | None
    changed: bool
    reason: str
    strikes: int  # counted removals in the window (of the scope that decided the level)
    points: int  # the total the level was read from
    own: Assessment
    cluster: Assessment | None = None
    cluster_id: int | None = None
    cluster_size: int = 1
    evidence: list[dict[str, Any]] = field(default_factory=list)
    event_id: int | None = None
    event_kind: str | None = None

    @property
    def level_words(self) -> str:
        return level_words(self.level)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = json_safe(self)
        out["level_words"] = self.level_words
        return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _evidence_entry(s: StrikeFact) -> dict[str, Any]:
    return {
        "strike_id": s.id,
        "request_id": s.request_id,
        "listing_id": s.listing_id,
        "sha256": s.evidence_sha256,
        "seller_id": s.seller_id,
        "marketplace": s.marketplace,
        "struck_at": s.struck_at.isoformat(),
        "offence": s.offence,
        "work": s.work,
    }


def relisting_ids(strikes: Sequence[StrikeFact]) -> set[int]:
    """Ids of the strikes that are relistings (see the module docstring)."""
    earliest: dict[tuple[str, str], datetime] = {}
    for s in strikes:
        if s.catalog_id:
            key = (s.member, s.catalog_id)
            if key not in earliest or s.struck_at < earliest[key]:
                earliest[key] = s.struck_at
    out: set[int] = set()
    for s in strikes:
        came_back = s.cites_request_id is not None
        after_removal = bool(s.catalog_id) and (
            earliest[(s.member, str(s.catalog_id))] < s.listing_first_seen
        )
        if came_back or after_removal:
            out.add(s.id)
    return out


def _window(policy: Policy) -> timedelta:
    return timedelta(days=policy.window_days)


def _total(policy: Policy, strikes: Iterable[StrikeFact], relisted: set[int]) -> int:
    return sum(policy.weight(s.offence, s.id in relisted) for s in strikes)


def _termination_reached(
    policy: Policy, counted: Sequence[StrikeFact], relisted: set[int]
) -> datetime | None:
    """When the seller first reached termination request (its strikes replayed in order, the
    window sliding with them)."""
    need = policy.threshold("termination_request")
    if need is None:
        return None
    window = _window(policy)
    low, running = 0, 0
    for s in counted:
        running += policy.weight(s.offence, s.id in relisted)
        while counted[low].struck_at <= s.struck_at - window:
            running -= policy.weight(counted[low].offence, counted[low].id in relisted)
            low += 1
        if running >= need:
            return s.struck_at
    return None


def assess(
    policy: Policy,
    strikes: Sequence[StrikeFact],
    as_of: datetime,
    *,
    scope: str = "own",
    accounts: int = 1,
) -> Assessment:
    """The policy applied to ``strikes`` as of ``as_of`` (pure; see the module docstring)."""
    known, members, relisted = _one_per_removal([s for s in strikes if s.struck_at <= as_of])
    counted = [s for s in known if s.evidence_sha256]
    start = as_of - _window(policy)
    current = [s for s in counted if s.struck_at > start]
    expired = [s for s in counted if s.struck_at <= start]
    total = _total(policy, current, relisted)
    reached = policy.level_for(total)
    level = reached or (policy.after_window if counted else None)
    result = Assessment(
        scope=scope,
        accounts=accounts,
        level=level,
        total=total,
        in_window=len(current),
        expired=len(expired),
        unevidenced=len(known) - len(counted),
        relistings=sum(1 for s in current if s.id in relisted),
        by_offence=dict(Counter(s.offence for s in current)),
    )
    # The strikes that justify the level: those in the window, and the older ones too when
    # only they keep the seller on the after-window level.
    justify = list(current) if reached else list(counted)
    sales: dict[int, int] = {}
    for s in counted:
        sales[s.listing_id] = max(sales.get(s.listing_id, 0), s.sales_count or 0)
    result.copies_sold = sum(sales.values())
    referral = policy.referral
    if referral.copies_sold is not None and counted and result.copies_sold >= referral.copies_sold:
        result.referral = (
            f"{result.copies_sold} copies sold on removed listings: "
            f"{referral.copies_sold} needed for law-enforcement referral"
        )
        justify = list(counted)
    elif referral.removals_after_termination_request is not None:
        terminated = _termination_reached(policy, counted, relisted)
        # Offences committed after it: listings first seen once termination was requested,
        # not older listings whose removal merely came through later.
        after = [s for s in counted if terminated is not None and s.listing_first_seen > terminated]
        if terminated is not None and len(after) >= referral.removals_after_termination_request:
            need = referral.removals_after_termination_request
            result.referral = (
                f"{_plural(len(after), 'accepted removal')} of listings put up after reaching "
                f"termination request on {terminated:%Y-%m-%d}: {need} needed for "
                f"law-enforcement referral"
            )
            justify = list(counted)
    if result.referral:
        result.level = "law_enforcement_referral"
    result.reason = _reason(policy, result, current, relisted, scope, accounts)
    justified = [m for s in justify for m in members[s.id]]
    result.evidence = [_evidence_entry(s) for s in justified] if result.level else []
    return result


def _one_per_removal(
    strikes: Sequence[StrikeFact],
) -> tuple[list[StrikeFact], dict[int, list[StrikeFact]], set[int]]:
    """One strike per removal, oldest first; the strikes behind each; the relistings.

    A listing taken down once counts once, however many members' requests it answered (each
    request keeps its own strike row, and all of them are cited as evidence).
    """
    relisted = relisting_ids(strikes)
    groups: dict[tuple[int, datetime], list[StrikeFact]] = {}
    for s in sorted(strikes, key=lambda s: (s.struck_at, s.id)):
        groups.setdefault((s.listing_id, s.struck_at), []).append(s)
    removals: list[StrikeFact] = []
    members: dict[int, list[StrikeFact]] = {}
    relisted_removals: set[int] = set()
    for group in groups.values():
        first = next((s for s in group if s.evidence_sha256), group[0])
        removals.append(first)
        members[first.id] = group
        if any(s.id in relisted for s in group):
            relisted_removals.add(first.id)
    removals.sort(key=lambda s: (s.struck_at, s.id))
    return removals, members, relisted_removals


def _reason(
    policy: Policy,
    a: Assessment,
    current: Sequence[StrikeFact],
    relisted: set[int],
    scope: str,
    accounts: int,
) -> str:
    days = f"in {policy.window_days} days"
    if policy.unit == "removals":
        text = f"{_plural(a.in_window, 'accepted removal')} {days}"
    else:
        parts = [
            f"{_plural(n, f'{offence} removal')} x {policy.points.get(offence, 0)}"
            for offence, n in sorted(Counter(s.offence for s in current).items())
        ]
        if a.relistings and policy.relisting_points:
            parts.append(f"{_plural(a.relistings, 'relisting')} x {policy.relisting_points}")
        text = f"{_plural(a.total, 'point')} {days}" + (f" ({' + '.join(parts)})" if parts else "")
    if a.expired:
        text += f" ({a.expired} older aged out)"
    if scope == "cluster":
        text += f" across {accounts} linked accounts"
    reached = policy.level_for(a.total)
    nxt = policy.next_after(reached)
    if reached is not None:
        text += f": {policy.threshold(reached)} needed for {level_words(reached)}"
        if nxt is not None:
            text += f"; {nxt[1]} for {level_words(nxt[0])}"
    elif nxt is not None:
        after = policy.after_window
        kept = f"kept on {level_words(after)}; " if after and a.expired else ""
        text += f": {kept}{nxt[1]} needed for {level_words(nxt[0])}"
    if a.referral:
        text += f"; {a.referral}"
    if a.unevidenced:
        text += f"; {_plural(a.unevidenced, 'accepted removal')} without evidence not counted"
    return text


def _last_levels(session: Session, policy: str) -> dict[int, str | None]:
    rows = session.execute(
        select(SellerEvent.seller_id, SellerEvent.to_level)
        .where(SellerEvent.kind.in_(EVENT_KINDS), SellerEvent.policy == policy)
        .order_by(SellerEvent.id)
    ).all()
    return {int(seller_id): level for seller_id, level in rows}


def _clusters(session: Session) -> dict[int, int]:
    return {
        int(s): int(c)
        for s, c in session.execute(select(SellerCluster.seller_id, SellerCluster.cluster_id)).all()
    }


def evaluate_all(
    session: Session,
    policy: Policy,
    *,
    as_of: datetime | None = None,
    record: bool = True,
    seller_ids: Iterable[int] | None = None,
) -> list[Escalation]:
    """Judge every seller with strikes (and their linked accounts); record level changes.

    ``record=False`` computes without writing events (``reelguard sellers --no-refresh``);
    ``seller_ids`` limits the result to those sellers (their clusters are still pooled).
    Returns the standings, highest level first.
    """
    as_of = as_of or utcnow()
    strikes = load_strikes(session)
    by_seller: dict[int, list[StrikeFact]] = defaultdict(list)
    for s in strikes:
        by_seller[s.seller_id].append(s)
    cluster_of = _clusters(session) if policy.pool_linked else {}
    members: dict[int, list[int]] = defaultdict(list)
    for member_id, member_cluster in cluster_of.items():
        members[member_cluster].append(member_id)
    last = _last_levels(session, policy.name)
    candidates = set(by_seller) | {sid for sid, lv in last.items() if lv is not None}
    candidates |= {
        sid
        for cid, group in members.items()
        if len(group) > 1 and any(m in by_seller for m in group)
        for sid in group
    }
    if seller_ids is not None:
        candidates &= set(seller_ids)
    info = (
        {
            int(sid): (market, key, name or shop)
            for sid, market, key, name, shop in session.execute(
                select(
                    Seller.id, Marketplace.name, Seller.seller_key, Seller.name, Seller.shop_name
                )
                .join(Marketplace, Marketplace.id == Seller.marketplace_id)
                .where(Seller.id.in_(sorted(candidates)))
            ).all()
        }
        if candidates
        else {}
    )
    pooled: dict[int, Assessment] = {}
    results: list[Escalation] = []
    for sid in sorted(candidates):
        own = assess(policy, by_seller.get(sid, []), as_of)
        cluster = None
        cid = cluster_of.get(sid)
        group = members.get(cid, []) if cid is not None else []
        if cid is not None and len(group) > 1:
            if cid not in pooled:
                pool = [s for m in group for s in by_seller.get(m, [])]
                pooled[cid] = assess(policy, pool, as_of, scope="cluster", accounts=len(group))
            cluster = pooled[cid]
        decided = (
            cluster
            if cluster is not None and level_rank(cluster.level) > level_rank(own.level)
            else own
        )
        market, key, name = info.get(sid, ("?", str(sid), None))
        previous = last.get(sid)
        esc = Escalation(
            seller_id=sid,
            marketplace=market,
            seller_key=key,
            name=name,
            policy=policy.name,
            as_of=as_of,
            level=decided.level,
            previous_level=previous,
            changed=decided.level != previous,
            reason=decided.reason,
            strikes=decided.in_window,
            points=decided.total,
            own=own,
            cluster=cluster,
            cluster_id=cid if len(group) > 1 else None,
            cluster_size=max(1, len(group)),
            evidence=decided.evidence,
        )
        up = level_rank(esc.level) > level_rank(previous)
        if esc.changed and up and not esc.evidence:
            esc.changed = False  # defensive: never up without the strikes that justify it
        if esc.changed and record:
            event = SellerEvent(
                seller_id=sid,
                at=as_of,
                kind="escalation" if up else "deescalation",
                policy=policy.name,
                from_level=previous,
                to_level=esc.level,
                reason=esc.reason,
                evidence=esc.evidence,
                actor=ACTOR,
            )
            session.add(event)
            session.flush()
            esc.event_id, esc.event_kind = event.id, event.kind
        results.append(esc)
    results.sort(key=lambda e: (-level_rank(e.level), -e.points, e.marketplace, e.seller_key))
    return results
