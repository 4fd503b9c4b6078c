"""Data functions over ``crawler.db.models``: upserts for what a crawl sees, runs, reports.

Every function takes an open ``Session`` and **never commits**: the code that opened the
session (``crawler.db.session.session_scope``, the store pipeline) commits or rolls back
(STYLE.md principle 6). Functions may flush.

Idempotence and concurrency: sellers, listings, observations, marketplaces and catalogue
titles are written with a single ``INSERT … ON CONFLICT`` statement on their natural key
(``sqlalchemy.dialects.sqlite.insert`` / ``postgresql.insert``, chosen from the session's
dialect), so a re-crawl updates rows instead of duplicating them and two concurrent writers
cannot both insert the same key (no IntegrityError on a race). Fields missing from a new
sighting (``None``) never erase stored values (``COALESCE`` semantics); see ``upsert_seller``
and ``upsert_listing`` for the exceptions.

No settings affect this module; the database comes from the session's bind.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import PurePath
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    case,
    delete,
    event,
    func,
    inspect,
    literal,
    or_,
    select,
    table,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from crawler.db.models import (
    RUN_STATUSES,
    AuthorizedSeller,
    CatalogTitle,
    CrawlEvent,
    CrawlRun,
    Listing,
    Marketplace,
    Observation,
    Seller,
    utcnow,
)
from crawler.items import ListingItem, SellerItem

# Stats keys finish_run reads the run's counters from when they are not passed explicitly.
STAT_PAGES = "response_received_count"
STAT_LISTINGS = "item_scraped_count"
STAT_BLOCKED = "reelguard/blocked"
STAT_ERRORS = "log_count/ERROR"

# Tables added by later issues; counts() reports 0 until their migration has run.
_FUTURE_COUNT_TABLES = {
    "matches": "matches",
    "takedown_requests": "takedown_requests",
    "evidence": "evidence",
}

_MARKETPLACE_CACHE = "reelguard.marketplace_ids"


# --------------------------------------------------------------------------- helpers


def _insert(session: Session, model: type[Any]) -> Any:
    """A dialect-specific INSERT (with ``on_conflict_do_*``) for the session's database."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"upserts are implemented for SQLite and PostgreSQL, not {dialect}")


def _text(value: str | None) -> str | None:
    """Strip; empty strings become None (an empty field is a missing field, not a value)."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def _require_aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value


def _later(column: InstrumentedAttribute[datetime], value: Any) -> ColumnElement[datetime]:
    """``max(column, value)``, portable (no GREATEST on SQLite)."""
    return case((value > column, value), else_=column)


def _keep_or_fill(column: InstrumentedAttribute[Any], value: Any) -> ColumnElement[Any]:
    """``COALESCE(column, value)``: keep what is stored, fill it only if empty."""
    return func.coalesce(column, literal(value, column.type))


def json_safe(value: Any) -> Any:
    """``value`` with only JSON types: datetimes/dates as ISO strings, sets as lists, etc."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_safe(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((json_safe(v) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return str(value)


# --------------------------------------------------------------------------- marketplaces


def _forget_marketplaces(session: Session, *_args: Any) -> None:
    # A rolled-back transaction may have created the cached marketplace rows.
    session.info.pop(_MARKETPLACE_CACHE, None)


def ensure_marketplace(session: Session, name: str, base_url: str | None = None) -> int:
    """The id of marketplace ``name``, creating it if needed (cached per session).

    A given ``base_url`` fills or replaces the stored one; ``None`` keeps it.
    """
    name = (name or "").strip()
    if not name:
        raise ValueError("marketplace name is empty")
    base_url = _text(base_url)
    if not event.contains(session, "after_soft_rollback", _forget_marketplaces):
        event.listen(session, "after_soft_rollback", _forget_marketplaces)
    cache: dict[tuple[str, str | None], int] = session.info.setdefault(_MARKETPLACE_CACHE, {})
    cached = cache.get((name, base_url))
    if cached is not None:
        return cached
    stmt = _insert(session, Marketplace).values(name=name, base_url=base_url, created_at=utcnow())
    stmt = stmt.on_conflict_do_update(
        index_elements=[Marketplace.name],
        set_={"base_url": func.coalesce(stmt.excluded.base_url, Marketplace.base_url)},
    ).returning(Marketplace.id)
    marketplace_id = int(session.execute(stmt).scalar_one())
    cache[(name, base_url)] = marketplace_id
    cache[(name, None)] = marketplace_id
    return marketplace_id


