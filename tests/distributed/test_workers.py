"""Two workers share one crawl; one is killed with SIGKILL and the other finishes it.

Both against the machine's Redis (a unique key prefix) and a throw-away database on the
machine's PostgreSQL; the result must equal, set for set, what the single-process monitoring
pass stores (``reference``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from tests.distributed.conftest import (
    MACHINE_REDIS,
    Stored,
    Worker,
    assert_same,
    env_for,
    frontier,
    lease_failures,
    listing_count,
    run_status,
    seed,
    stored,
    wait_until,
    write_job,
)

pytestmark = [pytest.mark.distributed, pytest.mark.postgres]


def worker_stats(prefix: str) -> dict[str, dict]:
    client = redis.Redis.from_url(MACHINE_REDIS)
    try:
        raw: dict[bytes, bytes] = client.hgetall(f"{prefix}:stats:1")  # type: ignore[assignment]
        return {k.decode(): json.loads(v) for k, v in raw.items()}
    finally:
        client.close()


@pytest.mark.timeout(150)
def test_two_workers_store_every_listing_match_and_takedown_once(
        tmp_path: Path, demo_urls: dict[str, str], reference: Stored, redis_prefix: str,
        pg_url: str, workers: list[Worker]) -> None:
    env = env_for(MACHINE_REDIS, redis_prefix)
    seed(tmp_path, write_job(tmp_path, demo_urls), pg_url, env)
    workers += [Worker(tmp_path, f"w{i}", pg_url, env) for i in range(2)]
    codes = [w.wait(120) for w in workers]
    assert codes == [0, 0], [w.describe() for w in workers]
    assert_same(stored(pg_url), reference)
    assert frontier(MACHINE_REDIS, redis_prefix) == (0, 0)
    stats = worker_stats(redis_prefix)
    assert len(stats) == 2
    # Both took part in the crawl.
    assert all(r["stats"].get("reelguard/distributed/acked", 0) > 0 for r in stats.values())
    assert lease_failures(pg_url) == []
    assert run_status(pg_url) == [("finished", "finished")]


@pytest.mark.timeout(150)
def test_worker_killed_with_sigkill_loses_nothing_once_its_leases_expire(
        tmp_path: Path, demo_urls: dict[str, str], reference: Stored, redis_prefix: str,
        pg_url: str, workers: list[Worker]) -> None:
    env = env_for(MACHINE_REDIS, redis_prefix, REELGUARD_LEASE_SECONDS="3")
    seed(tmp_path, write_job(tmp_path, demo_urls), pg_url, env)
    doomed, survivor = Worker(tmp_path, "doomed", pg_url, env), Worker(tmp_path, "survivor",
                                                                        pg_url, env)
    workers += [doomed, survivor]
    # Mid-crawl: some listings stored, requests still leased.
    wait_until(lambda: listing_count(pg_url) >= 15, 60, "15 stored listings")
    assert frontier(MACHINE_REDIS, redis_prefix)[1] > 0
    doomed.kill()
    assert doomed.wait(10) == -9
    assert listing_count(pg_url) < reference.rows["listings"]
    assert survivor.wait(120) == 0, survivor.describe()
    assert_same(stored(pg_url), reference)
    assert frontier(MACHINE_REDIS, redis_prefix) == (0, 0)
    records = worker_stats(redis_prefix)
    assert len(records) == 1  # the doomed worker never closed
    record = next(iter(records.values()))
    # The doomed worker's in-flight requests came back when their leases expired.
    assert record["stats"].get("reelguard/distributed/reclaimed", 0) > 0, record["stats"]
    assert lease_failures(pg_url) == []
    assert run_status(pg_url) == [("finished", "finished")]
