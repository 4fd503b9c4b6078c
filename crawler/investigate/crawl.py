"""The targeted crawl of an investigation: a seller's whole storefront, then its linked accounts.

One crawl run (job ``investigate``) in one reactor:

* hop 0 crawls the investigated seller's storefront: every shop index page up to a safety cap
  (``REELGUARD_MAX_SHOP_PAGES``, raised by the command; the marketplace profile's
  ``max_pages`` is ignored here, an investigation wants the whole shop), every listing page
  (``REELGUARD_FOLLOW_LISTINGS``), and captures every page as evidence whether it matched or
  not (``REELGUARD_EVIDENCE_ALL``; the shop pages, licence block included, by the licence
  pipeline). Then the seller-level facts are refreshed (``crawler.sellers.refresh``): strikes,
  licence findings, identifiers and clusters, levels.
* with ``linked``, hop *k* (1 ≤ k ≤ ``depth``) crawls the storefronts of the accounts that share
  an identifier (``seller_links``, either side) with an account crawled at hop *k−1* and were
  not crawled yet, then refreshes again, so links found in those shops feed the next hop.
  ``depth`` 1 is the accounts directly linked to the seller; 2 adds the accounts linked to
  those; and so on. At most ``max_linked`` linked storefronts are crawled in all. Accounts on a
  marketplace with no base URL are listed as skipped.

A seller whose storefront does not exist raises :class:`~crawler.exceptions.UnknownSeller`; one
served only block pages :class:`~crawler.exceptions.StorefrontBlocked`. A failure of the seller
refresh while its parts are incomplete is recorded in ``refresh_error`` and logged, not hidden.

Settings: all of ``crawler.settings`` (``overrides`` on top).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from crawler.db import repo
from crawler.db.models import CrawlEvent, Marketplace, Seller
from crawler.db.session import session_scope
from crawler.exceptions import CrawlFailed, StorefrontBlocked, UnknownSeller
from crawler.investigate.facts import find_seller, linked_seller_ids
from crawler.monitor.runner import (
    CrawlOutcome,
    _run_spiders,
    failure_causes,
    judge,
    project_settings,
    summarise,
)
from crawler.profiles import load_profiles, profiles_path
from crawler.storage import Database, open_database
from spiders.storefront import StorefrontSpider

logger = logging.getLogger(__name__)

DEFAULT_MAX_SHOP_PAGES = 500
DEFAULT_MAX_LINKED = 20
_NOT_FOUND = ("HTTP 404", "HTTP 410", "expected a shop page")


class InvestigationSpider(StorefrontSpider):
    """The storefront spider with no page limit but the safety cap of the settings."""

    name = "investigate"

    def page_limit(self, marketplace: str, setting: int) -> int:
        return setting


@dataclass
class InvestigationCrawl:
    run_id: int
    status: str = "failed"
    reason: str = "did not run"
    duration: float = 0.0
    hops: list[dict[str, Any]] = field(default_factory=list)
    subject_ids: list[int] = field(default_factory=list)
    seller_db_id: int | None = None
    refresh_error: str | None = None
    outcomes: list[CrawlOutcome] = field(default_factory=list)
    per_marketplace: dict[str, dict[str, int]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "finished"


def seller_of_run(db: Database, marketplace: str, seller: str, run_id: int) -> int:
    """The seller's id if this run saw its storefront; else why not, as a project error."""
    with session_scope(db.sessions) as session:
        row = find_seller(session, marketplace, seller)
        if row is not None and row.last_run_id == run_id:
            return row.id
        events = session.execute(
            select(CrawlEvent.kind, CrawlEvent.url, CrawlEvent.reason)
            .where(CrawlEvent.run_id == run_id)
            .order_by(CrawlEvent.id)
        ).all()
    blocked = [e for e in events if e.kind == "blocked"]
    if blocked:
        raise StorefrontBlocked(
            marketplace,
            seller,
            f"{len(blocked)} block page(s), first {blocked[0].url}: {blocked[0].reason}",
        )
    for kind, url, reason in events:
        if kind in ("unexpected_page", "unknown_page") or any(
            n in (reason or "") for n in _NOT_FOUND
        ):
            raise UnknownSeller(marketplace, seller, f"{url}: {reason}")
    causes = [f"{url}: {reason}" for kind, url, reason in events if kind in ("error", "refused")]
    if causes:
        raise CrawlFailed(
            f"{marketplace}: cannot crawl the storefront of {seller!r}: " + "; ".join(causes[:3])
        )
    raise UnknownSeller(marketplace, seller, "the crawl found no storefront for it")


def refresh(db: Database) -> str | None:
    """Run the post-crawl seller refresh; the error in words if it failed (logged)."""
    try:
        from crawler.sellers.refresh import refresh_sellers

        refresh_sellers(db)
    except Exception as exc:  # recorded in the investigation and logged, never hidden
        logger.error("seller refresh failed: %s", exc, exc_info=exc)
        return f"{type(exc).__name__}: {exc}"
    return None


