"""scrapy-redis's scheduler on the leased queue, shared by every worker of a crawl.

The duplicate filter stays scrapy-redis's ``RFPDupeFilter`` (a request seen but in flight is in
the processing set, so it is never lost). The scheduler never flushes the shared keys when a
worker closes (``SCHEDULER_PERSIST`` is forced on): other workers are still using them. A
request that leaves this worker carrying the lease of the request it came from (a redirect, a
retry, a re-fetch after a block page) hands that lease over (``LeaseTracker.handover``): the
work is in the frontier again under a new lease.

A Redis that stays away longer than ``REELGUARD_REDIS_WAIT`` closes the spider with the reason
``redis_unavailable`` (the worker exits 7); nothing is acknowledged after that.

Settings: those of ``crawler.distributed.connection`` and ``crawler.distributed.tracking``.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler

from crawler.distributed.connection import RETRYABLE, RedisConfig, checked, connect, redacted
from crawler.distributed.queue import LEASE_META, CrawlKeys, LeasedPriorityQueue, LeaseStore
from crawler.distributed.tracking import LeaseTracker, lease_settings
from crawler.exceptions import RedisUnavailable

logger = logging.getLogger(__name__)
REDIS_UNAVAILABLE = "redis_unavailable"


class LeasedScheduler(Scheduler):
    """``scrapy_redis.scheduler.Scheduler`` whose queue leases (``LeasedPriorityQueue``)."""

    crawler: Any
    config: RedisConfig
    store: LeaseStore
    tracker: LeaseTracker
    queue: LeasedPriorityQueue

    @classmethod
    def from_crawler(cls, crawler: Any) -> LeasedScheduler:
        config = RedisConfig.from_settings(crawler.settings)
        server = checked(connect(config), config)
        keys = CrawlKeys(config.prefix, str(crawler.settings.get("REELGUARD_CRAWL_PHASE", "")))
        lease_seconds, max_deliveries = lease_settings(crawler.settings)
        instance = cls(
            server=server, persist=True, queue_key=keys.frontier,
            dupefilter=RFPDupeFilter(server, key=keys.dupefilter),
            dupefilter_key=keys.dupefilter,
        )
        instance.stats = crawler.stats
        instance.crawler = crawler
        instance.config = config
        instance.store = LeaseStore(server, keys, lease_seconds, max_deliveries)
        instance.tracker = LeaseTracker.of(crawler)
        instance.tracker.attach(instance.store, config)
        return instance

    def open(self, spider: Any) -> None:
        self.spider = spider
        self.queue = LeasedPriorityQueue(self.server, spider, self.store.keys.frontier,
                                         self.serializer, store=self.store)
        waiting = self._redis(lambda: len(self.queue), 0)
        logger.info("joined the shared frontier %r (%d requests waiting)",
                    self.store.keys.prefix, waiting)

    def close(self, reason: str) -> None:
        """Never flush: the frontier belongs to every worker of the crawl."""

    def enqueue_request(self, request: Request) -> bool:
        lease = request.meta.get(LEASE_META)
        fingerprint = None if request.dont_filter else self.df.request_fingerprint(request)
        added = self._redis(lambda: self.queue.push_unless_seen(request, fingerprint), None)
        if added is None:
            return False  # Redis is gone: the lease is not handed over, nothing is acked
        if not added:
            self.df.log(request, self.spider)
        elif self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        if lease:
            # Queued (or found to be a duplicate): the follow-up is in the frontier, the
            # request it replaces is done.
            self.tracker.handover(lease)
        return bool(added)

    def next_request(self) -> Request | None:
        if self.tracker.redis_lost or self.tracker.stopping:
            return None
        request: Request | None = self._redis(lambda: self.queue.pop(), None)
        if request is None:
            return None
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        self.tracker.leased(request)
        return request

    def has_pending_requests(self) -> bool:
        if self.tracker.redis_lost or self.tracker.stopping:
            return False
        return bool(self._redis(lambda: len(self.queue), 0))

    def _redis(self, call: Any, failed: Any) -> Any:
        """``call()``; after the bounded wait, stop the worker (exit 7) and return ``failed``."""
        if self.tracker.redis_lost:
            return failed
        try:
            return call()
        except RETRYABLE as exc:
            self.tracker.lose_redis(RedisUnavailable(redacted(self.config.url), self.config.wait,
                                                     str(exc)))
            return failed
