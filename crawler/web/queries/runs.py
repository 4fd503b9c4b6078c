"""The runs page's query: monitoring passes (``crawl_runs``) with their stats, and one run's
blocked pages and errors (``crawl_events``).

Runs are the programme's, not a member's: they are shown to every signed-in user, with
counts and fetch problems only (no matches or requests, which are per member).

No settings affect this module. Data functions take a session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawler.db.models import CrawlEvent, CrawlRun
from crawler.web.scope import NotFound

PAGE_SIZE = 50
EVENT_KINDS = ("blocked", "error", "refused", "removed")


def figures(run: CrawlRun) -> tuple[int, int]:
    """Pages fetched and listings scraped: the run's columns, or, for a pass of several
    spiders that left them at 0, the sum of its spiders' stats (``search:reelguard/pages/M``,
    ``storefront:item_scraped_count``…)."""
    stats = run.stats or {}
    pages, listings = run.pages, run.listings
    if not pages:
        pages = sum(int(v) for k, v in stats.items()
                    if k.split(":")[-1].startswith("reelguard/pages/") and isinstance(v, int))
    if not listings:
        listings = sum(int(v) for k, v in stats.items()
                       if k.split(":")[-1] == "item_scraped_count" and isinstance(v, int))
    return pages, listings


@dataclass
class RunsPage:
    runs: list[CrawlRun]
    total: int
    page: int
    pages: int
    event_counts: dict[int, dict[str, int]]
    figures: dict[int, tuple[int, int]]


def runs_page(session: Session, page: int) -> RunsPage:
    total = session.execute(select(func.count()).select_from(CrawlRun)).scalar_one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    runs = list(session.execute(
        select(CrawlRun).order_by(CrawlRun.id.desc()).limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).scalars())
    counts: dict[int, dict[str, int]] = {}
    if runs:
        for run_id, kind, n in session.execute(
            select(CrawlEvent.run_id, CrawlEvent.kind, func.count())
            .where(CrawlEvent.run_id.in_([r.id for r in runs]))
            .group_by(CrawlEvent.run_id, CrawlEvent.kind)
        ).all():
            counts.setdefault(run_id, {})[kind] = n
    return RunsPage(runs, total, page, pages, counts, {r.id: figures(r) for r in runs})


@dataclass
class RunDetail:
    run: CrawlRun
    events: list[CrawlEvent]
    kind: str
    kinds: dict[str, int]
    stats: list[tuple[str, Any]]
    pages: int
    listings: int


def run_detail(session: Session, run_id: int, kind: str, limit: int = 500) -> RunDetail:
    run = session.get(CrawlRun, run_id)
    if run is None:
        raise NotFound(f"run {run_id}")
    kinds = {k: n for k, n in session.execute(
        select(CrawlEvent.kind, func.count()).where(CrawlEvent.run_id == run_id)
        .group_by(CrawlEvent.kind)
    ).all()}
    query = select(CrawlEvent).where(CrawlEvent.run_id == run_id)
    if kind:
        query = query.where(CrawlEvent.kind == kind)
    events = list(session.execute(query.order_by(CrawlEvent.id).limit(limit)).scalars())
    # Slash-named stats (``reelguard/match/accepted``) are the interesting ones; Scrapy's
    # own counters follow.
    stats = sorted((run.stats or {}).items(), key=lambda kv: (not kv[0].startswith("reelguard"),
                                                             kv[0]))
    return RunDetail(run, events, kind, kinds, stats, *figures(run))
