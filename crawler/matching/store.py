"""The matching engine against the stored catalogue, and its decisions as ``matches`` rows.

``engine_from_database`` builds a :class:`MatchEngine` from the catalogue and authorised
sellers imported into the database (``reelguard catalog import``); ``upsert_match`` writes one
decision per (listing, member), updating it on a re-crawl.

Settings: none (the caller passes the session and the matching configuration path).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.catalog.importer import AuthorizedSeller, CatalogEntry
from crawler.db.models import AuthorizedSeller as AuthorizedRow
from crawler.db.models import CatalogTitle, Match
from crawler.db.sql import _binds, _dialect, _params, _scalar, _table_insert
from crawler.matching.config import MatchConfig
from crawler.matching.engine import MatchEngine

ENGINE_VERSION = "1"


def stored_entries(session: Session) -> list[CatalogEntry]:
    rows = session.execute(select(CatalogTitle).order_by(CatalogTitle.id)).scalars()
    return [
        CatalogEntry(
            id=r.id, member=r.member, title=r.title, year=r.year, aliases=list(r.aliases or []),
            kind=r.kind or "film", release_date=r.release_date,
            home_release_date=r.home_release_date, directors=list(r.directors or []),
            cast=list(r.cast or []), franchise=list(r.franchise or []),
        )
        for r in rows
    ]


def stored_authorized(session: Session) -> list[AuthorizedSeller]:
    rows = session.execute(select(AuthorizedRow)).scalars()
    return [AuthorizedSeller(r.marketplace, r.seller, r.member) for r in rows]


def engine_from_database(
    session: Session, config_path: str | None = None
) -> tuple[MatchEngine | None, dict[str, str]]:
    """The engine for the stored catalogue (``None`` when it is empty) and id -> member."""
    entries = stored_entries(session)
    if not entries:
        return None, {}
    engine = MatchEngine(entries, stored_authorized(session), MatchConfig.load(config_path))
    return engine, {e.id: e.member for e in entries}


def upsert_match(
    session: Session,
    listing_db_id: int,
    member: str,
    decision: dict[str, Any],
    run_id: int | None,
    now: dt.datetime,
) -> None:
    """Insert or update the decision on ``listing_db_id`` for ``member``.

    ``catalog_id`` is the member's own work named by the listing (a collection names several
    members' works; ``decision["member_catalog_ids"]`` maps each member to its ids).
    """
    own = (decision.get("member_catalog_ids") or {}).get(member) or []
    values = {
        "listing_id": listing_db_id,
        "member": member,
        "catalog_id": own[0] if own else decision.get("catalog_id"),
        "catalog_ids": list(decision.get("catalog_ids") or []) or None,
        "decision": decision["decision"],
        "score": float(decision.get("score") or 0.0),
        "signals": list(decision.get("signals") or []) or None,
        "engine_version": ENGINE_VERSION,
        "run_id": run_id,
        "first_decided_at": now,
        "decided_at": now,
    }
    _scalar(session, _match_upsert(_dialect(session)), _params(values))


_MATCH_COLUMNS = (
    "listing_id", "member", "catalog_id", "catalog_ids", "decision", "score", "signals",
    "engine_version", "run_id", "first_decided_at", "decided_at",
)  # fmt: skip
_MATCH_UPDATED = _MATCH_COLUMNS[2:9] + ("decided_at",)


@functools.cache
def _match_upsert(dialect: str) -> Any:
    """Built once per dialect (it runs for every matched listing), as the repo's upserts are."""
    stmt = _table_insert(dialect, Match).values(_binds(Match, _MATCH_COLUMNS))
    return stmt.on_conflict_do_update(
        index_elements=["listing_id", "member"],
        set_={name: stmt.excluded[name] for name in _MATCH_UPDATED},
    )
