"""Run crawls in this process: one spider (``reelguard crawl``) or a monitoring pass.

A monitoring pass is one crawl run: the catalogue is imported, the ``search`` spider looks for
every catalogue title on every marketplace, then the ``storefront`` spider crawls the shops of
the sellers that search found. The pass is judged afterwards: one that fetched nothing, or
whose pages were mostly block pages, fails with the reason (exit code 6).

Twisted's reactor runs once per process, so each pass runs in a process of its own; the
scheduler (``crawler.monitor.schedule``) starts one per tick.

A crawl stopped because its database stayed locked or unreachable (``pipelines/store.py``)
fails with that reason and, once its run is recorded, raises ``StorageError`` (exit code 4).

Settings: all of ``crawler.settings``; ``overrides`` are applied on top.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from scrapy.crawler import AsyncCrawlerProcess, Crawler
from scrapy.settings import Settings
from sqlalchemy import distinct, select

from crawler.db import repo
from crawler.db.models import CrawlEvent, Listing, Marketplace, Observation, Seller
from crawler.db.session import session_scope
from crawler.exceptions import StorageError
from crawler.extensions.runlog import DATABASE_UNAVAILABLE, json_stats
from crawler.storage import Database, open_database

logger = logging.getLogger(__name__)


def project_settings(overrides: dict[str, Any] | None = None) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    if "DOWNLOAD_SLOTS" not in (overrides or {}):
        from crawler.profiles import download_slots, load_profiles, profiles_path

        # Politeness per marketplace from its profile (validated here, before any crawl).
        slots = download_slots(load_profiles(profiles_path(settings)))
        settings.set("DOWNLOAD_SLOTS", slots, priority="project")
    return settings


@dataclass
class CrawlOutcome:
    """What one spider did."""

    spider: str
    reason: str
    stats: dict[str, Any]


@dataclass
class PassResult:
    """What a crawl run did, for the summary and the exit code."""

    run_id: int
    status: str
    reason: str
    duration: float
    database: str
    crawls: list[CrawlOutcome] = field(default_factory=list)
    per_marketplace: dict[str, dict[str, int]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "finished"


def _stat(stats: dict[str, Any], key: str) -> int:
    value = stats.get(key, 0)
    return int(value) if isinstance(value, (int, float)) else 0


def _run_spiders(settings: Settings, plan: Any) -> list[CrawlOutcome]:
    """Start a reactor, run ``await plan(run_crawl)`` in it, stop. ``run_crawl(cls, **kw)``."""
    process = AsyncCrawlerProcess(settings)  # installs the asyncio reactor first
    from twisted.internet import reactor
    outcomes: list[CrawlOutcome] = []
    failure: list[BaseException] = []
    interrupted = False

    async def run_crawl(spidercls: Any, **kwargs: Any) -> CrawlOutcome | None:
        if interrupted:
            return None
        crawler: Crawler = process.create_crawler(spidercls)
        await process.crawl(crawler, **kwargs)
        reason = getattr(crawler.spider, "close_reason", None) or (
            crawler.stats.get_value("finish_reason") if crawler.stats else "unknown"
        )
        stats = json_stats(crawler.stats.get_stats()) if crawler.stats else {}
        outcome = CrawlOutcome(spidercls.name, str(reason), stats)
        outcomes.append(outcome)
        return outcome

    async def main() -> None:
        nonlocal interrupted
        try:
            await plan(run_crawl)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, re-raised there
            failure.append(exc)
        finally:
            if reactor.running:  # type: ignore[attr-defined]
                reactor.stop()  # type: ignore[attr-defined,misc]

    reactor.callWhenRunning(lambda: asyncio.ensure_future(main()))  # type: ignore[attr-defined]
    process.start(stop_after_crawl=False)
    if failure:
        raise failure[0]
    return outcomes


def sellers_seen(db: Database, run_id: int) -> dict[str, list[str]]:
    """Seller ids per marketplace of the listings observed in run ``run_id``."""
    with session_scope(db.sessions) as session:
        rows = session.execute(
            select(distinct(Marketplace.name), Seller.seller_key)
            .select_from(Observation)
            .join(Listing, Listing.id == Observation.listing_id)
            .join(Seller, Seller.id == Listing.seller_id)
            .join(Marketplace, Marketplace.id == Listing.marketplace_id)
            .where(Observation.run_id == run_id)
            .order_by(Marketplace.name, Seller.seller_key)
        ).all()
    out: dict[str, list[str]] = {}
    for market, seller in rows:
        out.setdefault(market, []).append(seller)
    return out


def failure_causes(db: Database, run_id: int, limit: int = 3) -> list[str]:
    """Distinct reasons of the run's failed and refused requests (oldest first), for messages."""
    with session_scope(db.sessions) as session:
        rows = session.execute(
            select(CrawlEvent.kind, CrawlEvent.url, CrawlEvent.reason)
            .where(CrawlEvent.run_id == run_id, CrawlEvent.kind.in_(("error", "refused")))
            .order_by(CrawlEvent.id)
        ).all()
    causes: dict[str, None] = {}
    for kind, url, reason in rows:
        text = f"refused {url}: {reason}" if kind == "refused" else f"{url}: {reason}"
        causes.setdefault(text, None)
        if len(causes) >= limit:
            break
    return list(causes)


