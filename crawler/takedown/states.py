"""The takedown request state machine: which moves are legal, and the audit log of each move.

::

    pending_review -> approved | rejected | withdrawn
    approved       -> submitted | pending_review | rejected | withdrawn
    submitted      -> acknowledged | removed | rejected | withdrawn
    acknowledged   -> removed | rejected | withdrawn
    removed        -> relisted
    rejected, relisted, withdrawn: final

``transition`` is the only way a request changes state: it refuses an illegal move with
:class:`IllegalTransition`, changes the row with a *conditional* ``UPDATE … WHERE state =
<the state read>`` (so two workers racing on one request cannot both move it: the loser gets
:class:`ConcurrentTransition`) and appends a ``takedown_events`` row (time in UTC, actor such
as ``system:auto-approve``, ``user:alice``, ``platform:demobay``, and the reason).

No settings affect this module. Data functions take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crawler.db.models import utcnow
from crawler.db.models_takedown import TAKEDOWN_STATES, TakedownEvent, TakedownRequest
from crawler.exceptions import ReelguardError

TRANSITIONS: Mapping[str, frozenset[str]] = {
    "pending_review": frozenset({"approved", "rejected", "withdrawn"}),
    "approved": frozenset({"submitted", "pending_review", "rejected", "withdrawn"}),
    "submitted": frozenset({"acknowledged", "removed", "rejected", "withdrawn"}),
    "acknowledged": frozenset({"removed", "rejected", "withdrawn"}),
    "removed": frozenset({"relisted"}),
    "rejected": frozenset(),
    "relisted": frozenset(),
    "withdrawn": frozenset(),
}
assert set(TRANSITIONS) == set(TAKEDOWN_STATES)


class TakedownError(ReelguardError):
    """A takedown operation that cannot be done as asked (the CLI prints one line, exit 2)."""

    exit_code = 2


class IllegalTransition(TakedownError):
    """The state machine forbids this move (or the request does not exist)."""


class ConcurrentTransition(TakedownError):
    """Someone else moved the request between our read and our write."""


def allowed(from_state: str, to_state: str) -> bool:
    return to_state in TRANSITIONS.get(from_state, frozenset())


def record_event(
    session: Session, request_id: int, from_state: str | None, to_state: str, actor: str,
    reason: str | None = None, at: datetime | None = None,
) -> None:
    session.add(TakedownEvent(
        request_id=request_id, at=at or utcnow(), from_state=from_state, to_state=to_state,
        actor=actor, reason=reason,
    ))


def transition(
    session: Session,
    request_id: int,
    to: str,
    actor: str,
    reason: str | None = None,
    *,
    expect: str | None = None,
    values: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> str:
    """Move request ``request_id`` to ``to``; return the state it was in.

    ``expect`` names the state the caller believes it is in (refused otherwise); ``values``
    are further columns to set in the same ``UPDATE`` (``complaint_id``, ``removed_at``…).
    """
    if to not in TAKEDOWN_STATES:
        raise IllegalTransition(f"unknown state {to!r}; states: {', '.join(TAKEDOWN_STATES)}")
    if not actor or not actor.strip():
        raise ValueError("every transition needs an actor")
    current = session.execute(
        select(TakedownRequest.state).where(TakedownRequest.id == request_id)
    ).scalar_one_or_none()
    if current is None:
        raise IllegalTransition(f"takedown request {request_id} does not exist")
    if expect is not None and current != expect:
        raise ConcurrentTransition(
            f"request {request_id} is {current}, not {expect}: not moved to {to}"
        )
    if not allowed(current, to):
        legal = ", ".join(sorted(TRANSITIONS[current])) or "none (final state)"
        raise IllegalTransition(
            f"request {request_id}: {current} -> {to} is not allowed (from {current}: {legal})"
        )
    now = at or utcnow()
    changes: dict[str, Any] = {"state": to, "updated_at": now, **(values or {})}
    if to == "approved":
        changes.setdefault("approved_by", actor)
        changes.setdefault("approved_at", now)
    moved = session.execute(
        update(TakedownRequest)
        .where(TakedownRequest.id == request_id, TakedownRequest.state == current)
        .values(changes)
        .returning(TakedownRequest.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if moved is None:
        raise ConcurrentTransition(
            f"request {request_id} changed state while moving it {current} -> {to}"
        )
    record_event(session, request_id, current, to, actor, reason, now)
    session.flush()
    return current


def history(session: Session, request_id: int) -> list[TakedownEvent]:
    """The audit log of one request, oldest first."""
    return list(session.execute(
        select(TakedownEvent).where(TakedownEvent.request_id == request_id)
        .order_by(TakedownEvent.id)
    ).scalars())
