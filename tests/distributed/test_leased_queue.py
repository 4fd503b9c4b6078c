"""The leased queue's Lua scripts against the machine's Redis (a unique key prefix).

Stock scrapy-redis deletes a request when it pops it; the leased queue keeps it until it is
acknowledged, brings it back when its lease expires, and gives up on it after
``max_deliveries`` deliveries.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from scrapy import Request, Spider
from scrapy_redis.queue import PriorityQueue

from crawler.distributed.queue import CrawlKeys, LeasedPriorityQueue, LeaseStore
from tests.distributed.conftest import MACHINE_REDIS

pytestmark = pytest.mark.distributed


@pytest.fixture
def client(redis_prefix: str) -> Iterator[redis.Redis]:
    server = redis.Redis.from_url(MACHINE_REDIS)
    yield server
    server.close()


def store_of(client: redis.Redis, prefix: str, lease: float = 30.0) -> LeaseStore:
    return LeaseStore(client, CrawlKeys(prefix, "p1"), lease, max_deliveries=3)


def test_stock_scrapy_redis_pop_deletes_the_request_ours_leases_it(
        client: redis.Redis, redis_prefix: str) -> None:
    spider = Spider(name="s")
    stock = PriorityQueue(client, spider, f"{redis_prefix}:stock")
    stock.push(Request("http://127.0.0.1/a"))
    assert stock.pop() is not None
    assert client.zcard(f"{redis_prefix}:stock") == 0  # a SIGKILL now loses it

    store = store_of(client, redis_prefix)
    ours = LeasedPriorityQueue(client, spider, store.keys.frontier, store=store)
    ours.push(Request("http://127.0.0.1/a"))
    request = ours.pop()
    assert request is not None and request.meta["rg_lease"]
    assert store.counts() == (0, 1)  # leased, not gone
    assert store.ack(request.meta["rg_lease"])
    assert store.counts() == (0, 0)
    assert client.hlen(store.keys.payloads) == 0


def test_priority_then_first_in_first_out(client: redis.Redis, redis_prefix: str) -> None:
    store = store_of(client, redis_prefix)
    for payload, priority in ((b"low", 0), (b"high-1", 10), (b"high-2", 10), (b"mid", 5)):
        store.push(payload, priority)
    popped = [d.payload for d in iter(store.pop, None)]
    assert popped == [b"high-1", b"high-2", b"mid", b"low"]


def test_duplicate_filter_and_push_are_one_step(client: redis.Redis, redis_prefix: str) -> None:
    store = store_of(client, redis_prefix)
    assert store.push(b"a", 0, "fp-a") is not None
    assert store.push(b"a again", 0, "fp-a") is None
    assert store.push(b"unfiltered", 0, None) is not None
    assert store.counts() == (2, 0)


def test_expired_lease_comes_back_then_is_given_up_after_three_deliveries(
        client: redis.Redis, redis_prefix: str) -> None:
    store = store_of(client, redis_prefix, lease=0.5)
    store.push(b"poison", 0)
    for delivery in (1, 2, 3):
        got = store.pop()
        assert got is not None and got.deliveries == delivery
        assert store.reclaim() == (0, 0)  # not expired yet
        time.sleep(0.6)
        requeued, dead = store.reclaim()
        assert (requeued, dead) == ((1, 0) if delivery < 3 else (0, 1))
    assert store.pop() is None
    _, payload = store.take_dead()  # type: ignore[misc]
    assert payload == b"poison"
    assert store.take_dead() is None
    assert store.counts() == (0, 0) and client.hlen(store.keys.payloads) == 0


def test_renewed_lease_survives_and_released_lease_returns_at_once(
        client: redis.Redis, redis_prefix: str) -> None:
    store = store_of(client, redis_prefix, lease=1.0)
    store.push(b"long download", 0)
    got = store.pop()
    assert got is not None
    for _ in range(3):  # 1.2 s in all: longer than the lease, renewed in time
        time.sleep(0.4)
        assert store.renew([got.lease]) == 1
        assert store.reclaim() == (0, 0)
    assert store.release([got.lease]) == 1
    again = store.pop()
    assert again is not None and again.lease == got.lease
    assert again.deliveries == 1  # a release is not a failed delivery
