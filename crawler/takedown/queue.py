"""The takedown queue: open requests from match decisions (idempotently) and claim work safely.

* :func:`enqueue_from_match` opens at most one request per (member, listing): the row is
  inserted with ``INSERT … ON CONFLICT (member, listing_id) WHERE <open> DO NOTHING`` against
  the partial unique index ``ux_takedown_requests_open``, so repeated crawls, several keywords,
  URL variants (they all resolve to the same stored listing) and concurrent workers on SQLite or
  PostgreSQL end with one open request. A ``takedown`` decision for a member whose rule says
  ``auto_approve_takedown`` is approved at once (actor ``system:auto-approve``); ``review``
  decisions wait for a person. A listing whose last request was rejected or withdrawn is not
  re-opened by a crawl (a person decided); one whose last request was ``removed`` and that is
  seen again is a relisting: the new request cites the old one, which becomes ``relisted``.
* ``claim_*`` give a worker exclusive rows: ``SELECT … FOR UPDATE SKIP LOCKED`` then a lease
  (``claimed_by``/``claimed_at``) on PostgreSQL, one conditional ``UPDATE … RETURNING`` on
  SQLite (STYLE.md principle 8). A lease older than ``lease_s`` is free again (a crashed worker).

No settings affect this module. Data functions take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crawler.db.models import Listing, Marketplace, utcnow
from crawler.db.models_takedown import CLOSED_STATES, NoticeBatch, TakedownRequest
from crawler.takedown.config import TakedownConfig
from crawler.takedown.states import (
    ConcurrentTransition,
    IllegalTransition,
    record_event,
    transition,
)

OPEN_WHERE = text("state NOT IN ('removed', 'rejected', 'withdrawn', 'relisted')")
QUEUE_DECISIONS = ("takedown", "review")


@dataclass(frozen=True)
class EnqueueResult:
    """What :func:`enqueue_from_match` did: the open request (if any) and whether it is new."""

    request_id: int | None
    created: bool
    state: str | None = None
    cites_request_id: int | None = None
    skipped: str | None = None  # why no request is open: "decision none", "rejected before"…


def _is_open(state: str) -> bool:
    return state not in CLOSED_STATES


def open_request(session: Session, listing_db_id: int, member: str) -> TakedownRequest | None:
    return session.execute(
        select(TakedownRequest).where(
            TakedownRequest.listing_id == listing_db_id,
            TakedownRequest.member == member,
            TakedownRequest.state.not_in(CLOSED_STATES),
        )
    ).scalar_one_or_none()


def relisting_source(session: Session, listing_db_id: int, member: str) -> TakedownRequest | None:
    """The ``removed`` request this listing is a relisting of, if any.

    Either the same listing came back, or another listing of the same seller on the same
    marketplace with the same normalised title was taken down for this member.
    """
    same = session.execute(
        select(TakedownRequest)
        .where(TakedownRequest.listing_id == listing_db_id, TakedownRequest.member == member)
        .order_by(TakedownRequest.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if same is not None:
        return same if same.state == "removed" else None
    listing = session.get(Listing, listing_db_id)
    if listing is None or listing.seller_id is None or not listing.title_norm:
        return None
    other = session.execute(
        select(TakedownRequest)
        .join(Listing, Listing.id == TakedownRequest.listing_id)
        .where(
            TakedownRequest.member == member,
            TakedownRequest.state == "removed",
            Listing.id != listing_db_id,
            Listing.marketplace_id == listing.marketplace_id,
            Listing.seller_id == listing.seller_id,
            Listing.title_norm == listing.title_norm,
        )
        .order_by(TakedownRequest.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return other


def _marketplace_of(session: Session, listing_db_id: int) -> str:
    name = session.execute(
        select(Marketplace.name)
        .join(Listing, Listing.marketplace_id == Marketplace.id)
        .where(Listing.id == listing_db_id)
    ).scalar_one_or_none()
    if name is None:
        raise LookupError(f"listing {listing_db_id} does not exist")
    return str(name)


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(TakedownRequest)
    if dialect == "sqlite":
        return sqlite.insert(TakedownRequest)
    raise NotImplementedError(f"the takedown queue supports SQLite and PostgreSQL, not {dialect}")


def _catalog_ids(decision: Mapping[str, Any], member: str) -> list[str]:
    per_member = decision.get("member_catalog_ids") or {}
    ids = per_member.get(member)
    if ids is None:
        ids = decision.get("catalog_ids") or ([decision["catalog_id"]]
                                              if decision.get("catalog_id") else [])
    return [str(i) for i in ids if i]


def enqueue_from_match(
    session: Session,
    listing_db_id: int,
    member: str,
    decision: Mapping[str, Any],
    *,
    config: TakedownConfig | None = None,
    actor: str = "system:queue",
    now: datetime | None = None,
) -> EnqueueResult:
    """Open (or keep) the request for ``member`` on listing ``listing_db_id``; see the module doc.

    ``decision`` is the match pipeline's dict (``decision``, ``score``, ``catalog_ids``,
    ``member_catalog_ids``). Safe to call any number of times, from any number of workers.
    """
    kind = str(decision.get("decision") or "none")
    if kind not in QUEUE_DECISIONS:
        return EnqueueResult(None, False, skipped=f"decision {kind}")
    now = now or utcnow()
    score = decision.get("score")
    catalog_ids = _catalog_ids(decision, member)
    auto = kind == "takedown" and config is not None and config.auto_approves(member)

    existing = open_request(session, listing_db_id, member)
    if existing is not None:
        return _refresh(session, existing, kind, score, catalog_ids, auto, now)

    cites: TakedownRequest | None = relisting_source(session, listing_db_id, member)
    if cites is None:
        last = session.execute(
            select(TakedownRequest.state)
            .where(TakedownRequest.listing_id == listing_db_id, TakedownRequest.member == member)
            .order_by(TakedownRequest.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if last in ("rejected", "withdrawn"):
            return EnqueueResult(None, False, skipped=f"{last} before")

    values = {
        "listing_id": listing_db_id,
        "member": member,
        "marketplace": _marketplace_of(session, listing_db_id),
        "catalog_ids": catalog_ids,
        "decision": kind,
        "score": float(score) if score is not None else None,
        "state": "pending_review",
        "opened_at": now,
        "updated_at": now,
        "cites_request_id": cites.id if cites is not None else None,
    }
    stmt = (
        _insert(session)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["member", "listing_id"], index_where=OPEN_WHERE)
        .returning(TakedownRequest.id)
    )
    new_id = session.execute(stmt).scalar_one_or_none()
    if new_id is None:
        # Another worker opened it between our read and our insert: theirs is the request.
        existing = open_request(session, listing_db_id, member)
        if existing is None:  # opened and closed again meanwhile: nothing to add
            return EnqueueResult(None, False, skipped="closed concurrently")
        return EnqueueResult(existing.id, False, existing.state)
    request_id = int(new_id)
    reason = f"{kind} decision, score {score}" if score is not None else f"{kind} decision"
    if cites is not None:
        reason += f"; relisting of request {cites.id}"
    record_event(session, request_id, None, "pending_review", actor, reason, now)
    session.flush()
    if cites is not None:
        try:
            transition(session, cites.id, "relisted", "system:relisting",
                       f"listing {listing_db_id} active again; fresh request {request_id}",
                       expect="removed", at=now)
        except (IllegalTransition, ConcurrentTransition):
            pass  # another relisting of the same removal got there first
    state = "pending_review"
    if auto:
        transition(session, request_id, "approved", "system:auto-approve",
                   f"auto_approve_takedown rule of {member}", at=now)
        state = "approved"
    return EnqueueResult(request_id, True, state, cites.id if cites is not None else None)


def _refresh(
    session: Session, req: TakedownRequest, kind: str, score: Any, catalog_ids: list[str],
    auto: bool, now: datetime,
) -> EnqueueResult:
    """A re-sighting of a listing with an open request: keep it, note new works, maybe approve."""
    merged = list(dict.fromkeys([*(req.catalog_ids or []), *catalog_ids]))
    changes: dict[str, Any] = {}
    if merged != (req.catalog_ids or []) and req.state in ("pending_review", "approved"):
        changes["catalog_ids"] = merged
    if kind == "takedown" and req.decision == "review" and req.state == "pending_review":
        changes["decision"] = "takedown"
        changes["score"] = float(score) if score is not None else req.score
    if changes:
        session.execute(
            update(TakedownRequest).where(TakedownRequest.id == req.id)
            .values(**changes, updated_at=now).execution_options(synchronize_session=False)
        )
    state = req.state
    if auto and state == "pending_review":
        try:
            transition(session, req.id, "approved", "system:auto-approve",
                       f"auto_approve_takedown rule of {req.member}", expect="pending_review",
                       at=now)
            state = "approved"
        except ConcurrentTransition:
            pass
    return EnqueueResult(req.id, False, state, req.cites_request_id)


# --------------------------------------------------------------------------- claims


def _lease_free(claimed_at: Any, cutoff: datetime) -> Any:
    return or_(claimed_at.is_(None), claimed_at < cutoff)


def claim_requests(
    session: Session,
    worker: str,
    *,
    state: str = "approved",
    member: str | None = None,
    marketplace: str | None = None,
    limit: int = 300,
    lease_s: float = 300.0,
    unbatched: bool = True,
    now: datetime | None = None,
) -> list[int]:
    """Claim up to ``limit`` requests in ``state`` for ``worker``; no two workers get one row.

    Commit promptly: on PostgreSQL the rows stay locked (``FOR UPDATE``) until then.
    """
    now = now or utcnow()
    cutoff = now - timedelta(seconds=lease_s)
    t = TakedownRequest
    conds = [t.state == state, _lease_free(t.claimed_at, cutoff)]
    if unbatched:
        conds.append(t.notice_batch_id.is_(None))
    if member is not None:
        conds.append(t.member == member)
    if marketplace is not None:
        conds.append(t.marketplace == marketplace)
    return _claim(session, t, conds, worker, now, limit, {})


def claim_batches(
    session: Session,
    worker: str,
    *,
    member: str | None = None,
    marketplace: str | None = None,
    limit: int = 100,
    lease_s: float = 120.0,
    now: datetime | None = None,
) -> list[int]:
    """Claim notice batches to file: ``prepared`` ones, and ``submitting`` ones whose worker's
    lease ran out (it crashed mid-POST: the retry re-sends the same idempotency key). Claimed
    batches are marked ``submitting`` (commit this before the POST)."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=lease_s)
    b = NoticeBatch
    conds: list[Any] = [or_(
        b.state == "prepared",
        and_(b.state == "submitting", _lease_free(b.claimed_at, cutoff)),
    )]
    if member is not None:
        conds.append(b.member == member)
    if marketplace is not None:
        conds.append(b.marketplace == marketplace)
    return _claim(session, b, conds, worker, now, limit,
                  {"state": "submitting", "attempts": b.attempts + 1})