# --------------------------------------------------------------------------- sellers

_SELLER_PROFILE_FIELDS = ("name", "shop_name", "shop_url", "location", "rating_text", "opened_text")
_SELLER_LICENCE_FIELDS = (
    "licence_number",
    "licence_holder",
    "licence_authority",
    "licence_valid_from",
    "licence_valid_to",
    "licence_raw",
)


def upsert_seller(
    session: Session,
    marketplace_id: int,
    seller: SellerItem,
    run_id: int | None,
    seen_at: datetime,
    *,
    full_profile: bool = False,
) -> int:
    """Insert or update the seller ``(marketplace_id, seller.seller_id)``; return its id.

    Profile fields that are None in ``seller`` keep their stored values. The licence block
    (``licence_*``, ``has_licence_block``) and the ``profile`` snapshot are replaced only when
    ``full_profile`` is true, i.e. the item comes from the seller's own shop page, where a
    missing licence block is a fact; from a listing page or card they are only filled in.
    """
    key = _text(seller.seller_id)
    if key is None:
        raise ValueError("seller.seller_id is empty")
    _require_aware(seen_at, "seen_at")
    licence = seller.licence
    values: dict[str, Any] = {
        "marketplace_id": marketplace_id,
        "seller_key": key,
        **{f: _text(getattr(seller, f)) for f in _SELLER_PROFILE_FIELDS},
        "licence_number": _text(licence.number) if licence else None,
        "licence_holder": _text(licence.holder) if licence else None,
        "licence_authority": _text(licence.authority) if licence else None,
        "licence_valid_from": _text(licence.valid_from) if licence else None,
        "licence_valid_to": _text(licence.valid_to) if licence else None,
        "licence_raw": _text(licence.raw_text) if licence else None,
        "has_licence_block": bool(seller.has_licence_block),
        "profile": json_safe(seller),
        "first_seen": seen_at,
        "last_seen": seen_at,
        "last_run_id": run_id,
    }
    stmt = _insert(session, Seller).values(**values)
    ex = stmt.excluded
    set_: dict[str, Any] = {
        f: func.coalesce(ex[f], getattr(Seller, f)) for f in _SELLER_PROFILE_FIELDS
    }
    if full_profile:
        set_.update({f: ex[f] for f in _SELLER_LICENCE_FIELDS})
        set_["has_licence_block"] = ex.has_licence_block
        set_["profile"] = ex.profile
    else:
        set_.update({f: func.coalesce(getattr(Seller, f), ex[f]) for f in _SELLER_LICENCE_FIELDS})
        set_["has_licence_block"] = or_(Seller.has_licence_block, ex.has_licence_block)
        set_["profile"] = func.coalesce(Seller.profile, ex.profile)
    set_["last_seen"] = _later(Seller.last_seen, ex.last_seen)
    set_["last_run_id"] = func.coalesce(ex.last_run_id, Seller.last_run_id)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Seller.marketplace_id, Seller.seller_key], set_=set_
    ).returning(Seller.id)
    return int(session.execute(stmt).scalar_one())


# --------------------------------------------------------------------------- listings

_RICH_FIELDS = ("location", "description", "condition")


