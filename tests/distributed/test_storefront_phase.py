"""A monitoring pass with storefronts on, run by workers started anywhere (no ``--workers``).

The worker that sees the search complete seeds the storefront phase once for all workers
(``crawler.distributed.phases``); every worker moves on to it in the same process; the run is
closed with every worker's stats of both phases. The result must equal, set for set, what the
single-process pass with storefronts stores (``reference_storefronts``).

The step from one phase to the next is also tested on its own against the machine's Redis:
two workers racing for it, a seeder that died holding the guard after pushing its requests,
a search that found no seller.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import text

from crawler.distributed.phases import Step, advance, next_phase_name, phase_record
from crawler.distributed.queue import CrawlKeys, LeaseStore
from crawler.distributed.seed import CrawlSpec, current_spec, distributed_settings, seed
from tests.crawl_support import opened, run_cli
from tests.distributed.conftest import (
    MACHINE_REDIS,
    Stored,
    Worker,
    assert_same,
    env_for,
    frontier,
    lease_failures,
    run_status,
    stored,
    storefront_job,
)
from tests.distributed.conftest import seed as seed_pass

pytestmark = [pytest.mark.distributed]


def records(prefix: str, run_id: int = 1) -> dict[str, dict[str, Any]]:
    """The workers' stats records of the run, by ``spider@worker``."""
    client = redis.Redis.from_url(MACHINE_REDIS)
    try:
        raw: dict[bytes, bytes] = client.hgetall(f"{prefix}:stats:{run_id}")  # type: ignore[assignment]
        return {k.decode(): json.loads(v) for k, v in raw.items()}
    finally:
        client.close()


def run_stats(url: str) -> dict[str, Any]:
    with opened(url) as s:
        raw = s.execute(text("SELECT stats FROM crawl_runs ORDER BY id")).scalar_one()
    return raw if isinstance(raw, dict) else json.loads(raw)


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_workers_without_a_coordinator_run_the_search_then_the_storefronts_once(
        tmp_path: Path, demo_urls: dict[str, str], reference_storefronts: Stored,
        redis_prefix: str, pg_url: str, workers: list[Worker]) -> None:
    env = env_for(MACHINE_REDIS, redis_prefix)
    out = seed_pass(tmp_path, storefront_job(tmp_path, demo_urls), pg_url, env)
    assert "then the storefronts" in out, out
    workers += [Worker(tmp_path, f"w{i}", pg_url, env, idle_timeout=3.0) for i in range(2)]
    codes = [w.wait(150) for w in workers]
    assert codes == [0, 0], [w.describe() for w in workers]
    # The seeding worker (at least) went on from the search to the storefronts in-process.
    assert any("search, storefront" in w.out for w in workers), [w.out for w in workers]

    assert_same(stored(pg_url), reference_storefronts)
    assert lease_failures(pg_url) == []
    assert run_status(pg_url) == [("finished", "finished")]
    assert frontier(MACHINE_REDIS, redis_prefix) == (0, 0)

    client = redis.Redis.from_url(MACHINE_REDIS)
    try:
        spec = current_spec(client, CrawlKeys(redis_prefix))
        phases = phase_record(client, CrawlKeys(redis_prefix), 1)
    finally:
        client.close()
    assert spec is not None and spec.spider == "storefront" and spec.final
    assert phases["storefront/seeded"] == "1", phases
    assert int(phases["storefront/queued"]) > 0, phases

    # Both workers took part in the storefront phase (one that started late may have missed
    # the search), and the storefront pages were crawled.
    by_phase = records(redis_prefix)
    phases_run = sorted(k.split("@")[0] for k in by_phase)
    assert phases_run.count("storefront") == 2 and phases_run.count("search") in (1, 2), \
        list(by_phase)
    assert all(r["reason"] == "finished" for r in by_phase.values())
    shop_pages = sum(r["stats"].get("response_received_count", 0)
                     for k, r in by_phase.items() if k.startswith("storefront@"))
    assert shop_pages >= int(phases["storefront/queued"])

    # The run was closed with every worker's stats of both phases.
    closed = run_stats(pg_url)
    assert closed["distributed/workers"] == 2
    assert closed["total/listings"] == reference_storefronts.rows["listings"]
    assert closed["distributed/workers_stopped"] == 0
    assert closed["distributed/phase/storefront/seeded"] == "1"
    for record in by_phase:  # stats keys are "spider@host:pid:stat"
        assert any(k.startswith(f"{record}:") for k in closed), record


