"""From one phase of a distributed run to the next: search, then the storefronts it found.

A monitoring pass with storefronts on is two phases: the search, then the shops of the sellers
the search found (``sellers_seen``), which are known only once the search is complete. Each
worker runs the phases one after the other in its one process (Twisted's reactor runs once).
The worker that sees a phase that is not the last complete takes the phase's *advance guard*
(``SET NX`` on ``P:advance:<phase>``, expiring after ``REELGUARD_LEASE_SECONDS``, at least
:data:`MIN_GUARD_SECONDS`) and seeds the next phase; every other worker waits until ``P:crawl``
names the next phase and joins it. So two workers finishing together seed it once.

A worker killed between taking the guard and finishing the seed leaves a guard that expires:
the next worker to look takes it and seeds again. Seeding twice changes nothing: the next
phase's name is derived from this one's (not random), so a second seed pushes through the same
duplicate filter, and its description (``P:crawl``) is written last, so a half-done seed is
never joined. A search that found no seller ends the run: the guard says so (``none``) and
every worker that sees it closes the run, as after the last phase.

Seeds are counted in ``P:phases:RUN`` (``<spider>/seeded``, ``<spider>/queued``,
``<spider>/by``), which the run's stats repeat (``distributed/phase/...``).

Settings: ``REELGUARD_LEASE_SECONDS``; those of ``crawler.distributed.seed``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from scrapy.settings import Settings

from crawler.distributed.heartbeat import STATS_TTL, worker_name
from crawler.distributed.queue import CrawlKeys
from crawler.distributed.seed import CrawlSpec, current_spec, seed
from crawler.storage import Database

logger = logging.getLogger(__name__)
MIN_GUARD_SECONDS = 10.0
NO_NEXT_PHASE = b"none"


@dataclass(frozen=True)
class Step:
    """What a worker does after a phase completed."""

    spec: CrawlSpec | None  # the phase to work on next
    close: bool  # no further phase: close the run


def next_phase_name(spec: CrawlSpec, spider: str) -> str:
    """The phase after ``spec`` for ``spider``: the same for every worker that seeds it."""
    token = spec.phase.rsplit("-", 1)[-1]
    return f"{spec.run_id}-{spider}-{token}"


def storefront_phase(db: Database, spec: CrawlSpec) -> CrawlSpec | None:
    """The storefront phase of the sellers run ``spec.run_id`` found; ``None``: none found."""
    from crawler.monitor.runner import sellers_seen

    found = sellers_seen(db, spec.run_id)
    targets = [f"{m}:{s}" for m, sellers in found.items() for s in sellers]
    if not targets:
        return None
    return CrawlSpec(
        "storefront", {"marketplace": ",".join(sorted(found)), "seller": ",".join(targets)},
        spec.run_id, spec.job, spec.settings, final=True, min_pages=spec.min_pages,
        max_blocked_ratio=spec.max_blocked_ratio)


def phase_record(server: redis.Redis, keys: CrawlKeys, run_id: int) -> dict[str, str]:
    """``P:phases:RUN`` as text: how often each later phase was seeded, by whom, how big."""
    raw: dict[Any, Any] = server.hgetall(keys.phases_of(run_id))  # type: ignore[assignment]
    return {_text(k): _text(v) for k, v in raw.items()}


def advance(server: redis.Redis, keys: CrawlKeys, spec: CrawlSpec, settings: Settings,
            next_phase: Callable[[], CrawlSpec | None], *, guard_seconds: float,
            poll: float = 0.5) -> Step:
    """After ``spec`` (not the last phase) completed here: seed the next phase or wait for it.

    Blocking (Redis, the database, the spider's ``start()`` run with ``asyncio.run``): a
    worker calls it in a thread, outside its reactor's loop.
    """
    guard = keys.advance_of(spec.phase)
    ttl_ms = int(max(guard_seconds, MIN_GUARD_SECONDS) * 1000)
    while True:
        current = current_spec(server, keys)
        if current is None or current.run_id != spec.run_id:
            logger.warning("run %d was replaced under REELGUARD_REDIS_PREFIX=%s before its "
                           "next phase was seeded: leaving it", spec.run_id, keys.prefix)
            return Step(None, close=False)
        if current.phase != spec.phase:
            return Step(current, close=False)
        state = server.get(guard)
        if state == NO_NEXT_PHASE:
            return Step(None, close=True)
        if state is None and server.set(guard, f"seeding by {worker_name()}", nx=True,
                                        px=ttl_ms):
            return _seed_next(server, keys, spec, settings, next_phase, guard)
        time.sleep(poll)


def _seed_next(server: redis.Redis, keys: CrawlKeys, spec: CrawlSpec, settings: Settings,
               next_phase: Callable[[], CrawlSpec | None], guard: str) -> Step:
    nxt = next_phase()
    if nxt is None:
        logger.info("run %d: phase %s found nothing for a next phase", spec.run_id, spec.phase)
        server.set(guard, NO_NEXT_PHASE, ex=STATS_TTL)
        return Step(None, close=True)
    name = next_phase_name(spec, nxt.spider)
    current = current_spec(server, keys)
    if current is not None and current.phase == name:
        return Step(current, close=False)  # a seeder slower than its guard finished first
    queued = seed(nxt, settings, server, keys, fresh=False, phase=name)
    record = keys.phases_of(spec.run_id)
    pipe = server.pipeline()
    pipe.hincrby(record, f"{nxt.spider}/seeded", 1)
    pipe.hincrby(record, f"{nxt.spider}/queued", queued)
    pipe.hset(record, f"{nxt.spider}/by", worker_name())
    pipe.expire(record, STATS_TTL)
    pipe.set(guard, f"seeded {nxt.phase}", ex=STATS_TTL)
    pipe.execute()
    logger.info("run %d: seeded the %s phase (%d requests)", spec.run_id, nxt.spider, queued)
    return Step(nxt, close=False)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