def upsert_listing(
    session: Session,
    marketplace_id: int,
    item: ListingItem,
    seller_db_id: int | None,
    run_id: int | None,
    seen_at: datetime,
) -> tuple[int, bool]:
    """Insert or update the listing ``(marketplace_id, item.listing_id)``: ``(id, created)``.

    * None/empty fields never erase stored ones (price, seller, title…).
    * A search/shop card (``item.page_kind == "card"``) only fills ``location``,
      ``description``, ``condition`` and ``image_urls`` when they are empty: it never
      overwrites what a full listing page stored.
    * ``status="removed"`` sets ``removed_at`` the first time; an active sighting clears it.

    Written as ``INSERT … ON CONFLICT DO NOTHING RETURNING id`` then, if the key existed, an
    ``UPDATE``: this tells "created" from "updated" on both backends, and stays race-free
    because rows are never deleted between the two statements (on PostgreSQL the insert waits
    for a concurrent uncommitted insert of the same key).
    """
    key = _text(item.listing_id)
    if key is None:
        raise ValueError("item.listing_id is empty")
    if item.status not in ("active", "removed"):
        raise ValueError(f"listing status must be 'active' or 'removed', not {item.status!r}")
    _require_aware(seen_at, "seen_at")
    removed = item.status == "removed"
    images = [u for u in (item.image_urls or []) if u] or None
    rich: dict[str, Any] = {f: _text(getattr(item, f)) for f in _RICH_FIELDS}
    rich["image_urls"] = images
    scalar: dict[str, Any] = {
        "title_norm": _text(item.title_norm),
        "price": item.price,
        "currency": _text(item.currency),
        "price_text": _text(item.price_text),
        "seller_id": seller_db_id,
        "sales_count": item.sales_count,
        "last_run_id": run_id,
    }
    title = _text(item.title)
    url = _text(item.url)

    insert_values: dict[str, Any] = {
        "marketplace_id": marketplace_id,
        "listing_key": key,
        "url": url or "",
        "title": title or "",
        **scalar,
        **rich,
        "status": item.status,
        "first_seen": seen_at,
        "last_seen": seen_at,
        "removed_at": seen_at if removed else None,
    }
    ins = (
        _insert(session, Listing)
        .values(**insert_values)
        .on_conflict_do_nothing(index_elements=[Listing.marketplace_id, Listing.listing_key])
        .returning(Listing.id)
    )
    new_id = session.execute(ins).scalar_one_or_none()
    if new_id is not None:
        return int(new_id), True

    changes: dict[str, Any] = {k: v for k, v in scalar.items() if v is not None}
    if title is not None:
        changes["title"] = title
    if url is not None:
        changes["url"] = url
    card = item.page_kind == "card"
    for field_name, value in rich.items():
        if value is None:
            continue
        column: InstrumentedAttribute[Any] = getattr(Listing, field_name)
        changes[field_name] = _keep_or_fill(column, value) if card else value
    changes["status"] = item.status
    seen = literal(seen_at, Listing.last_seen.type)  # typed, so UTCDateTime binds it
    changes["removed_at"] = func.coalesce(Listing.removed_at, seen) if removed else None
    changes["last_seen"] = _later(Listing.last_seen, seen)
    upd = (
        update(Listing)
        .where(Listing.marketplace_id == marketplace_id, Listing.listing_key == key)
        .values(**changes)
        .returning(Listing.id)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(upd).scalar_one()), False


def record_observation(
    session: Session,
    listing_db_id: int,
    run_id: int,
    item: ListingItem,
    seen_at: datetime,
) -> None:
    """Record that ``item`` was seen in run ``run_id``: one row per (listing, run).

    A re-sighting in the same run updates that row (latest ``seen_at``, status and fetch
    path; other fields only if the new sighting has them).
    """
    _require_aware(seen_at, "seen_at")
    stmt = _insert(session, Observation).values(
        listing_id=listing_db_id,
        run_id=run_id,
        seen_at=seen_at,
        price=item.price,
        currency=_text(item.currency),
        title=_text(item.title),
        status=item.status,
        source=_text(item.source),
        keyword=_text(item.keyword),
        fetched_via=_text(item.fetched_via),
    )
    ex = stmt.excluded
    set_: dict[str, Any] = {
        f: func.coalesce(ex[f], getattr(Observation, f))
        for f in ("price", "currency", "title", "source", "keyword")
    }
    set_["status"] = ex.status
    set_["fetched_via"] = func.coalesce(ex.fetched_via, Observation.fetched_via)
    set_["seen_at"] = _later(Observation.seen_at, ex.seen_at)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Observation.listing_id, Observation.run_id], set_=set_
    )
    session.execute(stmt)


