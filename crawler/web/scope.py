"""The member scope: the one place that decides which rows a signed-in user may see or change.

Every page query starts from a helper here, so the rule "a member's user sees that member's
requests only; an administrator sees all" is enforced in SQL, not in templates:

* :func:`requests` – a ``SELECT`` of takedown requests already filtered to the user's member;
* :func:`get_request` – one request by id, or :class:`NotFound` (404) when it does not exist *or*
  belongs to another member: the two are indistinguishable from outside, so ids cannot be
  probed;
* :func:`listing_visible`, :func:`seller_visible`, :func:`evidence_record` – a listing, seller or
  evidence artefact is visible when the user's member has a takedown request on that listing
  (on one of that seller's listings);
* :func:`member_clause` – the same filter for any table with a ``member`` column (matches,
  strikes, catalogue titles).

No settings affect this module. Data functions take a session and never commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, exists, select, true
from sqlalchemy.orm import Session

from crawler.db.models import Listing
from crawler.db.models_evidence import EvidenceRecord
from crawler.db.models_takedown import TakedownRequest
from crawler.web.users import Principal


class NotFound(Exception):
    """Nothing the user may see has this id (the page answers 404)."""


def member_clause(principal: Principal, column: Any) -> ColumnElement[bool]:
    """``column = <the user's member>``, or TRUE for an administrator."""
    if principal.is_admin:
        return true()
    if not principal.member:  # a member user without a member sees nothing, never everything
        return column.is_(None) & column.is_not(None)
    return column == principal.member  # type: ignore[no-any-return]


def requests(principal: Principal) -> Select[TakedownRequest]:
    """All takedown requests the user may see."""
    return select(TakedownRequest).where(member_clause(principal, TakedownRequest.member))


def get_request(session: Session, principal: Principal, request_id: int) -> TakedownRequest:
    found = session.execute(
        requests(principal).where(TakedownRequest.id == request_id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"request {request_id}")
    return found


def _requested(principal: Principal, listing_id: Any) -> ColumnElement[bool]:
    return exists().where(
        TakedownRequest.listing_id == listing_id,
        member_clause(principal, TakedownRequest.member),
    )


def listing_visible(session: Session, principal: Principal, listing_id: int) -> bool:
    return bool(session.execute(select(_requested(principal, listing_id))).scalar())


def seller_visible(session: Session, principal: Principal, seller_id: int) -> bool:
    """True when the user's member has a request on one of the seller's listings."""
    query = select(
        exists().where(
            Listing.seller_id == seller_id,
            _requested(principal, Listing.id),
        )
    )
    return bool(session.execute(query).scalar())


def evidence_record(session: Session, principal: Principal, evidence_id: int) -> EvidenceRecord:
    """The evidence row ``evidence_id`` if its listing is visible to the user, else NotFound."""
    record = session.execute(
        select(EvidenceRecord).where(
            EvidenceRecord.id == evidence_id,
            EvidenceRecord.listing_id.is_not(None),
            _requested(principal, EvidenceRecord.listing_id),
        )
    ).scalar_one_or_none()
    if record is None:
        raise NotFound(f"evidence {evidence_id}")
    return record
