"""Crawl runs and their events: start, finish with the crawler's stats, record what failed.

Functions take a session and never commit. No settings affect this module."""


from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.orm import Session

from crawler.db.models import (
    RUN_STATUSES,
    CrawlEvent,
    CrawlRun,
    Listing,
    Marketplace,
    Observation,
    utcnow,
)
from crawler.db.sql import _text, json_safe

STAT_PAGES = "response_received_count"
STAT_LISTINGS = "item_scraped_count"
STAT_BLOCKED = "reelguard/blocked"
STAT_ERRORS = "log_count/ERROR"

# Tables added by later issues; counts() reports 0 until their migration has run.
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


# --------------------------------------------------------------------------- resuming


def runs_to_resume(session: Session, job: str, args: Mapping[str, Any]) -> list[int]:
    """Ids of the runs of ``job`` with these ``args`` since its last finished one (newest first).

    Those runs stopped before their end: interrupted (Ctrl-C), failed (the database gave up,
    a site stopped answering) or still ``running`` because the process was killed.
    """
    wanted = json_safe(dict(args))
    rows = session.execute(
        select(CrawlRun.id, CrawlRun.status, CrawlRun.args)
        .where(CrawlRun.job == job)
        .order_by(CrawlRun.id.desc())
    ).all()
    out: list[int] = []
    for run_id, status, run_args in rows:
        if (run_args or {}) != wanted:
            continue
        if status == "finished":
            break
        out.append(int(run_id))
    return out


def listings_observed(session: Session, run_ids: Sequence[int]) -> set[tuple[str, str]]:
    """(marketplace, listing key) of every listing stored (observed) by one of ``run_ids``."""
    if not run_ids:
        return set()
    rows = session.execute(
        select(Marketplace.name, Listing.listing_key)
        .join(Listing, Listing.marketplace_id == Marketplace.id)
        .join(Observation, Observation.listing_id == Listing.id)
        .where(Observation.run_id.in_(list(run_ids)))
        .distinct()
    ).all()
    return {(str(m), str(k)) for m, k in rows}
