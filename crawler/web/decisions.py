"""Bulk approve / reject: each selected id re-checked against the user's scope, each move made
through ``crawler.takedown.states.transition`` (the only way a request changes state), with
the actor ``user:<name>`` and the reason written to ``takedown_events``.

Each request is moved in its own transaction, so one refusal (another member's id, a request
already moved by someone else, a final state) never undoes the others; the result says how
many moved and which were refused and why.

No settings affect this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from crawler.db.session import session_scope
from crawler.takedown.states import TakedownError, transition
from crawler.web.scope import NotFound, get_request
from crawler.web.users import Principal

ACTIONS = {"approve": "approved", "reject": "rejected"}
MAX_BATCH = 500
MAX_REASON = 2000


class DecisionError(ValueError):
    """A decision form that cannot be acted on at all (no ids, unknown action, no reason)."""


@dataclass
class DecisionResult:
    action: str
    moved: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """What the flash message shows (kept small: it travels in the session cookie)."""
        verb = "approved" if self.action == "approve" else "rejected"
        return {
            "kind": "ok" if not self.refused else ("warn" if self.moved else "error"),
            "text": f"{len(self.moved)} request(s) {verb}"
                    + (f", {len(self.refused)} refused" if self.refused else ""),
            # A cookie holds about 4 KB: ten lines of at most 160 characters.
            "details": [f"#{rid}: {why}"[:160] for rid, why in self.refused[:10]]
                       + ([f"… and {len(self.refused) - 10} more"] if len(self.refused) > 10
                          else []),
        }


def parse_ids(values: list[str]) -> list[int]:
    ids: list[int] = []
    for value in values:
        text = value.strip()
        if not text.isdigit() or len(text) > 12:
            raise DecisionError(f"not a request id: {text[:20]!r}")
        if int(text) not in ids:
            ids.append(int(text))
    if not ids:
        raise DecisionError("select at least one request")
    if len(ids) > MAX_BATCH:
        raise DecisionError(f"at most {MAX_BATCH} requests at once")
    return ids


def decide(
    sessions: sessionmaker[Session], principal: Principal, ids: list[int], action: str,
    reason: str,
) -> DecisionResult:
    """Approve or reject ``ids`` as ``principal`` (see the module docstring)."""
    if action not in ACTIONS:
        raise DecisionError(f"unknown action {action!r}: approve or reject")
    reason = reason.strip()
    if action == "reject" and not reason:
        raise DecisionError("a rejection needs a reason")
    if len(reason) > MAX_REASON:
        raise DecisionError(f"reason: at most {MAX_REASON} characters")
    result = DecisionResult(action)
    for request_id in ids:
        try:
            with session_scope(sessions) as session:
                get_request(session, principal, request_id)  # scope check, server-side
                transition(session, request_id, ACTIONS[action], principal.actor,
                           reason or None)
            result.moved.append(request_id)
        except NotFound:
            result.refused.append((request_id, "not found"))
        except TakedownError as exc:
            result.refused.append((request_id, str(exc)))
    return result
