"""Catalogue titles and authorised sellers: upserts of an imported catalogue.

Functions take a session and never commit. No settings affect this module."""


from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    delete,
    select,
)
from sqlalchemy.orm import Session

from crawler.db.models import (
    AuthorizedSeller,
    CatalogTitle,
    utcnow,
)
from crawler.db.sql import _insert, _text

# --------------------------------------------------------------------------- catalogue

_CATALOG_FIELDS = (
    "member",
    "title",
    "year",
    "aliases",
    "kind",
    "release_date",
    "home_release_date",
    "directors",
    "cast",
    "franchise",
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
        **{name: _people(row.get(name)) for name in ("directors", "cast", "franchise")},
    }


def _people(value: Any) -> list[list[str]] | None:
    """People (or franchises) as lists of names; None when there are none."""
    out = []
    for person in value or []:
        names = [person] if isinstance(person, str) else list(person)
        names = [str(n).strip() for n in names if str(n).strip()]
        if names:
            out.append(names)
    return out or None


def upsert_catalog_titles(session: Session, rows: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """Insert or update catalogue titles by ``id``; return ``(created, updated)``.

    Rows need ``id``, ``member``, ``title``; ``year``, ``aliases`` (list), ``kind``,
    ``release_date``/``home_release_date`` (date or ISO string), ``directors``, ``cast`` and
    ``franchise`` (lists of name lists) are optional. Unchanged rows
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