def _next_hop(
    db: Database, frontier: set[int], crawled: set[int], room: int
) -> list[tuple[int, str, str]]:
    """(id, marketplace, seller key) of the accounts linked to ``frontier`` not crawled yet."""
    with session_scope(db.sessions) as session:
        ids = linked_seller_ids(session, frontier) - crawled
        rows = (
            session.execute(
                select(Seller.id, Marketplace.name, Seller.seller_key)
                .join(Marketplace, Marketplace.id == Seller.marketplace_id)
                .where(Seller.id.in_(ids))
                .order_by(Seller.id)
            ).all()
            if ids
            else []
        )
    return [(int(i), str(m), str(k)) for i, m, k in rows][: max(room, 0)]


def run_investigation(
    *,
    marketplace: str,
    seller: str,
    marketplace_urls: dict[str, str],
    database_url: str | None = None,
    depth: int = 1,
    linked: bool = False,
    max_shop_pages: int = DEFAULT_MAX_SHOP_PAGES,
    max_linked: int = DEFAULT_MAX_LINKED,
    overrides: dict[str, Any] | None = None,
    report: Callable[[str], None] | None = None,
    on_run: Callable[[int], None] | None = None,
) -> InvestigationCrawl:
    """Crawl as the module docstring says; ``report(text)`` is told each step, ``on_run`` the
    crawl run's id as soon as it exists."""
    say = report or (lambda _text: None)
    started = time.monotonic()
    db = open_database(database_url)
    settings = project_settings(
        {
            "REELGUARD_DATABASE_URL": db.url,
            "REELGUARD_MARKETPLACE_URLS": marketplace_urls,
            "REELGUARD_FOLLOW_LISTINGS": True,
            "REELGUARD_EVIDENCE_ALL": True,
            "REELGUARD_MAX_SHOP_PAGES": max_shop_pages,
            **(overrides or {}),
        }
    )
    with session_scope(db.sessions) as session:
        run_id = repo.start_run(
            session,
            job="investigate",
            marketplaces=[marketplace],
            args={"seller": seller, "depth": depth, "linked": linked, "urls": marketplace_urls},
        )
    result = InvestigationCrawl(run_id=run_id)
    if on_run is not None:
        on_run(run_id)
    # Linked accounts can be on other marketplaces: crawlable when a base URL is known.
    profiles = load_profiles(profiles_path(settings))
    known = set(marketplace_urls) | {m for m, p in profiles.items() if p.base_url}

    async def plan(run_crawl: Any) -> None:
        targets = [(0, marketplace, seller)]
        crawled: set[int] = set()
        for hop in range(depth + 1 if linked else 1):
            reachable = [t for t in targets if hop == 0 or t[1] in known]
            skipped = [f"{t[1]}:{t[2]}" for t in targets if t not in reachable]
            result.hops.append(
                {"hop": hop, "sellers": [f"{m}:{k}" for _i, m, k in reachable], "skipped": skipped}
            )
            say(
                f"hop {hop}: crawling {len(reachable)} storefront(s)"
                + (f", {len(skipped)} skipped (no base URL)" if skipped else "")
            )
            for market in sorted({m for _i, m, _k in reachable}):
                keys = [f"{m}:{k}" for _i, m, k in reachable if m == market]
                outcome = await run_crawl(
                    InvestigationSpider, marketplace=market, run_id=run_id, seller=",".join(keys)
                )
                if outcome is None:  # interrupted
                    return
            if hop == 0:
                result.seller_db_id = seller_of_run(db, marketplace, seller, run_id)
                frontier = {result.seller_db_id}
            else:
                frontier = {i for i, _m, _k in reachable}
            crawled |= frontier
            say("refreshing strikes, licences, linked accounts and levels")
            error = await asyncio.to_thread(refresh, db)
            result.refresh_error = result.refresh_error or error
            if hop == depth or not linked:
                break
            targets = await asyncio.to_thread(
                _next_hop, db, frontier, crawled, max_linked - (len(crawled) - 1)
            )
            if not targets:
                say(f"hop {hop + 1}: no further linked account")
                break
        result.subject_ids = sorted(crawled)

    try:
        result.outcomes = _run_spiders(settings, plan)
        result.status, result.reason = judge(result.outcomes, 1, 0.5, failure_causes(db, run_id))
    except BaseException as exc:
        result.status, result.reason = (
            ("interrupted", "interrupted")
            if isinstance(exc, KeyboardInterrupt)
            else ("failed", f"{type(exc).__name__}: {exc}")
        )
        raise
    finally:
        result.per_marketplace, result.totals = summarise(db, run_id, result.outcomes)
        merged: dict[str, Any] = {}
        for o in result.outcomes:
            merged.update({f"{o.spider}:{k}": v for k, v in o.stats.items()})
        with session_scope(db.sessions) as session:
            repo.finish_run(
                session,
                run_id,
                status=result.status,
                exit_reason=result.reason,
                stats=merged,
                pages=result.totals.get("pages", 0),
                listings=result.totals.get("listings", 0),
            )
        result.duration = time.monotonic() - started
    return result
