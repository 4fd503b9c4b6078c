"""The worker's periodic duties: keep its leases, re-queue the dead's, close when all is done.

Every third of a lease (at most every 5 s) the worker renews the leases of its requests still
in progress, re-queues every expired lease (any worker's: whoever notices first), and records
as failed the requests set aside after ``REELGUARD_MAX_DELIVERIES`` deliveries. Twice a second
it wakes the engine, which otherwise polls an empty scheduler only every 5 s: with a shared
frontier, the requests another worker pushes should start here at once.

A worker closes when the frontier and the processing set are both empty for
``REELGUARD_IDLE_TIMEOUT`` seconds (default 10): then no worker holds work that could produce
more. At close it gives back the leases it still holds (``release``) and leaves its stats in
Redis (``P:stats:RUN``, one record per worker and phase) for whoever judges the run
(``crawler.distributed.coordinator``).

Settings: ``REELGUARD_IDLE_TIMEOUT``, ``REELGUARD_LEASE_SECONDS``, ``REELGUARD_MAX_DELIVERIES``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.utils.request import request_from_dict
from scrapy_redis import picklecompat
from twisted.internet import task

from crawler import signals as rg_signals
from crawler.distributed.tracking import LeaseTracker, lease_settings, setting
from crawler.extensions.runlog import json_stats

logger = logging.getLogger(__name__)
STATS_TTL = 7 * 86_400  # the workers' stats outlive the run's judgement by a week


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class WorkerHeartbeat:
    def __init__(self, crawler: Any) -> None:
        if not crawler.settings.get("SCHEDULER", "").endswith("LeasedScheduler"):
            raise NotConfigured("not a distributed crawl")
        self.crawler = crawler
        self.tracker = LeaseTracker.of(crawler)
        lease, self.max_deliveries = lease_settings(crawler.settings)
        self.interval = min(5.0, lease / 3)
        self.idle_timeout = max(0.0, setting(crawler.settings, "REELGUARD_IDLE_TIMEOUT", 10.0))
        self.idle_since: float | None = None
        self.loops: list[Any] = []
        self.name = worker_name()
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.idle, signal=signals.spider_idle)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> WorkerHeartbeat:
        return cls(crawler)

    def opened(self, spider: Any) -> None:
        self.spider = spider
        self.beat()  # the leases of workers that died before this one started
        for call, every in ((self.beat, self.interval), (self.wake, 0.5)):
            loop = task.LoopingCall(call)
            loop.start(every, now=False).addErrback(
                lambda f: logger.error("worker heartbeat failed: %s", f.getTraceback()))
            self.loops.append(loop)

    def wake(self) -> None:
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None and not self.tracker.stopping:
            slot.nextcall.schedule()

    def beat(self) -> None:
        store, guard = self.tracker.store, self.tracker.guard
        if store is None:
            return
        stats = self.crawler.stats
        renewed = guard(lambda: store.renew(self.tracker.held()), 0)
        stats.inc_value("reelguard/distributed/renewed", renewed)
        requeued, dead = guard(store.reclaim, (0, 0))
        if requeued or dead:
            logger.info("re-queued %d expired lease(s); %d request(s) given up", requeued, dead)
            stats.inc_value("reelguard/distributed/reclaimed", requeued)
        while (taken := guard(store.take_dead, None)) is not None:
            self._record_dead(*taken)

    def _record_dead(self, lease: str, payload: bytes | None) -> None:
        url, marketplace = f"(request {lease})", None
        if payload:
            try:
                request = request_from_dict(picklecompat.loads(payload), spider=self.spider)
                url, marketplace = request.url, request.meta.get("marketplace")
            except Exception:
                logger.exception("cannot read the given-up request %s", lease)
        self.crawler.stats.inc_value("reelguard/distributed/given_up")
        self.crawler.signals.send_catch_log(
            rg_signals.crawl_event, kind="error", url=url, marketplace=marketplace,
            reason=(f"given up after {self.max_deliveries} deliveries: each worker that took "
                    "it stopped before storing its result (REELGUARD_MAX_DELIVERIES)"))

    def idle(self, spider: Any) -> None:
        if self.tracker.redis_lost is not None or self.tracker.stopping:
            return
        store = self.tracker.store
        waiting, leased = self.tracker.guard(store.counts, (1, 1)) if store else (0, 0)
        if self.tracker.redis_lost is not None:
            return
        now = time.monotonic()
        # Leases kept back after a failed item are not work in progress here: they are in
        # the processing set until they expire, then in the frontier (or given up).
        if waiting or leased or self.tracker.held():
            self.idle_since = None
            raise DontCloseSpider
        self.idle_since = self.idle_since or now
        if now - self.idle_since < self.idle_timeout:
            raise DontCloseSpider
        self.crawler.stats.set_value("reelguard/distributed/complete", True)

    def closed(self, spider: Any, reason: str) -> None:
        self.tracker.stopping = True
        for loop in self.loops:
            if loop.running:
                loop.stop()
        store = self.tracker.store
        if store is None or self.tracker.redis_lost is not None:
            return
        held = list(self.tracker.leases)
        released = self.tracker.guard(lambda: store.release(held), 0)
        if released:
            logger.info("gave back %d unfinished request(s) to the frontier", released)
        stats = self.crawler.stats
        stats.set_value("reelguard/distributed/released", released)
        stats.set_value("reelguard/distributed/worker", self.name)
        record = {"spider": spider.name, "reason": reason,
                  "stats": json_stats(stats.get_stats())}
        key = store.keys.stats_of(int(getattr(spider, "run_id", 0) or 0))

        def save() -> None:
            pipe = store.server.pipeline()
            # One record per worker and phase: a worker runs every phase of a pass.
            pipe.hset(key, f"{spider.name}@{self.name}", json.dumps(record))
            pipe.expire(key, STATS_TTL)
            pipe.execute()

        self.tracker.guard(save)
