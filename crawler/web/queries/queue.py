"""The queue page's query: takedown requests in the user's scope, filtered, sorted, paginated.

Filters arrive as GET parameters and are validated here (:func:`parse_filters`): an unknown
state, decision or sort column, a score outside 0–1 or a malformed date is refused with a
message (the page answers 400) rather than ignored, so a link never silently shows something
else than it says. ``state`` defaults to ``pending_review`` (what a reviewer works through);
``state=any`` shows every state.

No settings affect this module. Data functions take a session and never commit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from crawler.db.models import Listing, Seller
from crawler.db.models_takedown import TAKEDOWN_STATES, TakedownRequest
from crawler.web.scope import member_clause, requests
from crawler.web.users import Principal

PAGE_SIZE = 50
DECISIONS = ("takedown", "review")
SORTS: dict[str, Any] = {
    "id": TakedownRequest.id,
    "opened": TakedownRequest.opened_at,
    "updated": TakedownRequest.updated_at,
    "score": TakedownRequest.score,
    "state": TakedownRequest.state,
    "marketplace": TakedownRequest.marketplace,
    "member": TakedownRequest.member,
    "seller": Seller.seller_key,
    "title": Listing.title,
}


class FilterError(ValueError):
    """A filter value the page refuses (shown as the 400 page's message)."""


@dataclass(frozen=True)
class Filters:
    state: str = "pending_review"
    member: str = ""
    marketplace: str = ""
    decision: str = ""
    seller: str = ""
    q: str = ""
    min_score: float | None = None
    max_score: float | None = None
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "opened"
    dir: str = "desc"
    page: int = 1

    def params(self) -> dict[str, Any]:
        """The filters as GET parameters (for links that keep them)."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if value is None or value == "" or key == "page":
                continue
            out[key] = value.isoformat() if isinstance(value, date) else value
        return out


def _text(raw: Any, name: str, limit: int = 200) -> str:
    value = str(raw or "").strip()
    if len(value) > limit:
        raise FilterError(f"{name}: at most {limit} characters")
    return value


def _score(raw: Any, name: str) -> float | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise FilterError(f"{name}: {text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise FilterError(f"{name}: a score is between 0 and 1")
    return value


def _date(raw: Any, name: str) -> date | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FilterError(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None


def parse_filters(params: Any, principal: Principal) -> Filters:
    """Validate the queue's GET parameters (see the module docstring)."""
    state = _text(params.get("state", "pending_review"), "state") or "any"
    if state != "any" and state not in TAKEDOWN_STATES:
        raise FilterError(f"state: unknown {state!r}; states: any, {', '.join(TAKEDOWN_STATES)}")
    decision = _text(params.get("decision"), "decision")
    if decision and decision not in DECISIONS:
        raise FilterError(f"decision: unknown {decision!r}; decisions: {', '.join(DECISIONS)}")
    sort = _text(params.get("sort"), "sort") or "opened"
    if sort not in SORTS:
        raise FilterError(f"sort: unknown column {sort!r}; columns: {', '.join(SORTS)}")
    direction = _text(params.get("dir"), "dir") or "desc"
    if direction not in ("asc", "desc"):
        raise FilterError("dir: asc or desc")
    page_text = _text(params.get("page"), "page") or "1"
    if not page_text.isdigit() or not 1 <= int(page_text) <= 100000:
        raise FilterError("page: a whole number from 1")
    # A member's user filters within their own member only; the scope applies regardless.
    member = _text(params.get("member"), "member", 64) if principal.is_admin else ""
    return Filters(
        state=state, member=member, marketplace=_text(params.get("marketplace"), "marketplace", 64),
        decision=decision, seller=_text(params.get("seller"), "seller"),
        q=_text(params.get("q"), "q"),
        min_score=_score(params.get("min_score"), "min_score"),
        max_score=_score(params.get("max_score"), "max_score"),
        date_from=_date(params.get("date_from"), "date_from"),
        date_to=_date(params.get("date_to"), "date_to"),
        sort=sort, dir=direction, page=int(page_text),
    )


@dataclass(frozen=True)
class QueueRow:
    id: int
    member: str
    marketplace: str
    state: str
    decision: str
    score: float | None
    opened_at: datetime
    updated_at: datetime
    listing_id: int
    title: str
    price_text: str | None
    seller_id: int | None
    seller_key: str | None
    seller_name: str | None
    catalog_ids: list[str]


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    pages: int
    filters: Filters
    members: list[str]
    marketplaces: list[str]
    state_counts: dict[str, int]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(f: Filters) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if f.state != "any":
        conds.append(TakedownRequest.state == f.state)
    if f.member:
        conds.append(TakedownRequest.member == f.member)
    if f.marketplace:
        conds.append(TakedownRequest.marketplace == f.marketplace)
    if f.decision:
        conds.append(TakedownRequest.decision == f.decision)
    if f.seller:
        pattern = _like(f.seller.lower())
        conds.append(or_(func.lower(Seller.seller_key).like(pattern, escape="\\"),
                         func.lower(func.coalesce(Seller.name, "")).like(pattern, escape="\\")))
    if f.q:
        conds.append(func.lower(Listing.title).like(_like(f.q.lower()), escape="\\"))
    if f.min_score is not None:
        conds.append(TakedownRequest.score >= f.min_score)
    if f.max_score is not None:
        conds.append(TakedownRequest.score <= f.max_score)
    if f.date_from is not None:
        conds.append(TakedownRequest.opened_at >= datetime.combine(f.date_from, time(), UTC))
    if f.date_to is not None:
        end = datetime.combine(f.date_to + timedelta(days=1), time(), UTC)
        conds.append(TakedownRequest.opened_at < end)
    return conds


def _base(principal: Principal) -> Select[Any]:
    return (
        requests(principal)
        .join(Listing, Listing.id == TakedownRequest.listing_id)
        .outerjoin(Seller, Seller.id == Listing.seller_id)
    )


def queue_page(session: Session, principal: Principal, f: Filters) -> QueuePage:
    """One page of the queue for ``principal`` under filters ``f``."""
    conds = _conditions(f)
    base = _base(principal).where(*conds)
    total = session.execute(
        select(func.count()).select_from(base.with_only_columns(TakedownRequest.id).subquery())
    ).scalar_one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(f.page, pages)
    column = SORTS[f.sort]
    order = column.asc() if f.dir == "asc" else column.desc()
    tiebreak = TakedownRequest.id.asc() if f.dir == "asc" else TakedownRequest.id.desc()
    query = (
        base.with_only_columns(
            TakedownRequest, Listing.title, Listing.price_text, Seller.id, Seller.seller_key,
            Seller.name,
        )
        .order_by(order.nulls_last(), tiebreak)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    rows = [
        QueueRow(
            id=r.id, member=r.member, marketplace=r.marketplace, state=r.state,
            decision=r.decision, score=r.score, opened_at=r.opened_at, updated_at=r.updated_at,
            listing_id=r.listing_id, title=title, price_text=price_text, seller_id=seller_id,
            seller_key=seller_key, seller_name=seller_name, catalog_ids=list(r.catalog_ids or []),
        )
        for r, title, price_text, seller_id, seller_key, seller_name in session.execute(query)
    ]
    scoped = member_clause(principal, TakedownRequest.member)
    members = list(session.execute(
        select(TakedownRequest.member).where(scoped).distinct().order_by(TakedownRequest.member)
    ).scalars())
    marketplaces = list(session.execute(
        select(TakedownRequest.marketplace).where(scoped).distinct()
        .order_by(TakedownRequest.marketplace)
    ).scalars())
    # Counts per state under every filter except the state itself: the tabs above the table.
    no_state = Filters(**{**asdict(f), "state": "any"})
    state_counts = {
        state: n for state, n in session.execute(
            _base(principal).where(*_conditions(no_state))
            .with_only_columns(TakedownRequest.state, func.count())
            .group_by(TakedownRequest.state)
        ).all()
    }
    return QueuePage(rows=rows, total=total, page=page, pages=pages, filters=f,
                     members=members, marketplaces=marketplaces, state_counts=state_counts)