@pytest.mark.postgres
@pytest.mark.timeout(180)
def test_local_workers_run_both_phases_once_started(
        tmp_path: Path, demo_urls: dict[str, str], reference_storefronts: Stored,
        redis_prefix: str, pg_url: str) -> None:
    # The heartbeat takes REELGUARD_IDLE_TIMEOUT from the environment first.
    env = env_for(MACHINE_REDIS, redis_prefix, REELGUARD_IDLE_TIMEOUT="3")
    proc = run_cli("monitor", "run", "-c", str(storefront_job(tmp_path, demo_urls)), "--db",
                   pg_url, "--distributed", "--workers", "2", cwd=tmp_path, env=env,
                   timeout=150)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "workers exited with [0, 0]" in proc.stdout, proc.stdout
    assert "storefront phase:" in proc.stdout, proc.stdout
    assert_same(stored(pg_url), reference_storefronts)
    assert run_status(pg_url) == [("finished", "finished")]
    client = redis.Redis.from_url(MACHINE_REDIS)
    try:
        assert phase_record(client, CrawlKeys(redis_prefix), 1)["storefront/seeded"] == "1"
    finally:
        client.close()
    assert sorted(k.split("@")[0] for k in records(redis_prefix)).count("storefront") == 2


# -- the step from one phase to the next, on its own ----------------------------------------
SELLERS = "demomart:shop0001,demomart:shop0002,demobay:store0001"


def phases_of(urls: dict[str, str]) -> tuple[CrawlSpec, CrawlSpec, Any]:
    """A search phase as the coordinator describes it, its storefront phase, the settings."""
    from crawler.monitor.runner import project_settings

    shared = {"REELGUARD_MARKETPLACE_URLS": urls, "REELGUARD_ALLOWED_PRIVATE_HOSTS": ["127.0.0.1"]}
    search = CrawlSpec("search", {"marketplace": "demomart,demobay"}, 1, "t", shared,
                       final=False, phase="1-search-0123abcd")
    store = CrawlSpec("storefront", {"marketplace": "demobay,demomart", "seller": SELLERS},
                      1, "t", shared, final=True)
    settings = project_settings(dict(shared))
    distributed_settings(settings)
    return search, store, settings


@pytest.fixture
def client(redis_prefix: str) -> Any:
    server = redis.Redis.from_url(MACHINE_REDIS)
    yield server
    server.close()


@pytest.mark.timeout(60)
def test_two_workers_finishing_together_seed_the_next_phase_once(
        demo_urls: dict[str, str], redis_prefix: str, client: redis.Redis) -> None:
    keys = CrawlKeys(redis_prefix)
    search, store, settings = phases_of(demo_urls)
    client.set(keys.crawl, search.dumps())
    calls: list[int] = []
    start = threading.Barrier(2)
    steps: list[Step] = []

    def next_phase() -> CrawlSpec:
        calls.append(1)
        time.sleep(0.5)  # both workers are past the first look by now
        return replace(store)

    def worker() -> None:
        start.wait()
        steps.append(advance(client, keys, search, settings, next_phase, guard_seconds=30,
                             poll=0.1))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(calls) == 1
    name = next_phase_name(search, "storefront")
    assert [(s.spec.phase if s.spec else None, s.close) for s in steps] == [(name, False)] * 2
    assert phase_record(client, keys, 1) == {"storefront/seeded": "1", "storefront/queued": "3",
                                             "storefront/by": phase_record(client, keys, 1)[
                                                 "storefront/by"]}
    assert LeaseStore(client, CrawlKeys(redis_prefix, name), 60, 3).counts() == (3, 0)


@pytest.mark.timeout(60)
def test_a_seeder_that_died_holding_the_guard_is_taken_over_without_duplicates(
        demo_urls: dict[str, str], redis_prefix: str, client: redis.Redis) -> None:
    keys = CrawlKeys(redis_prefix)
    search, store, settings = phases_of(demo_urls)
    name = next_phase_name(search, "storefront")
    # The dead seeder pushed the storefront requests but never described the phase.
    client.set(keys.crawl, search.dumps())
    assert seed(replace(store), settings, client, keys, fresh=False,
                phase=name) == 3
    client.set(keys.crawl, search.dumps())
    client.set(keys.advance_of(search.phase), "seeding by a dead worker", px=1500)

    started = time.monotonic()
    step = advance(client, keys, search, settings, lambda: replace(store),
                   guard_seconds=30, poll=0.1)
    assert time.monotonic() - started >= 1.0  # it waited for the guard to expire
    assert step.spec is not None and step.spec.phase == name and not step.close
    assert current_spec(client, keys) == step.spec
    # Seeding again went through the same duplicate filter: nothing queued twice.
    assert LeaseStore(client, CrawlKeys(redis_prefix, name), 60, 3).counts() == (3, 0)
    assert phase_record(client, keys, 1)["storefront/queued"] == "0"


@pytest.mark.timeout(60)
def test_a_search_that_found_no_seller_ends_the_run_for_every_worker(
        demo_urls: dict[str, str], redis_prefix: str, client: redis.Redis) -> None:
    keys = CrawlKeys(redis_prefix)
    search, _, settings = phases_of(demo_urls)
    client.set(keys.crawl, search.dumps())
    calls: list[int] = []

    def nothing() -> None:
        calls.append(1)

    first = advance(client, keys, search, settings, nothing, guard_seconds=30)
    second = advance(client, keys, search, settings, nothing, guard_seconds=30)
    assert first == second == Step(None, close=True)
    assert calls == [1]
    assert current_spec(client, keys) == search
