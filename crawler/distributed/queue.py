"""The leased frontier: scrapy-redis's priority queue, with nothing lost when a worker dies.

Stock scrapy-redis (0.9.1) pops a request by deleting it from the sorted set: a worker killed
with SIGKILL takes its in-flight requests with it, while the duplicate filter remembers them
as seen, so no one fetches them again. Here a pop is one Lua script that moves the best request
from the frontier into a *processing* set scored by its lease deadline (Redis's clock, so the
workers' clocks do not matter) and hands out its payload; the payload stays in a hash until
the request is acknowledged (``ack``), which happens only once everything the request
produced is stored (``crawler.distributed.tracking``).

``reclaim`` (every worker, at start and periodically) moves expired leases back to the
frontier; a request delivered ``REELGUARD_MAX_DELIVERIES`` times (default 3) without an ack is
set aside as *dead* and recorded as failed instead of killing workers forever. ``renew`` (the
heartbeat) keeps the leases of requests still in progress alive, so a lease can be short
(``REELGUARD_LEASE_SECONDS``, default 60) even when a download takes long: a dead worker's
requests come back one lease later. ``release`` gives a closing worker's leases back at once.

Redis keys (``P`` = ``REELGUARD_REDIS_PREFIX``, ``F`` = the crawl phase ``P:crawl`` names):
``P:F:frontier`` (zset id → -priority), ``P:F:processing`` (zset id → deadline, ms),
``P:F:payloads`` / ``P:F:scores`` / ``P:F:deliveries`` (hashes by id), ``P:F:dead`` (set),
``P:F:seq`` (id counter), ``P:F:dupefilter`` (scrapy-redis's), ``P:stats:RUN`` (workers),
``P:phases:RUN`` and ``P:advance:F`` (the step to the next phase).
Ids are zero-padded so that requests of equal priority come out first in, first out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis
from scrapy import Request
from scrapy_redis.queue import PriorityQueue

logger = logging.getLogger(__name__)

LEASE_META = "rg_lease"
DELIVERIES_META = "rg_deliveries"

_PUSH = """
if ARGV[3] ~= '' and redis.call('SADD', KEYS[5], ARGV[3]) == 0 then return false end
local id = string.format('%012d', redis.call('INCR', KEYS[1]))
redis.call('HSET', KEYS[2], id, ARGV[2])
redis.call('HSET', KEYS[3], id, ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[1], id)
return id
"""

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

_POP = _NOW + """
while true do
  local ids = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #ids == 0 then return false end
  local id = ids[1]
  redis.call('ZREM', KEYS[1], id)
  local payload = redis.call('HGET', KEYS[3], id)
  if payload then
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), id)
    local n = redis.call('HINCRBY', KEYS[4], id, 1)
    return {id, payload, n}
  end
end
"""

_ACK = """
redis.call('ZREM', KEYS[5], ARGV[1])
local n = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return n
"""

_RENEW = _NOW + """
local n = 0
for i = 2, #ARGV do
  n = n + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i])
end
return n
"""

_RELEASE = """
local n = 0
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], redis.call('HGET', KEYS[3], ARGV[i]) or 0, ARGV[i])
    redis.call('HINCRBY', KEYS[4], ARGV[i], -1)
    n = n + 1
  end
end
return n
"""

_RECLAIM = _NOW + """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
local requeued, dead = 0, 0
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local n = tonumber(redis.call('HGET', KEYS[4], id) or '0')
  if n >= tonumber(ARGV[1]) then
    redis.call('SADD', KEYS[5], id)
    dead = dead + 1
  else
    redis.call('ZADD', KEYS[2], redis.call('HGET', KEYS[3], id) or 0, id)
    requeued = requeued + 1
  end