def judge(
    outcomes: list[CrawlOutcome], min_pages: int, max_blocked_ratio: float,
    causes: list[str] | None = None,
) -> tuple[str, str]:
    """(status, reason) of a run from its crawls' stats; ``causes`` explain an empty run."""
    # robots.txt responses are not pages: a crawl that read only robots.txt fetched nothing.
    pages = sum(_stat(o.stats, "response_received_count")
                - _stat(o.stats, "robotstxt/response_count") for o in outcomes)
    blocked = sum(_stat(o.stats, "reelguard/blocked") for o in outcomes)
    reasons = [o.reason for o in outcomes]
    if DATABASE_UNAVAILABLE in reasons:
        return "failed", _storage_failure(outcomes)
    if any(r in ("shutdown", "cancelled") for r in reasons):
        return "interrupted", "interrupted by the user"
    # A block page is retried or given up in the downloader, never "received": the pages
    # fetched are the received ones plus the block pages.
    fetched = pages + blocked
    if fetched and fetched >= min_pages and blocked / fetched > max_blocked_ratio:
        return "failed", (
            f"mostly blocked: {blocked} of {fetched} pages were login walls or captchas "
            f"(limit {max_blocked_ratio:.0%})"
        )
    if pages < min_pages:
        errors = sum(_stat(o.stats, "reelguard/events/error") for o in outcomes)
        refused = sum(_stat(o.stats, "reelguard/refused") for o in outcomes)
        parts = [f"{errors} requests failed"] if errors else []
        if refused:
            parts.append(f"{refused} refused as non-public addresses "
                         "(see REELGUARD_ALLOWED_PRIVATE_HOSTS)")
        why = f" ({', '.join(parts)})" if parts else ""
        if causes:
            why += ": " + "; ".join(causes)
        return "failed", f"fetched {pages} pages, fewer than the {min_pages} required{why}"
    bad = [r for r in reasons if r != "finished"]
    if bad:
        return "failed", f"crawl stopped early: {', '.join(bad)}"
    unseen = sum(_stat(o.stats, "reelguard/browser/needed_but_off") for o in outcomes)
    if unseen:
        return "finished", (
            f"finished, but {unseen} page(s) need JavaScript and were not rendered "
            "(REELGUARD_BROWSER=never)"
        )
    return "finished", "finished"


def _storage_failure(outcomes: list[CrawlOutcome]) -> str:
    why = next((str(o.stats["reelguard/store/unavailable"]) for o in outcomes
                if o.stats.get("reelguard/store/unavailable")), "database unavailable")
    lost = sum(_stat(o.stats, "reelguard/store/not_stored") for o in outcomes)
    return f"{why}; {lost} item(s) not stored: run the crawl again to store them"


def _raise_if_storage_failed(outcomes: list[CrawlOutcome]) -> None:
    """The crawl gave up on its database: exit code 4, with the reason the run recorded."""
    if any(o.reason == DATABASE_UNAVAILABLE for o in outcomes):
        raise StorageError(_storage_failure(outcomes))


def summarise(db: Database, run_id: int, outcomes: list[CrawlOutcome]) -> tuple[dict, dict]:
    with session_scope(db.sessions) as session:
        per = repo.listing_stats_by_marketplace(session, run_id)
    for name, row in per.items():
        row["pages"] = sum(_stat(o.stats, f"reelguard/pages/{name}") for o in outcomes)
        row["blocked"] = sum(_stat(o.stats, f"reelguard/blocked/{name}") for o in outcomes)
        row["errors"] = sum(_stat(o.stats, f"reelguard/errors/{name}") for o in outcomes)
        row["browser_pages"] = sum(_stat(o.stats, f"reelguard/browser/{name}") for o in outcomes)
    received = sum(_stat(o.stats, "response_received_count") for o in outcomes)
    totals = {
        # The rows count every marketplace page (block pages included); the total adds up.
        "pages": sum(r["pages"] for r in per.values()) if per else received,
        "listings": sum(r["listings"] for r in per.values()),
        "sellers": sum(r["sellers"] for r in per.values()),
        "blocked": sum(_stat(o.stats, "reelguard/blocked") for o in outcomes),
        "errors": sum(_stat(o.stats, "reelguard/errors") for o in outcomes),
        "browser_pages": sum(_stat(o.stats, "reelguard/browser/pages_served") for o in outcomes),
    }
    return per, totals


