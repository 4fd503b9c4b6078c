"""What a distributed crawl is, and its start requests in the shared frontier.

A crawl is described once in Redis (``P:crawl``, JSON: :class:`CrawlSpec`): the spider and its
arguments, the crawl run it belongs to, the settings every worker applies (marketplace URLs,
allowed private hosts, browser mode, the job's ``settings:``). The database URL is *not* in
it (it may hold a password); each worker gets it from ``--db`` or
``REELGUARD_DATABASE_URL``. The seeder builds the spider exactly as a worker will, runs its
``start()`` and pushes the requests through the duplicate filter into the leased frontier:
workers then only ever pop, so seeding twice or a worker starting late changes nothing.

Settings: those of ``crawler.distributed.connection``; the spec's ``settings``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import redis
from scrapy.crawler import Crawler
from scrapy.settings import Settings
from scrapy_redis.dupefilter import RFPDupeFilter

from crawler.distributed.queue import CrawlKeys, LeasedPriorityQueue, LeaseStore
from crawler.exceptions import ConfigError

SCHEDULER = "crawler.distributed.scheduler.LeasedScheduler"
# The keys of one phase (``stats`` span the phases of a run).
PHASE_KEYS = ("frontier", "processing", "payloads", "scores", "deliveries", "dead", "seq",
              "dupefilter")


@dataclass
class CrawlSpec:
    """One phase of a distributed crawl run, as every worker reads it."""

    spider: str  # "search" | "storefront" | "listing"
    args: dict[str, str]
    run_id: int
    job: str
    settings: dict[str, Any] = field(default_factory=dict)
    final: bool = True  # the last phase: the worker that sees it complete closes the run
    min_pages: int = 1
    max_blocked_ratio: float = 0.5
    phase: str = ""  # set by ``seed``: the keys of this phase (``CrawlKeys``)

    def dumps(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def loads(cls, raw: bytes | str) -> CrawlSpec:
        return cls(**json.loads(raw))


def spider_class(name: str) -> Any:
    from spiders.listing import ListingSpider
    from spiders.search import SearchSpider
    from spiders.storefront import StorefrontSpider

    classes: dict[str, Any] = {"search": SearchSpider, "storefront": StorefrontSpider,
                                "listing": ListingSpider}
    if name not in classes:
        raise ConfigError(f"unknown spider {name!r} in the distributed crawl")
    return classes[name]


def worker_spider_class(name: str, phase: str = "") -> Any:
    """The spider as a worker runs it: same callbacks, no start requests of its own, and the
    crawl phase whose keys its scheduler uses (``REELGUARD_CRAWL_PHASE``, a setting of this
    crawl only: one worker process runs the phases of a run one after the other)."""
    base = spider_class(name)

    async def start(self: Any) -> Any:
        return
        yield  # an async generator that yields nothing: the frontier is the start

    custom = {**(base.custom_settings or {}), "REELGUARD_CRAWL_PHASE": phase}
    return type(f"Distributed{base.__name__}", (base,),
                {"start": start, "name": base.name, "custom_settings": custom})


def distributed_settings(settings: Settings) -> None:
    """Switch ``settings`` (a worker's, or the seeder's) to the shared frontier."""
    settings.set("SCHEDULER", SCHEDULER, priority="cmdline")
    middlewares = settings.getdict("SPIDER_MIDDLEWARES")
    middlewares["crawler.distributed.tracking.LeaseMiddleware"] = 1
    settings.set("SPIDER_MIDDLEWARES", middlewares, priority="cmdline")
    extensions = settings.getdict("EXTENSIONS")
    extensions["crawler.distributed.heartbeat.WorkerHeartbeat"] = 30
    settings.set("EXTENSIONS", extensions, priority="cmdline")


def current_spec(server: redis.Redis, keys: CrawlKeys) -> CrawlSpec | None:
    """The crawl phase ``P:crawl`` names, if any."""
    raw = server.get(keys.crawl)
    return CrawlSpec.loads(raw) if raw else None


def seed(spec: CrawlSpec, settings: Settings, server: redis.Redis, keys: CrawlKeys,
         *, fresh: bool, phase: str | None = None) -> int:
    """Describe ``spec`` in Redis and push its start requests; return how many were queued.

    ``fresh``: a new run (its workers' stats from an earlier run are dropped). Refused while
    another crawl under the same prefix still has work waiting or leased. ``phase``: the
    phase's name (default: a new one); seeding a named phase again is harmless: its requests
    go through the same duplicate filter, and one already described is left alone.
    """
    earlier = current_spec(server, keys)
    if earlier is not None and phase is not None and earlier.phase == phase:
        spec.phase = phase
        return 0
    if earlier is not None:
        old = CrawlKeys(keys.prefix, earlier.phase)
        waiting, leased = LeaseStore(server, old, 60, 3).counts()
        if waiting or leased:
            raise ConfigError(
                f"a crawl is still running under REELGUARD_REDIS_PREFIX={keys.prefix!r} "
                f"({waiting} requests waiting, {leased} in progress): wait for it, or use "
                "another prefix")
        server.delete(*[getattr(old, k) for k in PHASE_KEYS])
    if fresh:
        server.delete(keys.stats_of(spec.run_id), keys.phases_of(spec.run_id))
    spec.phase = phase or f"{spec.run_id}-{spec.spider}-{uuid.uuid4().hex[:8]}"
    keys = CrawlKeys(keys.prefix, spec.phase)
    store = LeaseStore(server, keys, 60, 3)
    crawler = Crawler(worker_spider_class(spec.spider), settings)
    spider = spider_class(spec.spider).from_crawler(crawler, run_id=str(spec.run_id),
                                                    **spec.args)
    requests = asyncio.run(_start_requests(spider))
    queue = LeasedPriorityQueue(server, spider, keys.frontier, None, store=store)
    seen = RFPDupeFilter(server, key=keys.dupefilter)
    queued = 0
    for request in requests:
        fingerprint = None if request.dont_filter else seen.request_fingerprint(request)
        queued += queue.push_unless_seen(request, fingerprint)
    # Last: a worker that finds the description finds the requests too.
    server.set(keys.crawl, spec.dumps())
    return queued


async def _start_requests(spider: Any) -> list[Any]:
    from scrapy import Request

    out: list[Any] = []
    async for obj in spider.start():
        if isinstance(obj, Request):
            out.append(obj)
    return out
