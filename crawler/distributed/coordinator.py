"""``reelguard monitor run --distributed``: a monitoring pass as a distributed crawl run.

The pass is recorded as one crawl run, as a local pass is. Its search phase is seeded into the
shared frontier (``crawler.distributed.seed``); then either the command ends and prints how to
start workers (on any machine), or, with ``--workers N``, it starts N local workers and waits
for them. Either way the workers run the whole pass: with storefronts on, the worker that sees
the search complete seeds the storefront phase with the sellers the search found, once for all
workers, and every worker moves on to it (``crawler.distributed.phases``); the worker that
sees the last phase complete judges the run from every worker's stats of every phase
(``judge`` of ``crawler.monitor.runner``) and closes it. With ``--workers`` this command
judges it once more when they have exited, for its summary and exit code.

A worker that stopped early (killed, database or Redis unavailable) does not fail the run when
the others finished the work: the run counts it (``distributed/workers_stopped``) and is judged
on what was crawled.

Settings: those of ``crawler.distributed``; ``monitor.yaml``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import redis

from crawler.db import repo
from crawler.db.session import session_scope
from crawler.distributed.connection import RedisConfig, checked, connect, guarded
from crawler.distributed.phases import phase_record
from crawler.distributed.queue import CrawlKeys
from crawler.distributed.seed import CrawlSpec, distributed_settings, seed
from crawler.monitor.runner import CrawlOutcome, PassResult, judge, summarise
from crawler.storage import Database

CLOSING_LOCK_SECONDS = 120


def worker_outcomes(server: redis.Redis, keys: CrawlKeys, run_id: int) -> list[CrawlOutcome]:
    records = [json.loads(raw) for raw in server.hvals(keys.stats_of(run_id))]
    return [CrawlOutcome(r["spider"], r["reason"], r["stats"]) for r in records]


def finish_run_from_workers(db: Database, server: redis.Redis, keys: CrawlKeys,
                            spec: CrawlSpec, started: float | None = None) -> PassResult:
    """Judge the run from every worker's stats and close it (idempotent: the last wins).

    Closings are one at a time (a Redis lock that expires if its holder dies): each worker
    leaves its stats before it closes, so the last closing reads every worker's.
    """
    with server.lock(f"{keys.prefix}:closing:{spec.run_id}", timeout=CLOSING_LOCK_SECONDS):
        return _finish_run(db, server, keys, spec, started)


def _finish_run(db: Database, server: redis.Redis, keys: CrawlKeys, spec: CrawlSpec,
                started: float | None) -> PassResult:
    outcomes = worker_outcomes(server, keys, spec.run_id)
    done = [o for o in outcomes if o.reason == "finished"]
    # One record per worker and phase: count workers, not records.
    names = {o.stats.get("reelguard/distributed/worker", "?") for o in outcomes}
    stopped = {o.stats.get("reelguard/distributed/worker", "?") for o in outcomes
               if o.reason != "finished"}
    status, reason = judge(done, spec.min_pages, spec.max_blocked_ratio)
    per, totals = summarise(db, spec.run_id, done)
    merged: dict[str, Any] = {}
    for o in outcomes:
        worker = o.stats.get("reelguard/distributed/worker", "?")
        merged.update({f"{o.spider}@{worker}:{k}": v for k, v in o.stats.items()})
    merged.update({f"total/{k}": v for k, v in totals.items()})
    merged["distributed/workers"] = len(names)
    merged["distributed/workers_stopped"] = len(stopped)
    merged.update({f"distributed/phase/{k}": v
                   for k, v in phase_record(server, keys, spec.run_id).items()})
    with session_scope(db.sessions) as session:
        repo.finish_run(session, spec.run_id, status=status, exit_reason=reason, stats=merged)
    duration = time.time() - started if started else 0.0
    return PassResult(spec.run_id, status, reason, duration, db.url, done, per, totals)


def local_workers(count: int, database_url: str, config: RedisConfig, idle_timeout: float,
                  verbose: bool) -> list[int]:
    """Run ``count`` workers as child processes of this one; their exit codes."""
    env = {**os.environ, "REDIS_URL": config.url, "REELGUARD_REDIS_PREFIX": config.prefix,
           "REELGUARD_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "crawler.cli", "worker", "--idle-timeout", str(idle_timeout),
           *(["--verbose"] if verbose else [])]
    procs = [subprocess.Popen(cmd, env=env) for _ in range(count)]
    return [p.wait() for p in procs]


def run_distributed_pass(
    *, job: str, database: Database, marketplace_urls: dict[str, str], storefronts: bool,
    keyword_strategy: str, keyword_limit: int | None, min_pages: int,
    max_blocked_ratio: float, overrides: dict[str, Any], workers: int, idle_timeout: float,
    verbose: bool, report: Callable[[str], None],
) -> PassResult | None:
    """Seed the pass (and with ``workers`` run it here); ``None`` when only seeded."""
    from crawler.monitor.runner import project_settings

    started = time.time()
    config = RedisConfig.from_settings()
    server = checked(connect(config), config)
    keys = CrawlKeys(config.prefix)
    names = list(marketplace_urls)
    settings_for_workers = {"REELGUARD_MARKETPLACE_URLS": marketplace_urls, **overrides}
    with session_scope(database.sessions) as session:
        run_id = repo.start_run(
            session, job=job, marketplaces=names,
            args={"storefronts": storefronts, "strategy": keyword_strategy,
                  "limit": keyword_limit, "urls": marketplace_urls, "distributed": True})
    args = {"marketplace": ",".join(names), "strategy": keyword_strategy,
            **({"limit": str(keyword_limit)} if keyword_limit else {})}
    # With storefronts on, the workers seed the storefront phase themselves once the search
    # is complete (``crawler.distributed.phases``): the search is not the last phase.
    spec = CrawlSpec("search", args, run_id, job, settings_for_workers,
                     final=not storefronts, min_pages=min_pages,
                     max_blocked_ratio=max_blocked_ratio)
    settings = project_settings({**spec.settings, "REELGUARD_DATABASE_URL": database.url})
    distributed_settings(settings)
    queued = guarded(config, lambda: seed(spec, settings, server, keys, fresh=True))
    report(f"run {run_id}: {queued} search requests queued under "
           f"REELGUARD_REDIS_PREFIX={config.prefix}")
    if not workers:
        return None
    codes = local_workers(workers, database.url, config, idle_timeout, verbose)
    report(f"workers exited with {codes}")
    record = guarded(config, lambda: phase_record(server, keys, run_id))
    if "storefront/queued" in record:
        report(f"storefront phase: {record['storefront/queued']} requests queued")
    return guarded(config, lambda: finish_run_from_workers(database, server, keys, spec,
                                                           started))
