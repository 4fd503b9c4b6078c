"""Acknowledge a leased request only once everything it produced is stored.

Each request popped from the shared frontier carries its lease id (``meta["rg_lease"]``). Its
callback output passes through :class:`LeaseMiddleware` (a spider middleware closest to the
engine, so it sees only what survives the other middlewares), its errback through
:class:`LeaseErrback`: both count the items the request yields and note when its output is
exhausted. The item pipelines report each item's end through Scrapy's signals
(``item_scraped`` once every pipeline, the store's commit included, is done; ``item_dropped``;
``item_error``). The lease is acknowledged when the output is exhausted (or the request was
replaced by a follow-up in the frontier: a redirect, a retry) and no item is outstanding.

What is never acknowledged, so that another worker does it again after the lease expires or
the closing worker releases it: a request with an item whose pipeline raised
(``item_error``), and everything once the store pipeline has given up on the database or Redis
is gone. A callback that raised is acknowledged with the error recorded as a crawl event: a
deterministic bug must not be re-queued forever (the redelivery cap covers requests that kill
their worker).

Settings: ``REELGUARD_LEASE_SECONDS`` (default 60; the heartbeat renews leases of requests in
progress every third of it), ``REELGUARD_MAX_DELIVERIES`` (default 3).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy import Request

from crawler import signals as rg_signals
from crawler.distributed.connection import RETRYABLE
from crawler.distributed.queue import LEASE_META
from crawler.exceptions import ConfigError

if TYPE_CHECKING:
    from crawler.distributed.connection import RedisConfig
    from crawler.distributed.queue import LeaseStore

logger = logging.getLogger(__name__)
STORE_GAVE_UP = "reelguard/store/unavailable"


def setting(settings: Any, name: str, default: float) -> float:
    """A numeric setting; the environment variable of the same name wins (as for every
    ``REELGUARD_*`` setting, ``crawler.config``)."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return float(settings.getfloat(name, default))
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a number") from None


def lease_settings(settings: Any) -> tuple[float, int]:
    """(lease seconds, maximum deliveries) from the settings."""
    return (max(1.0, setting(settings, "REELGUARD_LEASE_SECONDS", 60.0)),
            max(1, int(setting(settings, "REELGUARD_MAX_DELIVERIES", 3))))


@dataclass
class _Lease:
    url: str
    marketplace: str | None
    running: int = 0  # callback/errback outputs being consumed
    outstanding: int = 0  # items in the pipelines
    finished: bool = False  # an output was exhausted, or the request was handed over
    keep: bool = False  # an item failed: never ack, let the lease come back


