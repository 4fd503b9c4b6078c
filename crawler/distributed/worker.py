"""``reelguard worker``: join the distributed crawl described in Redis and work until it is done.

The worker reads the crawl (``crawler.distributed.seed.CrawlSpec``), runs its spider with the
leased scheduler in this process, and ends when the shared frontier and processing set stay
empty for the idle timeout. The worker that sees the last phase of a run complete closes the
run (every worker that closes later closes it again, with the stats of more workers: the last
one has them all).

Exit: 0 done; 4 the database stayed unavailable (``REELGUARD_DB_RETRY_TIMES``); 7 Redis stayed
unavailable (``REELGUARD_REDIS_WAIT``); 130 interrupted. In every case the requests the worker
held and had not stored are leased: given back at close, or re-queued when the leases expire.

Settings: ``REDIS_URL``, ``REELGUARD_REDIS_PREFIX``, ``REELGUARD_DATABASE_URL`` and those of
``crawler.distributed``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from crawler.distributed.connection import RedisConfig, checked, connect, guarded, redacted
from crawler.distributed.queue import CrawlKeys
from crawler.distributed.scheduler import REDIS_UNAVAILABLE
from crawler.distributed.seed import (
    CrawlSpec,
    current_spec,
    distributed_settings,
    worker_spider_class,
)
from crawler.exceptions import CrawlFailed, RedisUnavailable, StorageError
from crawler.extensions.runlog import DATABASE_UNAVAILABLE

logger = logging.getLogger(__name__)


@dataclass
class WorkerResult:
    run_id: int
    spider: str
    reason: str
    stats: dict[str, Any]

    @property
    def listings(self) -> int:
        return int(self.stats.get("item_scraped_count", 0) or 0)


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
    from crawler.distributed.coordinator import finish_run_from_workers
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
        "REELGUARD_CRAWL_PHASE": spec.phase,
    })
    distributed_settings(settings)
    spidercls = worker_spider_class(spec.spider)

    async def plan(run_crawl: Any) -> None:
        await run_crawl(spidercls, run_id=str(spec.run_id), **spec.args)

    outcomes = _run_spiders(settings, plan)
    outcome = outcomes[0] if outcomes else None
    reason = outcome.reason if outcome else "did not run"
    stats = outcome.stats if outcome else {}
    if reason == "finished" and stats.get("reelguard/distributed/complete") and spec.final:
        guarded(config, lambda: finish_run_from_workers(db, server, keys, spec))
    result = WorkerResult(spec.run_id, spec.spider, reason, stats)
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
