"""Redis restarted or gone, PostgreSQL stopped: the workers wait within a bound and carry on,
or exit with a distinct code having lost nothing.

The servers broken here are the test's own (``PrivateRedis``, ``PrivatePostgres``): the
machine's Redis and PostgreSQL are never restarted.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.distributed.conftest import (
    MACHINE_REDIS,
    PrivatePostgres,
    PrivateRedis,
    Stored,
    Worker,
    assert_same,
    env_for,
    frontier,
    listing_count,
    seed,
    stored,
    wait_until,
    write_job,
)

pytestmark = [pytest.mark.distributed, pytest.mark.postgres]


def one_error_line(worker: Worker, *needles: str) -> str:
    errors = [line for line in worker.out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in worker.out, worker.describe()
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.mark.timeout(150)
def test_redis_restarted_mid_crawl_workers_wait_and_carry_on(
        tmp_path: Path, demo_urls: dict[str, str], reference: Stored, pg_url: str,
        private_redis: PrivateRedis, workers: list[Worker]) -> None:
    env = env_for(private_redis.url, "rgtest", REELGUARD_REDIS_WAIT="30",
                  REELGUARD_LEASE_SECONDS="5")
    seed(tmp_path, write_job(tmp_path, demo_urls), pg_url, env)
    workers += [Worker(tmp_path, f"w{i}", pg_url, env) for i in range(2)]
    wait_until(lambda: listing_count(pg_url) >= 15, 60, "15 stored listings")
    private_redis.kill()
    down_at = listing_count(pg_url)
    time.sleep(3)
    private_redis.start()  # same port, same append-only file
    codes = [w.wait(120) for w in workers]
    assert codes == [0, 0], [w.describe() for w in workers]
    assert down_at < reference.rows["listings"]
    assert_same(stored(pg_url), reference)
    assert frontier(private_redis.url, "rgtest") == (0, 0)


@pytest.mark.timeout(150)
def test_redis_gone_longer_than_the_wait_exits_7_and_loses_nothing(
        tmp_path: Path, demo_urls: dict[str, str], reference: Stored, pg_url: str,
        private_redis: PrivateRedis, workers: list[Worker]) -> None:
    env = env_for(private_redis.url, "rgtest", REELGUARD_REDIS_WAIT="3",
                  REELGUARD_LEASE_SECONDS="3")
    seed(tmp_path, write_job(tmp_path, demo_urls), pg_url, env)
    first = Worker(tmp_path, "first", pg_url, env)
    workers.append(first)
    wait_until(lambda: listing_count(pg_url) >= 15, 60, "15 stored listings")
    private_redis.kill()
    gone = time.monotonic()
    assert first.wait(60) == 7, first.describe()
    assert time.monotonic() - gone < 45  # the 3 s wait, then the close
    one_error_line(first, "unreachable", "REELGUARD_REDIS_WAIT")
    assert listing_count(pg_url) < reference.rows["listings"]
    private_redis.start()
    second = Worker(tmp_path, "second", pg_url, env)
    workers.append(second)
    assert second.wait(120) == 0, second.describe()
    assert_same(stored(pg_url), reference)
    assert frontier(private_redis.url, "rgtest") == (0, 0)


@pytest.mark.timeout(180)
def test_postgres_stopped_worker_exits_4_and_the_next_stores_everything(
        tmp_path: Path, demo_urls: dict[str, str], reference: Stored, redis_prefix: str,
        private_postgres: PrivatePostgres, workers: list[Worker]) -> None:
    db = private_postgres.url
    env = env_for(MACHINE_REDIS, redis_prefix)
    # Give the database up quickly (a setting of the job, so every worker applies it).
    seed(tmp_path, write_job(tmp_path, demo_urls, REELGUARD_DB_RETRY_TIMES=1), db, env)
    first = Worker(tmp_path, "first", db, env)
    workers.append(first)
    wait_until(lambda: listing_count(db) >= 15, 60, "15 stored listings")
    private_postgres.stop()
    assert first.wait(90) == 4, first.describe()
    one_error_line(first, "database unavailable", "nothing is lost")
    # The closing worker gave its unfinished requests back at once.
    waiting, leased = frontier(MACHINE_REDIS, redis_prefix)
    assert waiting > 0 and leased == 0, (waiting, leased)
    private_postgres.start()
    assert listing_count(db) < reference.rows["listings"]
    second = Worker(tmp_path, "second", db, env)
    workers.append(second)
    assert second.wait(120) == 0, second.describe()
    assert_same(stored(db), reference)
    assert frontier(MACHINE_REDIS, redis_prefix) == (0, 0)