# --------------------------------------------------------------------------- runs & events


def start_run(
    session: Session,
    job: str,
    marketplaces: str | Sequence[str],
    args: Mapping[str, Any] | None = None,
) -> int:
    """Create a ``running`` crawl run and return its id (flushed, not committed)."""
    names = marketplaces if isinstance(marketplaces, str) else ",".join(marketplaces)
    run = CrawlRun(
        job=job,
        marketplaces=names,
        args=json_safe(dict(args)) if args is not None else None,
        started_at=utcnow(),
        status="running",
        pages=0,
        listings=0,
        blocked=0,
        errors=0,
    )
    session.add(run)
    session.flush()
    return run.id


def _stat_int(stats: Mapping[str, Any], key: str) -> int | None:
    value = stats.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _event_count(session: Session, run_id: int, kind: str) -> int:
    stmt = select(func.count()).where(CrawlEvent.run_id == run_id, CrawlEvent.kind == kind)
    return int(session.execute(stmt).scalar_one())


def finish_run(
    session: Session,
    run_id: int,
    status: str,
    exit_reason: str | None,
    stats: Mapping[str, Any] | None,
    *,
    pages: int | None = None,
    listings: int | None = None,
    blocked: int | None = None,
    errors: int | None = None,
) -> None:
    """Close run ``run_id`` with ``status`` and the crawler's stats (stored JSON-safe).

    Counters not passed explicitly come from the stats (``STAT_PAGES``, ``STAT_LISTINGS``,
    ``STAT_BLOCKED``, ``STAT_ERRORS``); ``blocked``/``errors`` fall back to the number of
    ``crawl_events`` of that kind recorded for the run.
    """
    if status not in RUN_STATUSES:
        raise ValueError(f"run status must be one of {', '.join(RUN_STATUSES)}, not {status!r}")
    run = session.get(CrawlRun, run_id)
    if run is None:
        raise LookupError(f"crawl run {run_id} does not exist")
    stats = dict(stats or {})
    run.status = status
    run.exit_reason = exit_reason
    run.finished_at = utcnow()
    run.stats = json_safe(stats)
    run.pages = pages if pages is not None else (_stat_int(stats, STAT_PAGES) or 0)
    run.listings = listings if listings is not None else (_stat_int(stats, STAT_LISTINGS) or 0)
    if blocked is None:
        blocked = _stat_int(stats, STAT_BLOCKED)
    run.blocked = blocked if blocked is not None else _event_count(session, run_id, "blocked")
    if errors is None:
        errors = _stat_int(stats, STAT_ERRORS)
    run.errors = errors if errors is not None else _event_count(session, run_id, "error")
    session.flush()


def record_event(
    session: Session,
    run_id: int,
    kind: str,
    url: str | None,
    reason: str | None,
    marketplace: str | None = None,
) -> None:
    """Record what failed (or was refused/blocked/removed) during run ``run_id``, and why."""
    session.add(
        CrawlEvent(
            run_id=run_id,
            at=utcnow(),
            marketplace=_text(marketplace),
            kind=kind,
            url=url,
            reason=reason,
        )
    )
    session.flush()


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class ListingRow:
    """A listing as shown by ``reelguard listings``: with its marketplace and seller names."""

    id: int
    marketplace: str
    listing_key: str
    url: str
    title: str
    price: float | None
    currency: str | None
    status: str
    seller_key: str | None
    seller_name: str | None
    first_seen: datetime
    last_seen: datetime


def counts(session: Session) -> dict[str, int]:
    """Row counts: listings, sellers, observations, matches, takedown_requests, evidence."""
    result: dict[str, int] = {}
    for key, model in (("listings", Listing), ("sellers", Seller), ("observations", Observation)):
        result[key] = int(session.execute(select(func.count()).select_from(model)).scalar_one())
    inspector = inspect(session.connection())
    for key, table_name in _FUTURE_COUNT_TABLES.items():
        if inspector.has_table(table_name):
            stmt = select(func.count()).select_from(table(table_name))
            result[key] = int(session.execute(stmt).scalar_one())
        else:
            result[key] = 0
    return result


