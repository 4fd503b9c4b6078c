"""``reelguard worker``: join the distributed crawl described in Redis and work until it is done.

The worker reads the crawl (``crawler.distributed.seed.CrawlSpec``), runs its spider with the
leased scheduler in this process, and ends the phase when the shared frontier and processing
set stay empty for the idle timeout. A run may have two phases (a monitoring pass with
storefronts: search, then the sellers' storefronts): the worker that sees a phase complete
that is not the last seeds the next one, once for all workers (``crawler.distributed.phases``),
and every worker moves on to it as another crawl in the same process. The worker that sees the
last phase of a run complete closes the run (every worker that closes later closes it again,
with the stats of more workers: the last one has them all).

Exit: 0 done; 4 the database stayed unavailable (``REELGUARD_DB_RETRY_TIMES``); 7 Redis stayed
unavailable (``REELGUARD_REDIS_WAIT``); 130 interrupted. In every case the requests the worker
held and had not stored are leased: given back at close, or re-queued when the leases expire.

Settings: ``REDIS_URL``, ``REELGUARD_REDIS_PREFIX``, ``REELGUARD_DATABASE_URL`` and those of
``crawler.distributed``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crawler.distributed.connection import RedisConfig, checked, connect, guarded, redacted
from crawler.distributed.phases import Step, advance, storefront_phase
from crawler.distributed.queue import CrawlKeys
from crawler.distributed.scheduler import REDIS_UNAVAILABLE
from crawler.distributed.seed import (
    CrawlSpec,
    current_spec,
    distributed_settings,
    worker_spider_class,
)
from crawler.distributed.tracking import lease_settings
from crawler.exceptions import CrawlFailed, RedisUnavailable, StorageError
from crawler.extensions.runlog import DATABASE_UNAVAILABLE

if TYPE_CHECKING:
    from scrapy.settings import Settings

    from crawler.monitor.runner import CrawlOutcome
    from crawler.storage import Database

logger = logging.getLogger(__name__)


@dataclass
class WorkerResult:
    """The crawls this worker ran, one per phase it took part in."""

    run_id: int
    crawls: list[CrawlOutcome]

    @property
    def spider(self) -> str:
        return ", ".join(c.spider for c in self.crawls)

    @property
    def reason(self) -> str:
        return self.crawls[-1].reason if self.crawls else "did not run"

    @property
    def stats(self) -> dict[str, Any]:
        return self.crawls[-1].stats if self.crawls else {}

    @property
    def listings(self) -> int:
        return sum(int(c.stats.get("item_scraped_count", 0) or 0) for c in self.crawls)

    @property
    def acked(self) -> int:
        return sum(int(c.stats.get("reelguard/distributed/acked", 0) or 0) for c in self.crawls)


def wait_for_spec(config: RedisConfig, wait: float) -> tuple[Any, CrawlKeys, CrawlSpec | None]:
    """(client, keys, the crawl) once a crawl is described under the prefix, or ``None``."""
    server = checked(connect(config), config)
    keys = CrawlKeys(config.prefix)
    deadline = time.monotonic() + wait
    while True:
        spec = guarded(config, lambda: current_spec(server, keys))
        if spec is not None or time.monotonic() >= deadline:
            return server, keys, spec
        time.sleep(0.5)


def run_worker(*, database_url: str | None, idle_timeout: float,
               overrides: dict[str, Any] | None = None) -> WorkerResult | None:
    """Work on the crawl under ``REELGUARD_REDIS_PREFIX`` until it is done; ``None`` when no
    crawl appeared within ``idle_timeout`` seconds."""
    from crawler.monitor.runner import _run_spiders, project_settings
    from crawler.storage import open_database

    config = RedisConfig.from_settings()
    server, keys, spec = wait_for_spec(config, idle_timeout)
    if spec is None:
        return None
    db = open_database(database_url)
    settings = project_settings({
        **spec.settings, **(overrides or {}),
        "REELGUARD_DATABASE_URL": db.url,
        "REELGUARD_IDLE_TIMEOUT": idle_timeout,
        "REDIS_URL": config.url, "REELGUARD_REDIS_PREFIX": config.prefix,
    })
    distributed_settings(settings)
    phases = Phases(db, server, keys, config, settings)
    outcomes = _run_spiders(settings, lambda run_crawl: phases.run(run_crawl, spec))
    result = WorkerResult(spec.run_id, outcomes)
    reason, stats = result.reason, result.stats
    if reason == DATABASE_UNAVAILABLE:
        raise StorageError(
            f"{stats.get('reelguard/store/unavailable', 'database unavailable')}; the "
            "worker's unfinished requests went back to the frontier (nothing is lost)")
    if reason == REDIS_UNAVAILABLE:
        raise RedisUnavailable(redacted(config.url), config.wait, str(
            stats.get("reelguard/distributed/redis_unavailable", "connection lost")))
    if reason in ("shutdown", "cancelled"):
        raise KeyboardInterrupt
    if reason != "finished":
        raise CrawlFailed(f"the worker stopped: {reason}")
    return result


class Phases:
    """The phases of one run as this worker's plan: each a crawl in the one reactor."""

    def __init__(self, db: Database, server: Any, keys: CrawlKeys, config: RedisConfig,
                 settings: Settings) -> None:
        self.db, self.server, self.keys, self.config = db, server, keys, config
        self.settings = settings
        self.guard_seconds = lease_settings(settings)[0]

    async def run(self, run_crawl: Any, first: CrawlSpec) -> None:
        """Crawl ``first`` and every phase after it, as long as each completes here."""
        spec: CrawlSpec | None = first
        while spec is not None:
            outcome = await run_crawl(worker_spider_class(spec.spider, spec.phase),
                                      run_id=str(spec.run_id), **spec.args)
            if (outcome is None or outcome.reason != "finished"
                    or not outcome.stats.get("reelguard/distributed/complete")):
                return
            closing = spec
            if not spec.final:
                # Blocking work (Redis, the database, the next spider's start()) off the loop.
                step = await asyncio.to_thread(self.advance, spec)
                spec = step.spec
                if not step.close:
                    continue
            await asyncio.to_thread(self.close, closing)
            return

    def advance(self, spec: CrawlSpec) -> Step:
        return guarded(self.config, lambda: advance(
            self.server, self.keys, spec, self.settings,
            lambda: storefront_phase(self.db, spec), guard_seconds=self.guard_seconds))

    def close(self, spec: CrawlSpec) -> None:
        """The run's last phase is complete: judge and close it (again, with more stats, if
        another worker did already: the last one has them all)."""
        from crawler.distributed.coordinator import finish_run_from_workers

        guarded(self.config, lambda: finish_run_from_workers(self.db, self.server, self.keys,
                                                             spec))