class LeaseTracker:
    """Per crawler: the leases this worker holds and what each still waits for."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.store: LeaseStore | None = None
        self.config: RedisConfig | None = None
        self.leases: dict[str, _Lease] = {}
        self.items: dict[int, tuple[str, Any]] = {}
        self.redis_lost: BaseException | None = None
        self.stopping = False
        self.acked = 0
        signals = crawler.signals
        from scrapy import signals as s

        signals.connect(self.item_scraped, signal=s.item_scraped)
        signals.connect(self.item_dropped, signal=s.item_dropped)
        signals.connect(self.item_error, signal=s.item_error)

    @classmethod
    def of(cls, crawler: Any) -> LeaseTracker:
        tracker = crawler.__dict__.get("_rg_lease_tracker")
        if tracker is None:
            tracker = crawler.__dict__["_rg_lease_tracker"] = cls(crawler)
        return tracker  # type: ignore[no-any-return]

    def attach(self, store: LeaseStore, config: RedisConfig) -> None:
        self.store, self.config = store, config

    # -- Redis -------------------------------------------------------------------------------
    def guard(self, call: Any, failed: Any = None) -> Any:
        """``call()``; a Redis gone past the bounded wait stops the worker (exit 7)."""
        if self.redis_lost is not None:
            return failed
        try:
            return call()
        except RETRYABLE as exc:
            from crawler.distributed.connection import redacted
            from crawler.exceptions import RedisUnavailable

            assert self.config is not None
            self.lose_redis(RedisUnavailable(redacted(self.config.url), self.config.wait, str(exc)))
            return failed

    def lose_redis(self, exc: BaseException) -> None:
        if self.redis_lost is not None:
            return
        self.redis_lost = exc
        self.crawler.stats.set_value("reelguard/distributed/redis_unavailable", str(exc))
        logger.error("stopping the worker: %s", exc)
        engine = self.crawler.engine
        if engine is not None:
            from crawler.distributed.scheduler import REDIS_UNAVAILABLE

            asyncio.ensure_future(engine.close_spider_async(reason=REDIS_UNAVAILABLE))

    # -- the life of a lease -----------------------------------------------------------------
    def leased(self, request: Request) -> None:
        lease = request.meta[LEASE_META]
        self.leases[lease] = _Lease(request.url, request.meta.get("marketplace"))
        errback = request.errback
        if not isinstance(errback, LeaseErrback):
            request.errback = LeaseErrback(self, lease, errback)  # type: ignore[assignment]

    def handover(self, lease: str) -> None:
        state = self.leases.get(lease)
        if state is not None:
            state.finished = True
            self._maybe_ack(lease, state)

    def begin(self, lease: str) -> None:
        state = self.leases.get(lease)
        if state is not None:
            state.running += 1

    def item(self, lease: str, item: Any) -> None:
        state = self.leases.get(lease)
        # An errback's output is seen twice when the spider middlewares called it (an HTTP
        # error status): by LeaseErrback and by LeaseMiddleware. Count each item once.
        if state is not None and id(item) not in self.items:
            state.outstanding += 1
            self.items[id(item)] = (lease, item)

    def end(self, lease: str, error: BaseException | None) -> None:
        state = self.leases.get(lease)
        if state is None:
            return
        state.running -= 1
        if isinstance(error, (GeneratorExit, asyncio.CancelledError)):
            state.keep = True  # the output was abandoned half-way (the worker is closing)
            return
        state.finished = True
        if error is not None:
            self.crawler.stats.inc_value("reelguard/distributed/callback_errors")
            self.crawler.signals.send_catch_log(
                rg_signals.crawl_event, kind="error", url=state.url,
                reason=f"callback failed: {type(error).__name__}: {error}"[:500],
                marketplace=state.marketplace)
        self._maybe_ack(lease, state)

    def _item_done(self, item: Any, keep: bool) -> None:
        found = self.items.pop(id(item), None)
        if found is None:
            return
        lease = found[0]
        state = self.leases.get(lease)
        if state is None:
            return
        state.outstanding -= 1
        state.keep = state.keep or keep
        self._maybe_ack(lease, state)

    def item_scraped(self, item: Any, **_: Any) -> None:
        self._item_done(item, keep=False)

    def item_dropped(self, item: Any, **_: Any) -> None:
        # Dropped because the database was given up on is not done: keep the lease.
        self._item_done(item, keep=bool(self.crawler.stats.get_value(STORE_GAVE_UP)))

    def item_error(self, item: Any, **_: Any) -> None:
        self._item_done(item, keep=True)

    def _maybe_ack(self, lease: str, state: _Lease) -> None:
        if not state.finished or state.running > 0 or state.outstanding > 0:
            return
        if state.keep or self.frozen():
            return  # stays leased: released at close, or re-queued when it expires
        del self.leases[lease]
        store = self.store
        assert store is not None
        if self.guard(lambda: store.ack(lease), None) is not None:
            self.acked += 1
            self.crawler.stats.inc_value("reelguard/distributed/acked")

    def frozen(self) -> bool:
        """Nothing is acknowledged once the database or Redis has been given up on, or once
        the worker is closing: a download cancelled by the close reaches its errback as a
        failure, but the request is not done (a worker closes idle, with nothing in flight,
        only when the crawl is complete)."""
        slot = getattr(self.crawler.engine, "_slot", None)
        return (self.redis_lost is not None or bool(self.crawler.stats.get_value(STORE_GAVE_UP))
                or bool(getattr(slot, "closing", None)))

    def held(self) -> list[str]:
        """Leases to keep alive: those still in progress (not those waiting to come back)."""
        return [k for k, v in self.leases.items() if not v.keep]


class LeaseErrback:
    """The request's own errback, counted like a callback; ``__wrapped__`` is what travels
    (``crawler.distributed.queue.portable``)."""

    def __init__(self, tracker: LeaseTracker, lease: str, errback: Any) -> None:
        self.tracker = tracker
        self.lease = lease
        self.__wrapped__ = errback

    def __call__(self, failure: Any) -> Any:
        tracker, lease = self.tracker, self.lease
        tracker.begin(lease)
        if self.__wrapped__ is None:
            tracker.end(lease, None)
            failure.raiseException()
        try:
            out = self.__wrapped__(failure)
        except BaseException as exc:
            tracker.end(lease, None if exc is failure.value else exc)
            raise
        if hasattr(out, "__aiter__"):
            return _track_async(tracker, lease, out)
        if isinstance(out, Iterable) and not isinstance(out, (str, bytes, dict)):
            return _track_sync(tracker, lease, out)
        if out is not None and not isinstance(out, Request):
            tracker.item(lease, out)
        tracker.end(lease, None)
        return out


def _track_sync(tracker: LeaseTracker, lease: str, out: Iterable[Any]) -> Any:
    error: BaseException | None = None
    try:
        for obj in out:
            if obj is not None and not isinstance(obj, Request):
                tracker.item(lease, obj)
            yield obj
    except BaseException as exc:
        error = exc
        raise
    finally:
        tracker.end(lease, error)


async def _track_async(tracker: LeaseTracker, lease: str, out: AsyncIterator[Any]) -> Any:
    error: BaseException | None = None
    try:
        async for obj in out:
            if obj is not None and not isinstance(obj, Request):
                tracker.item(lease, obj)
            yield obj
    except BaseException as exc:
        error = exc
        raise
    finally:
        tracker.end(lease, error)


class LeaseMiddleware:
    """Spider middleware (order 1: closest to the engine): counts a callback's output."""

    def __init__(self, crawler: Any) -> None:
        self.tracker = LeaseTracker.of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Any) -> LeaseMiddleware:
        return cls(crawler)

    async def process_spider_output(self, response: Any, result: Any) -> AsyncIterator[Any]:
        lease = response.meta.get(LEASE_META) if getattr(response, "request", None) else None
        if not lease:
            async for obj in result:
                yield obj
            return
        self.tracker.begin(lease)
        async for obj in _track_async(self.tracker, lease, result):
            yield obj