end
return {requeued, dead}
"""


@dataclass(frozen=True)
class CrawlKeys:
    """The Redis keys of one crawl phase: ``P:crawl`` names the current phase, whose keys are
    ``P:<phase>:frontier`` and so on, so that a worker still idling on an earlier phase never
    takes a request of the next one (it may be another spider's)."""

    prefix: str
    phase: str = ""

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "crawl":
            return f"{self.prefix}:crawl"
        return f"{self.prefix}:{self.phase}:{name}" if self.phase else f"{self.prefix}:{name}"

    def stats_of(self, run_id: int) -> str:
        """Every worker's stats of run ``run_id``, over all its phases."""
        return f"{self.prefix}:stats:{run_id}"

    def phases_of(self, run_id: int) -> str:
        """How the later phases of run ``run_id`` were seeded (``crawler.distributed.phases``)."""
        return f"{self.prefix}:phases:{run_id}"

    def advance_of(self, phase: str) -> str:
        """The guard of the step from ``phase`` to the next (``crawler.distributed.phases``)."""
        return f"{self.prefix}:advance:{phase}"


@dataclass(frozen=True)
class Delivery:
    """A request handed out under lease ``lease``, for the ``deliveries``-th time."""

    lease: str
    payload: bytes
    deliveries: int


class LeaseStore:
    """The Lua scripts over one crawl's keys, without Scrapy (the seeder and tests use it)."""

    def __init__(self, server: redis.Redis, keys: CrawlKeys, lease_seconds: float,
                 max_deliveries: int) -> None:
        self.server = server
        self.keys = keys
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.max_deliveries = max(1, max_deliveries)
        self._push = server.register_script(_PUSH)
        self._pop = server.register_script(_POP)
        self._ack = server.register_script(_ACK)
        self._renew = server.register_script(_RENEW)
        self._release = server.register_script(_RELEASE)
        self._reclaim = server.register_script(_RECLAIM)

    def push(self, payload: bytes, priority: int, fingerprint: str | None = None) -> str | None:
        """Queue ``payload``; with a ``fingerprint``, only if the duplicate filter has not
        seen it (one script: a request is never marked seen without being queued)."""
        k = self.keys
        lease = self._push(keys=[k.seq, k.payloads, k.scores, k.frontier, k.dupefilter],
                           args=[-priority, payload, fingerprint or ""])
        if not lease:
            return None
        return lease.decode() if isinstance(lease, bytes) else str(lease)

    def pop(self) -> Delivery | None:
        k = self.keys
        got = self._pop(keys=[k.frontier, k.processing, k.payloads, k.deliveries],
                        args=[self.lease_ms])
        if not got:
            return None
        lease, payload, deliveries = got
        return Delivery(lease.decode(), payload, int(deliveries))

    def ack(self, lease: str) -> bool:
        k = self.keys
        return bool(self._ack(keys=[k.processing, k.payloads, k.scores, k.deliveries,
                                    k.frontier], args=[lease]))

    def renew(self, leases: list[str]) -> int:
        if not leases:
            return 0
        return int(self._renew(keys=[self.keys.processing], args=[self.lease_ms, *leases]))

    def release(self, leases: list[str]) -> int:
        if not leases:
            return 0
        k = self.keys
        return int(self._release(keys=[k.processing, k.frontier, k.scores, k.deliveries],
                                 args=leases))

    def reclaim(self) -> tuple[int, int]:
        """Expired leases back to the frontier: (re-queued, set aside as dead)."""
        k = self.keys
        requeued, dead = self._reclaim(
            keys=[k.processing, k.frontier, k.scores, k.deliveries, k.dead],
            args=[self.max_deliveries])
        return int(requeued), int(dead)

    def take_dead(self) -> tuple[str, bytes | None] | None:
        """Claim one dead request (atomically, for one worker to record): (id, payload)."""
        lease = self.server.spop(self.keys.dead)
        if lease is None:
            return None
        lease_id = lease.decode() if isinstance(lease, bytes) else str(lease)
        payload = self.server.hget(self.keys.payloads, lease_id)
        self.ack(lease_id)
        return lease_id, payload  # type: ignore[return-value]

    def counts(self) -> tuple[int, int]:
        """(requests waiting, requests leased)."""
        pipe = self.server.pipeline(transaction=False)
        pipe.zcard(self.keys.frontier)
        pipe.zcard(self.keys.processing)
        waiting, leased = pipe.execute()
        return int(waiting), int(leased)


class LeasedPriorityQueue(PriorityQueue):
    """scrapy-redis's ``PriorityQueue`` whose ``pop`` leases instead of deleting."""

    def __init__(self, server: redis.Redis, spider: Any, key: str, serializer: Any = None,
                 *, store: LeaseStore) -> None:
        super().__init__(server, spider, key, serializer)
        self.store = store

    def __len__(self) -> int:
        return int(self.server.zcard(self.store.keys.frontier))

    def push(self, request: Request) -> None:
        self.push_unless_seen(request, None)

    def push_unless_seen(self, request: Request, fingerprint: str | None) -> bool:
        """Queue ``request`` unless ``fingerprint`` is in the duplicate filter (then False)."""
        request = portable(request)
        return self.store.push(self._encode_request(request), request.priority,
                               fingerprint) is not None

    def pop(self, timeout: int = 0) -> Request | None:
        while True:
            got = self.store.pop()
            if got is None:
                return None
            try:
                request = self._decode_request(got.payload)
            except Exception:
                logger.exception("unreadable request %s in the frontier: dropped", got.lease)
                self.store.ack(got.lease)
                continue
            request.meta[LEASE_META] = got.lease
            request.meta[DELIVERIES_META] = got.deliveries
            return request

    def clear(self) -> None:
        k = self.store.keys
        self.server.delete(k.frontier, k.processing, k.payloads, k.scores, k.deliveries,
                           k.dead, k.seq)


def portable(request: Request) -> Request:
    """``request`` as it may travel to another worker: without this worker's lease id (it
    gets a new one when popped) and with the spider's own errback (see ``tracking``)."""
    meta = {k: v for k, v in request.meta.items() if k not in (LEASE_META, DELIVERIES_META)}
    errback = getattr(request.errback, "__wrapped__", request.errback)
    if errback is not request.errback or len(meta) != len(request.meta):
        request = request.replace(meta=meta, errback=errback)
    return request
