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

Speed: the upserts a crawl runs for every listing are statements built once per dialect with
bind parameters (``_marketplace_upsert``, ``_seller_upsert``, ``_listing_insert``,
``_listing_update``, ``_observation_upsert``); on SQLite they run on the DBAPI cursor of the
session's transaction (``_scalar``). Same SQL, same values, same transaction as
``session.execute``; a fraction of its cost.

No settings affect this module; the database comes from the session's bind.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import PurePath
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
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
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
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


def _dialect(session: Session) -> str:
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(
            f"upserts are implemented for SQLite and PostgreSQL, not {dialect}"
        )
    return dialect


def _table_insert(dialect: str, model: type[Any]) -> Any:
    """A Core INSERT (with ``on_conflict_do_*``) on ``model``'s table for ``dialect``."""
    target = cast(Table, model.__table__)
    return postgresql.insert(target) if dialect == "postgresql" else sqlite.insert(target)


def _binds(model: type[Any], names: Iterable[str]) -> dict[str, Any]:
    """``{column: :p_column}``: one typed bind parameter per column (an UPDATE reserves the
    column names themselves)."""
    cols = cast(Table, model.__table__).c
    return {n: bindparam(f"p_{n}", type_=cols[n].type) for n in names}


def _params(values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters for a statement built with ``_binds``."""
    return {f"p_{k}": v for k, v in values.items()}


class _Prepared:
    """A template statement compiled once for a dialect: its SQL text, and for each positional
    parameter the bind name and SQLAlchemy's bind processor (type conversion) for it."""

    __slots__ = ("binds", "fixed", "sql")

    def __init__(self, stmt: Any, dialect: Dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        processors = compiled._bind_processors
        self.sql = compiled.string
        self.binds = [(name, processors.get(name)) for name in compiled.positiontup or ()]
        # Values written into the statement itself (e.g. ``removed_at=None``).
        self.fixed = {
            name: bind.effective_value
            for name, bind in compiled.binds.items()
            if not name.startswith("p_")
        }

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        fixed = self.fixed
        return [
            value if proc is None or value is None else proc(value)
            for name, proc in self.binds
            for value in (params[name] if name in params else fixed[name],)
        ]


_prepared: weakref.WeakKeyDictionary[Dialect, dict[int, _Prepared]] = (
    weakref.WeakKeyDictionary()
)


def _scalar(session: Session, stmt: Any, params: dict[str, Any]) -> Any:
    """Execute a template statement in the session's transaction; its first value or None.

    On SQLite the statement goes straight to the DBAPI cursor: it is compiled once, bound with
    SQLAlchemy's own type processors and run in the transaction the session began, so the SQL
    and the values are the ones ``session.execute`` would send, for a fifth of the time (this
    runs three times per stored listing). Driver errors are wrapped as SQLAlchemy's (e.g.
    ``OperationalError`` with ``.orig``), as ``session.execute`` does. Statements here are not
    echoed and fire no cursor events. Other backends use ``session.execute``.
    """
    conn = session.connection()
    dialect = conn.dialect
    if dialect.name != "sqlite" or dialect.paramstyle != "qmark":
        return session.execute(stmt, params).scalar()
    per_dialect = _prepared.setdefault(dialect, {})
    prepared = per_dialect.get(id(stmt))
    if prepared is None:
        prepared = per_dialect[id(stmt)] = _Prepared(stmt, dialect)
    args = prepared.args(params)
    dbapi_error = dialect.loaded_dbapi.Error
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(prepared.sql, args)
        row = cursor.fetchone()
    except dbapi_error as err:
        raise sa_exc.DBAPIError.instance(
            prepared.sql, args, err, dbapi_error, dialect=dialect
        ) from err
    finally:
        cursor.close()
    return None if row is None else row[0]


def _scalar_one(session: Session, stmt: Any, params: dict[str, Any]) -> Any:
    value = _scalar(session, stmt, params)
    if value is None:
        raise sa_exc.NoResultFound("No row was found when one was required")
    return value


# The hot upserts (one of each per stored listing) are built once per dialect and variant as
# statements with bind parameters: building and cache-keying a fresh statement per row cost
# more than the database work. Each statement does what the per-row one it replaced did; a
# value that is None binds NULL, so ``COALESCE(:value, column)`` keeps the stored value.


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


def _later(column: Any, value: Any) -> ColumnElement[datetime]:
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
    values = {"name": name, "base_url": base_url, "created_at": utcnow()}
    stmt = _marketplace_upsert(_dialect(session))
    marketplace_id = int(_scalar_one(session, stmt, _params(values)))
    cache[(name, base_url)] = marketplace_id
    cache[(name, None)] = marketplace_id
    return marketplace_id


@functools.cache
def _marketplace_upsert(dialect: str) -> Any:
    cols = cast(Table, Marketplace.__table__).c
    stmt = _table_insert(dialect, Marketplace).values(
        _binds(Marketplace, ("name", "base_url", "created_at"))
    )
    return stmt.on_conflict_do_update(
        index_elements=[cols.name],
        set_={"base_url": func.coalesce(stmt.excluded.base_url, cols.base_url)},
    ).returning(cols.id)


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
    stmt = _seller_upsert(_dialect(session), full_profile)
    return int(_scalar_one(session, stmt, _params(values)))


_SELLER_COLUMNS = (
    "marketplace_id",
    "seller_key",
    *_SELLER_PROFILE_FIELDS,
    *_SELLER_LICENCE_FIELDS,
    "has_licence_block",
    "profile",
    "first_seen",
    "last_seen",
    "last_run_id",
)


@functools.cache
def _seller_upsert(dialect: str, full_profile: bool) -> Any:
    cols = cast(Table, Seller.__table__).c
    stmt = _table_insert(dialect, Seller).values(_binds(Seller, _SELLER_COLUMNS))
    ex = stmt.excluded
    set_: dict[str, Any] = {f: func.coalesce(ex[f], cols[f]) for f in _SELLER_PROFILE_FIELDS}
    if full_profile:
        set_.update({f: ex[f] for f in _SELLER_LICENCE_FIELDS})
        set_["has_licence_block"] = ex.has_licence_block
        set_["profile"] = ex.profile
    else:
        set_.update({f: func.coalesce(cols[f], ex[f]) for f in _SELLER_LICENCE_FIELDS})
        set_["has_licence_block"] = or_(cols.has_licence_block, ex.has_licence_block)
        set_["profile"] = func.coalesce(cols.profile, ex.profile)
    set_["last_seen"] = _later(cols.last_seen, ex.last_seen)
    set_["last_run_id"] = func.coalesce(ex.last_run_id, cols.last_run_id)
    return stmt.on_conflict_do_update(
        index_elements=[cols.marketplace_id, cols.seller_key], set_=set_
    ).returning(cols.id)


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
    values: dict[str, Any] = {
        "marketplace_id": marketplace_id,
        "listing_key": key,
        "url": _text(item.url),
        "title": _text(item.title),
        "title_norm": _text(item.title_norm),
        "price": item.price,
        "currency": _text(item.currency),
        "price_text": _text(item.price_text),
        "seller_id": seller_db_id,
        "sales_count": item.sales_count,
        "last_run_id": run_id,
        **{f: _text(getattr(item, f)) for f in _RICH_FIELDS},
        "image_urls": images,
        "status": item.status,
        "first_seen": seen_at,
        "last_seen": seen_at,
        "removed_at": seen_at if removed else None,
    }
    dialect = _dialect(session)
    # A new row stores "" for a missing URL or title (the columns are NOT NULL); an update
    # keeps what is stored instead (the NULL bind below).
    new_id = _scalar(
        session,
        _listing_insert(dialect),
        _params({**values, "url": values["url"] or "", "title": values["title"] or ""}),
    )
    if new_id is not None:
        return int(new_id), True
    upd = _listing_update(dialect, item.page_kind == "card", removed)
    return int(_scalar_one(session, upd, _params(values))), False


_LISTING_SCALARS = (
    "url",
    "title",
    "title_norm",
    "price",
    "currency",
    "price_text",
    "seller_id",
    "sales_count",
    "last_run_id",
)
_LISTING_COLUMNS = (
    "marketplace_id",
    "listing_key",
    *_LISTING_SCALARS,
    *_RICH_FIELDS,
    "image_urls",
    "status",
    "first_seen",
    "last_seen",
    "removed_at",
)


@functools.cache
def _listing_insert(dialect: str) -> Any:
    cols = cast(Table, Listing.__table__).c
    return (
        _table_insert(dialect, Listing)
        .values(_binds(Listing, _LISTING_COLUMNS))
        .on_conflict_do_nothing(index_elements=[cols.marketplace_id, cols.listing_key])
        .returning(cols.id)
    )


@functools.cache
def _listing_update(dialect: str, card: bool, removed: bool) -> Any:
    """The update of an existing listing; binds as in ``_listing_insert``."""
    cols = cast(Table, Listing.__table__).c
    b = _binds(Listing, (*_LISTING_COLUMNS,))
    # None never erases: scalars and (from a full page) rich fields replace when given.
    changes: dict[str, Any] = {f: func.coalesce(b[f], cols[f]) for f in _LISTING_SCALARS}
    for f in (*_RICH_FIELDS, "image_urls"):
        # A card only fills what is empty; a listing page replaces what it has.
        changes[f] = func.coalesce(cols[f], b[f]) if card else func.coalesce(b[f], cols[f])
    changes["status"] = b["status"]
    seen = b["last_seen"]
    changes["removed_at"] = func.coalesce(cols.removed_at, seen) if removed else None
    changes["last_seen"] = _later(cols.last_seen, seen)
    return (
        update(cast(Table, Listing.__table__))
        .where(cols.marketplace_id == b["marketplace_id"], cols.listing_key == b["listing_key"])
        .values(changes)
        .returning(cols.id)
    )


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
    values = {
        "listing_id": listing_db_id,
        "run_id": run_id,
        "seen_at": seen_at,
        "price": item.price,
        "currency": _text(item.currency),
        "title": _text(item.title),
        "status": item.status,
        "source": _text(item.source),
        "keyword": _text(item.keyword),
        "fetched_via": _text(item.fetched_via),
    }
    _scalar(session, _observation_upsert(_dialect(session)), _params(values))


_OBSERVATION_COLUMNS = (
    "listing_id", "run_id", "seen_at", "price", "currency", "title", "status", "source",
    "keyword", "fetched_via",
)  # fmt: skip


@functools.cache
def _observation_upsert(dialect: str) -> Any:
    cols = cast(Table, Observation.__table__).c
    stmt = _table_insert(dialect, Observation).values(_binds(Observation, _OBSERVATION_COLUMNS))
    ex = stmt.excluded
    set_: dict[str, Any] = {
        f: func.coalesce(ex[f], cols[f]) for f in ("price", "currency", "title", "source", "keyword")
    }
    set_["status"] = ex.status
    set_["fetched_via"] = func.coalesce(ex.fetched_via, cols.fetched_via)
    set_["seen_at"] = _later(cols.seen_at, ex.seen_at)
    return stmt.on_conflict_do_update(
        index_elements=[cols.listing_id, cols.run_id], set_=set_
    )


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