def _claim(
    session: Session, model: Any, conds: Sequence[Any], worker: str, now: datetime, limit: int,
    extra: dict[str, Any],
) -> list[int]:
    values = {"claimed_by": worker, "claimed_at": now, **extra}
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.execute(
            select(model.id).where(*conds).order_by(model.id).limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars())
        if not ids:
            return []
        session.execute(
            update(model).where(model.id.in_(ids)).values(values)
            .execution_options(synchronize_session=False)
        )
        return ids
    # SQLite: one statement; the condition is re-checked by the UPDATE itself, so a row another
    # connection claimed first is not taken again (writers are serialised by BEGIN IMMEDIATE).
    inner = select(model.id).where(*conds).order_by(model.id).limit(limit)
    rows = session.execute(
        update(model).where(model.id.in_(inner.scalar_subquery()), *conds).values(values)
        .returning(model.id).execution_options(synchronize_session=False)
    ).scalars()
    return sorted(int(i) for i in rows)


def release_requests(session: Session, request_ids: Sequence[int], worker: str) -> None:
    """Give back claimed requests (e.g. refused by the pre-filing check)."""
    if request_ids:
        session.execute(
            update(TakedownRequest)
            .where(TakedownRequest.id.in_(list(request_ids)), TakedownRequest.claimed_by == worker)
            .values(claimed_by=None, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
