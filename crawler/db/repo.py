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

import functools
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    event,
    func,
    or_,
    update,
)
from sqlalchemy.orm import Session

from crawler.db.models import (
    Listing,
    Marketplace,
    Observation,
    Seller,
    utcnow,
)
from crawler.db.sql import (
    _binds,
    _dialect,
    _later,
    _params,
    _require_aware,
    _scalar,
    _scalar_one,
    _table_insert,
    _text,
)
from crawler.items import ListingItem, SellerItem

_MARKETPLACE_CACHE = "reelguard.marketplace_ids"


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



# Split by concern; re-exported (``import x as x``, for mypy) so ``repo.<name>`` stays the one
# entry point for callers.
# ruff: noqa: PLC0414
from crawler.db.catalog import (
    replace_authorized_sellers as replace_authorized_sellers,
)
from crawler.db.catalog import upsert_catalog_titles as upsert_catalog_titles
from crawler.db.reports import ListingRow as ListingRow
from crawler.db.reports import counts as counts
from crawler.db.reports import list_listings as list_listings
from crawler.db.reports import (
    listing_stats_by_marketplace as listing_stats_by_marketplace,
)
from crawler.db.runs import STAT_BLOCKED as STAT_BLOCKED
from crawler.db.runs import STAT_ERRORS as STAT_ERRORS
from crawler.db.runs import STAT_LISTINGS as STAT_LISTINGS
from crawler.db.runs import STAT_PAGES as STAT_PAGES
from crawler.db.runs import finish_run as finish_run
from crawler.db.runs import record_event as record_event
from crawler.db.runs import start_run as start_run
from crawler.db.sql import json_safe as json_safe
