"""The Redis client of a distributed crawl: retried with backoff, never longer than a bound.

A Redis restart must not kill a worker, and a Redis that stays away must not hang it forever:
every command is retried with exponential backoff (redis-py's ``Retry``) until
``REELGUARD_REDIS_WAIT`` seconds (default 60) have passed since the first failure; then
:class:`crawler.exceptions.RedisUnavailable` (exit code 7). The wait blocks the worker's
reactor on purpose: without its frontier a worker can do nothing useful, and whatever it has
in flight is protected by leases.

Keys of one crawl live under ``REELGUARD_REDIS_PREFIX`` (default ``reelguard``), so that
several crawls (and parallel tests) share one Redis without colliding.

Settings: ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``), ``REELGUARD_REDIS_PREFIX``,
``REELGUARD_REDIS_WAIT``.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from crawler.exceptions import ConfigError, RedisUnavailable

T = TypeVar("T")
DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PREFIX = "reelguard"
DEFAULT_WAIT = 60.0
RETRYABLE = (RedisConnectionError, RedisTimeoutError, socket.timeout, ConnectionRefusedError)


class BoundedRetry(Retry):
    """redis-py's retry with exponential backoff, given up ``wait`` seconds after the first
    failure (redis-py counts attempts; an outage is measured in seconds)."""

    def __init__(self, wait: float) -> None:
        super().__init__(ExponentialBackoff(cap=1.0, base=0.05), retries=-1,
                         supported_errors=RETRYABLE)
        self.wait = wait

    def call_with_retry(self, do: Callable[[], T], fail: Callable[..., Any],
                        is_retryable: Callable[[Exception], bool] | None = None,
                        with_failure_count: bool = False) -> T:
        self._backoff.reset()
        failures = 0
        deadline: float | None = None
        while True:
            try:
                return do()
            except RETRYABLE as error:
                if is_retryable and not is_retryable(error):
                    raise
                failures += 1
                if with_failure_count:
                    fail(error, failures)
                else:
                    fail(error)
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + self.wait
                if now >= deadline:
                    raise
                time.sleep(min(self._backoff.compute(failures), max(0.0, deadline - now)))


@dataclass(frozen=True)
class RedisConfig:
    """Where the shared frontier is, parsed once from settings or the environment."""

    url: str
    prefix: str
    wait: float

    @classmethod
    def from_settings(cls, settings: Any = None) -> RedisConfig:
        def get(name: str, default: Any) -> Any:
            if name in os.environ:
                return os.environ[name]
            value = settings.get(name) if settings is not None else None
            return default if value in (None, "") else value

        url = str(get("REDIS_URL", DEFAULT_URL))
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"REDIS_URL {url!r}: expected redis://host:port/db")
        prefix = str(get("REELGUARD_REDIS_PREFIX", DEFAULT_PREFIX)).strip()
        if not prefix or any(c in prefix for c in "% \t\n"):
            raise ConfigError(f"REELGUARD_REDIS_PREFIX {prefix!r}: no spaces or '%'")
        try:
            wait = float(get("REELGUARD_REDIS_WAIT", DEFAULT_WAIT))
        except ValueError as exc:
            raise ConfigError(f"REELGUARD_REDIS_WAIT: {exc}") from None
        return cls(url=url, prefix=prefix, wait=max(0.0, wait))


def connect(config: RedisConfig) -> redis.Redis:
    """A client that rides out a Redis restart of up to ``config.wait`` seconds."""
    return redis.Redis.from_url(
        config.url,
        retry=BoundedRetry(config.wait),
        socket_connect_timeout=2,
        socket_timeout=10,
        health_check_interval=5,
    )


def checked(client: redis.Redis, config: RedisConfig) -> redis.Redis:
    """``client`` after a PING, or :class:`RedisUnavailable` when Redis is not there."""
    guarded(config, client.ping)
    return client


def guarded(config: RedisConfig, call: Callable[[], T]) -> T:
    """``call()``, with a failure after the bounded wait as one clear project error."""
    try:
        return call()
    except RETRYABLE as exc:
        raise RedisUnavailable(redacted(config.url), config.wait, str(exc)) from exc


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