def run_monitor_pass(
    *,
    marketplace_urls: dict[str, str],
    database_url: str | None = None,
    storefronts: bool = True,
    keyword_strategy: str = "primary",
    keyword_limit: int | None = None,
    min_pages: int = 1,
    max_blocked_ratio: float = 0.5,
    overrides: dict[str, Any] | None = None,
    job: str = "monitor",
) -> PassResult:
    """Search every marketplace for the stored catalogue, then crawl the sellers' storefronts."""
    from spiders.search import SearchSpider
    from spiders.storefront import StorefrontSpider

    started = time.monotonic()
    db = open_database(database_url)
    settings = project_settings(
        {
            "REELGUARD_DATABASE_URL": db.url,
            "REELGUARD_MARKETPLACE_URLS": marketplace_urls,
            **(overrides or {}),
        }
    )
    names = list(marketplace_urls)
    with session_scope(db.sessions) as session:
        run_id = repo.start_run(
            session, job=job, marketplaces=names,
            args={"storefronts": storefronts, "strategy": keyword_strategy,
                  "limit": keyword_limit, "urls": marketplace_urls},
        )

    async def plan(run_crawl: Any) -> None:
        search = await run_crawl(
            SearchSpider, marketplace=",".join(names), run_id=run_id,
            strategy=keyword_strategy, limit=str(keyword_limit) if keyword_limit else None,
        )
        if not storefronts or search is None or search.reason != "finished":
            return
        found = sellers_seen(db, run_id)
        targets = [f"{m}:{s}" for m, sellers in found.items() for s in sellers]
        if targets:
            await run_crawl(
                StorefrontSpider, marketplace=",".join(sorted(found)), run_id=run_id,
                seller=",".join(targets),
            )

    status, reason = "failed", "did not run"
    outcomes: list[CrawlOutcome] = []
    try:
        outcomes = _run_spiders(settings, plan)
        status, reason = judge(outcomes, min_pages, max_blocked_ratio,
                               failure_causes(db, run_id))
    except BaseException as exc:
        status, reason = ("interrupted", "interrupted") if isinstance(
            exc, KeyboardInterrupt) else ("failed", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        per, totals = summarise(db, run_id, outcomes)
        merged: dict[str, Any] = {}
        for o in outcomes:
            merged.update({f"{o.spider}:{k}": v for k, v in o.stats.items()})
        merged.update({f"total/{k}": v for k, v in totals.items()})
        with session_scope(db.sessions) as session:
            repo.finish_run(
                session, run_id, status=status, exit_reason=reason, stats=merged,
            )
    _raise_if_storage_failed(outcomes)
    return PassResult(
        run_id=run_id,
        status=status,
        reason=reason,
        duration=time.monotonic() - started,
        database=db.url,
        crawls=outcomes,
        per_marketplace=per,
        totals=totals,
    )


def run_single_crawl(
    spider: str,
    *,
    marketplace_urls: dict[str, str],
    database_url: str | None = None,
    spider_args: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
) -> PassResult:
    """One spider as its own crawl run (``reelguard crawl search|storefront|listing``)."""
    from spiders.listing import ListingSpider
    from spiders.search import SearchSpider
    from spiders.storefront import StorefrontSpider

    spidercls = {"search": SearchSpider, "storefront": StorefrontSpider,
                 "listing": ListingSpider}[spider]
    started = time.monotonic()
    db = open_database(database_url)
    settings = project_settings(
        {"REELGUARD_DATABASE_URL": db.url, "REELGUARD_MARKETPLACE_URLS": marketplace_urls,
         **(overrides or {})}
    )
    holder: dict[str, int] = {}

    async def plan(run_crawl: Any) -> None:
        await run_crawl(spidercls, **(spider_args or {}))

    outcomes = _run_spiders(settings, plan)
    run_id = int(outcomes[0].stats.get("reelguard/run_id", 0)) if outcomes else 0
    holder["run_id"] = run_id
    status, reason = judge(outcomes, 1, 0.5, failure_causes(db, run_id) if run_id else None)
    if run_id:
        # The run log closed the run with Scrapy's reason; the verdict on it is this one.
        # Its error count is the requests that failed (the ``error`` events), as in the
        # summary, not Scrapy's count of ERROR log lines (a retry give-up logs one, a 429
        # with a too-long Retry-After none).
        with session_scope(db.sessions) as session:
            repo.finish_run(session, run_id, status=status, exit_reason=reason,
                            stats=outcomes[0].stats,
                            errors=_stat(outcomes[0].stats, "reelguard/errors"))
    per, totals = summarise(db, run_id, outcomes) if run_id else ({}, {})
    _raise_if_storage_failed(outcomes)
    return PassResult(run_id, status, reason, time.monotonic() - started, db.url, outcomes,
                      per, totals)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