def list_listings(
    session: Session, marketplace: str | None = None, limit: int = 50, offset: int = 0
) -> list[ListingRow]:
    """Listings, most recently seen first, optionally of one marketplace (by name)."""
    stmt = (
        select(
            Listing.id,
            Marketplace.name.label("marketplace"),
            Listing.listing_key,
            Listing.url,
            Listing.title,
            Listing.price,
            Listing.currency,
            Listing.status,
            Seller.seller_key,
            Seller.name.label("seller_name"),
            Listing.first_seen,
            Listing.last_seen,
        )
        .join(Marketplace, Marketplace.id == Listing.marketplace_id)
        .outerjoin(Seller, Seller.id == Listing.seller_id)
        .order_by(Listing.last_seen.desc(), Listing.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if marketplace is not None:
        stmt = stmt.where(Marketplace.name == marketplace)
    return [ListingRow(**row._asdict()) for row in session.execute(stmt).all()]


def listing_stats_by_marketplace(
    session: Session, run_id: int | None = None
) -> dict[str, dict[str, int]]:
    """``{marketplace: {"listings": n, "sellers": m}}``.

    Without ``run_id``: everything stored, every known marketplace. With ``run_id``: listings
    observed in that run and their sellers (plus sellers whose profile the run refreshed);
    the run's own marketplaces appear even with zero, so an empty crawl is visible.
    """
    stats: dict[str, dict[str, int]] = {}

    def slot(name: str) -> dict[str, int]:
        return stats.setdefault(name, {"listings": 0, "sellers": 0})

    if run_id is None:
        for name in session.execute(select(Marketplace.name).order_by(Marketplace.name)).scalars():
            slot(name)
        listing_q = (
            select(Marketplace.name, func.count(Listing.id))
            .join(Listing, Listing.marketplace_id == Marketplace.id)
            .group_by(Marketplace.name)
        )
        seller_q = (
            select(Marketplace.name, func.count(Seller.id))
            .join(Seller, Seller.marketplace_id == Marketplace.id)
            .group_by(Marketplace.name)
        )
    else:
        run = session.get(CrawlRun, run_id)
        if run is None:
            raise LookupError(f"crawl run {run_id} does not exist")
        for name in filter(None, (n.strip() for n in (run.marketplaces or "").split(","))):
            slot(name)
        listing_q = (
            select(Marketplace.name, func.count(func.distinct(Observation.listing_id)))
            .select_from(Observation)
            .join(Listing, Listing.id == Observation.listing_id)
            .join(Marketplace, Marketplace.id == Listing.marketplace_id)
            .where(Observation.run_id == run_id)
            .group_by(Marketplace.name)
        )
        seen_sellers = union(
            select(Listing.seller_id.label("sid"))
            .join(Observation, Observation.listing_id == Listing.id)
            .where(Observation.run_id == run_id, Listing.seller_id.is_not(None)),
            select(Seller.id.label("sid")).where(Seller.last_run_id == run_id),
        ).subquery()
        seller_q = (
            select(Marketplace.name, func.count())
            .select_from(seen_sellers)
            .join(Seller, Seller.id == seen_sellers.c.sid)
            .join(Marketplace, Marketplace.id == Seller.marketplace_id)
            .group_by(Marketplace.name)
        )
    for name, n in session.execute(listing_q).all():
        slot(name)["listings"] = int(n)
    for name, n in session.execute(seller_q).all():
        slot(name)["sellers"] = int(n)
    return stats


# --------------------------------------------------------------------------- catalogue

_CATALOG_FIELDS = (
    "member",
    "title",
    "year",
    "aliases",
    "kind",
    "release_date",
    "home_release_date",
)


def _as_date(value: Any, what: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as err:
            raise ValueError(f"{what}: not an ISO date: {value!r}") from err
    raise TypeError(f"{what}: expected a date or ISO string, got {type(value).__name__}")


def _catalog_row(row: Mapping[str, Any]) -> dict[str, Any]:
    title_id = str(row.get("id") or "").strip()
    if not title_id:
        raise ValueError(f"catalogue row without an id: {dict(row)!r}")
    member = str(row.get("member") or "").strip()
    title = str(row.get("title") or "").strip()
    if not member or not title:
        raise ValueError(f"catalogue row {title_id}: 'member' and 'title' are required")
    year = row.get("year")
    aliases = row.get("aliases") or []
    if isinstance(aliases, str):
        aliases = [aliases]
    return {
        "id": title_id,
        "member": member,
        "title": title,
        "year": int(year) if year not in (None, "") else None,
        "aliases": [str(a).strip() for a in aliases if str(a).strip()],
        "kind": _text(row.get("kind")),
        "release_date": _as_date(row.get("release_date"), f"{title_id}.release_date"),
        "home_release_date": _as_date(
            row.get("home_release_date"), f"{title_id}.home_release_date"
        ),
    }


def upsert_catalog_titles(session: Session, rows: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """Insert or update catalogue titles by ``id``; return ``(created, updated)``.

    Rows need ``id``, ``member``, ``title``; ``year``, ``aliases`` (list), ``kind``,
    ``release_date``/``home_release_date`` (date or ISO string) are optional. Unchanged rows
    are not rewritten (their ``updated_at`` stays) and are not counted.
    """
    wanted: dict[str, dict[str, Any]] = {}
    for row in rows:
        clean = _catalog_row(row)
        wanted[clean["id"]] = clean
    if not wanted:
        return 0, 0
    existing: dict[str, tuple[Any, ...]] = {}
    ids = list(wanted)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = select(CatalogTitle.id, *(getattr(CatalogTitle, f) for f in _CATALOG_FIELDS)).where(
            CatalogTitle.id.in_(chunk)
        )
        for found in session.execute(stmt).all():
            existing[found[0]] = tuple(found[1:])
    created = updated = 0
    now = utcnow()
    to_write: list[dict[str, Any]] = []
    for title_id, clean in wanted.items():
        current = existing.get(title_id)
        if current is None:
            created += 1
        elif current != tuple(clean[f] for f in _CATALOG_FIELDS):
            updated += 1
        else:
            continue
        to_write.append({**clean, "updated_at": now})
    if to_write:
        catalog_table = cast(Table, CatalogTitle.__table__)
        stmt = _insert(session, CatalogTitle)
        set_ = {f: stmt.excluded[f] for f in (*_CATALOG_FIELDS, "updated_at")}
        stmt = stmt.on_conflict_do_update(index_elements=[catalog_table.c.id], set_=set_)
        for values in to_write:
            session.execute(stmt.values(**values))
    return created, updated


def replace_authorized_sellers(
    session: Session, rows: Iterable[Mapping[str, Any]], *, member: str | None = None
) -> int:
    """Replace the authorised-seller list; return the number of distinct rows stored.

    With ``member``, only that member's rows are replaced (every row must be theirs);
    without, the whole table is. Rows need ``marketplace``, ``seller`` and ``member``.
    """
    distinct: set[tuple[str, str, str]] = set()
    for row in rows:
        marketplace = str(row.get("marketplace") or "").strip()
        seller = str(row.get("seller") or "").strip()
        row_member = str(row.get("member") or member or "").strip()
        if not (marketplace and seller and row_member):
            raise ValueError(f"authorised seller row needs marketplace, seller, member: {row!r}")
        if member is not None and row_member != member:
            raise ValueError(f"row for member {row_member!r} in a replacement for {member!r}")
        distinct.add((marketplace, seller, row_member))
    purge = delete(AuthorizedSeller)
    if member is not None:
        purge = purge.where(AuthorizedSeller.member == member)
    session.execute(purge.execution_options(synchronize_session=False))
    if distinct:
        stmt = _insert(session, AuthorizedSeller).on_conflict_do_nothing(
            index_elements=[
                AuthorizedSeller.marketplace,
                AuthorizedSeller.seller,
                AuthorizedSeller.member,
            ]
        )
        session.execute(
            stmt,
            [{"marketplace": m, "seller": s, "member": w} for m, s, w in sorted(distinct)],
        )
    return len(distinct)
