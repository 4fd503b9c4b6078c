"""Fixtures of the distributed suite: real Redis, real PostgreSQL, real worker processes.

* ``demo_urls``: both demo marketplaces served in this process on 127.0.0.1 (OS ports).
* ``reference``: what the single-process ``reelguard monitor run`` stores for the small job
  (two catalogue titles, no storefronts): the sets every distributed test must equal;
  ``reference_storefronts``: the same for ``storefront_job`` (storefronts on).
* ``redis_prefix``: a unique key prefix on the machine's Redis (127.0.0.1:6379), its keys
  deleted at teardown. ``pg_url``: a throw-away database on the machine's PostgreSQL.
* :class:`PrivateRedis` / :class:`PrivatePostgres`: servers of the test's own (free loopback
  port, data in the test's temp dir) that a test may kill and restart; the machine's servers
  are never touched.
* :class:`Worker`: ``reelguard worker`` as a child process in its own session.

No settings affect this module; children get a clean ``REELGUARD_*`` environment.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from sqlalchemy import text

from tests.crawl_support import REPO, child_env, cli_cmd, opened, serve_both
from tests.db_fixtures import postgres_database

REDIS_SERVER = "/usr/bin/redis-server"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
MACHINE_REDIS = "redis://127.0.0.1:6379/0"
# Slow enough that a worker holds leases when it is killed, fast enough for CI.
SLOTS = {"demomart": {"concurrency": 2, "delay": 0.05},
         "demobay": {"concurrency": 2, "delay": 0.05}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# -- the job and what it stores -------------------------------------------------------------
def write_job(tmp: Path, urls: dict[str, str], storefronts: bool = False, limit: int = 2,
              **settings: Any) -> Path:
    job = {
        "name": "dist",
        "catalog": str(REPO / "fixtures/catalogs/sample_catalog.csv"),
        "authorized": str(REPO / "fixtures/catalogs/authorized.csv"),
        "marketplaces": {name: {"url": url} for name, url in urls.items()},
        "keywords": {"strategy": "primary", "limit": limit},
        "storefronts": storefronts,
        "browser": "never",
        "allow_private_hosts": ["127.0.0.1"],
        "settings": {"DOWNLOAD_SLOTS": SLOTS, "REELGUARD_EVIDENCE_SCREENSHOT": False,
                     **settings},
    }
    path = tmp / "monitor.yaml"
    path.write_text(yaml.safe_dump(job, allow_unicode=True))
    return path


@dataclass(frozen=True)
class Stored:
    """What a database holds, as comparable sets (and the raw row counts)."""

    listings: frozenset[tuple[str, str]]
    matches: frozenset[tuple[str, str, str]]
    takedowns: frozenset[tuple[str, str, str]]
    rows: dict[str, int]


def stored(url: str) -> Stored:
    with opened(url) as s:
        listings = s.execute(text(
            "SELECT m.name, l.listing_key FROM listings l "
            "JOIN marketplaces m ON m.id = l.marketplace_id")).all()
        matches = s.execute(text(
            "SELECT m.name, l.listing_key, x.member FROM matches x "
            "JOIN listings l ON l.id = x.listing_id "
            "JOIN marketplaces m ON m.id = l.marketplace_id")).all()
        takedowns = s.execute(text(
            "SELECT t.marketplace, l.listing_key, t.member FROM takedown_requests t "
            "JOIN listings l ON l.id = t.listing_id")).all()
    rows = {"listings": len(listings), "matches": len(matches), "takedowns": len(takedowns)}
    return Stored(frozenset(map(tuple, listings)), frozenset(map(tuple, matches)),
                  frozenset(map(tuple, takedowns)), rows)


def assert_same(got: Stored, want: Stored) -> None:
    """Every listing, match and takedown request of the reference, each stored once."""
    assert got.rows == {"listings": len(got.listings), "matches": len(got.matches),
                        "takedowns": len(got.takedowns)}, got.rows
    assert sorted(want.listings - got.listings) == [], "listings missing"
    assert sorted(got.listings - want.listings) == [], "listings not in the reference"
    assert got.matches == want.matches
    assert got.takedowns == want.takedowns
    assert got.rows == want.rows


def lease_failures(url: str) -> list[tuple[str, str]]:
    """Crawl events of requests given up or whose callback failed (there should be none)."""
    with opened(url) as s:
        return [tuple(r) for r in s.execute(text(  # type: ignore[misc]
            "SELECT url, reason FROM crawl_events WHERE reason LIKE 'given up%' "
            "OR reason LIKE 'callback failed%'")).all()]


def run_status(url: str) -> list[tuple[str, str]]:
    with opened(url) as s:
        return [tuple(r) for r in s.execute(text(  # type: ignore[misc]
            "SELECT status, exit_reason FROM crawl_runs ORDER BY id")).all()]


@pytest.fixture(scope="session")
def demo_urls() -> Iterator[dict[str, str]]:
    with serve_both() as urls:
        yield urls


def storefront_job(tmp: Path, urls: dict[str, str]) -> Path:
    """The job with storefronts on, kept small (the storefront phase stores every listing of
    every shop found): demomart only, one catalogue title, one page per shop."""
    return write_job(tmp, {"demomart": urls["demomart"]}, storefronts=True, limit=1,
                     REELGUARD_MAX_SHOP_PAGES=1)


def single_process_pass(tmp: Path, job: Path) -> Stored:
    """What ``reelguard monitor run`` (one process, SQLite) stores for ``job``."""
    db = f"sqlite:///{tmp / 'ref.db'}"
    proc = subprocess.run(cli_cmd("monitor", "run", "-c", str(job), "--db", db), cwd=tmp,
                          env=child_env(), capture_output=True, text=True, timeout=240,
                          check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    ref = stored(db)
    assert ref.rows["listings"] > 50 and ref.rows["takedowns"] > 10, ref.rows
    return ref


@pytest.fixture(scope="session")
def reference(demo_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Stored:
    tmp = tmp_path_factory.mktemp("reference")
    return single_process_pass(tmp, write_job(tmp, demo_urls))


@pytest.fixture(scope="session")
def reference_storefronts(demo_urls: dict[str, str],
                          tmp_path_factory: pytest.TempPathFactory) -> Stored:
    """What the single-process pass of ``storefront_job`` stores: search, then storefronts."""
    tmp = tmp_path_factory.mktemp("reference-storefronts")
    return single_process_pass(tmp, storefront_job(tmp, demo_urls))


# -- Redis and PostgreSQL -------------------------------------------------------------------
@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"rgtest:{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(MACHINE_REDIS)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


class PrivateRedis:
    """A redis-server of the test's own with an fsync-always AOF: killed, it loses nothing."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "redis"
        self.dir.mkdir()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port), "--dir",
             str(self.dir), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
             "--protected-mode", "yes", "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        wait_until(lambda: _pings(client), 10, "the private Redis")
        client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (run as the ``postgres`` OS user: initdb
    refuses root), on a free loopback port, trust authentication."""

    def __init__(self, tmp: Path) -> None:
        self.root = Path(f"/tmp/rg-pg-{uuid.uuid4().hex[:10]}")  # the postgres user's own
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True,
                       capture_output=True, timeout=60)

    def init(self) -> None:
        self.root.mkdir(mode=0o700)
        shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust",
                          "-U", "postgres", "--no-sync")

    def start(self) -> None:
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w",
            "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off",
            "start")

    def stop(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                          "-w", "stop")

    def remove(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D",
                        str(self.data), "-m", "immediate", "stop"], capture_output=True,
                       check=False, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    server = PrivatePostgres(tmp_path)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


# -- workers --------------------------------------------------------------------------------
def env_for(redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    return child_env(REDIS_URL=redis_url, REELGUARD_REDIS_PREFIX=prefix, **extra)


def seed(tmp: Path, job: Path, db: str, env: dict[str, str]) -> str:
    """``reelguard monitor run --distributed`` (seed only); its output."""
    proc = subprocess.run(cli_cmd("monitor", "run", "-c", str(job), "--db", db,
                                  "--distributed"),
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "search requests queued" in proc.stdout, proc.stdout
    return proc.stdout


class Worker:
    """``reelguard worker`` in a child process (its own session, killed whole at the end)."""

    def __init__(self, tmp: Path, name: str, db: str, env: dict[str, str],
                 idle_timeout: float = 4.0) -> None:
        self.cwd = tmp / name
        self.cwd.mkdir()
        self.proc = subprocess.Popen(
            cli_cmd("worker", "--db", db, "--idle-timeout", str(idle_timeout)),
            cwd=self.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        self.out = ""

    def wait(self, timeout: float) -> int:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"worker did not end in {timeout} s:\n{self.log()}"
                                 f"{(out + err)[-3000:]}") from None
        self.out = out + err
        return int(self.proc.returncode)

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def log(self) -> str:
        path = self.cwd / "var" / "log" / "crawl.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def describe(self) -> str:
        return f"{self.out[-3000:]}\n--- log ---\n{self.log()}"


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()
        if worker.proc.stdout:
            worker.proc.communicate()


def listing_count(url: str) -> int:
    try:
        with opened(url) as s:
            return int(s.execute(text("SELECT count(*) FROM listings")).scalar_one())
    except Exception:  # noqa: BLE001 - not migrated yet, or the server is down on purpose
        return 0


def frontier(redis_url: str, prefix: str) -> tuple[int, int]:
    """(requests waiting, requests leased) of the crawl phase under ``prefix``."""
    from crawler.distributed.queue import CrawlKeys, LeaseStore
    from crawler.distributed.seed import current_spec

    client = redis.Redis.from_url(redis_url)
    try:
        spec = current_spec(client, CrawlKeys(prefix))
        assert spec is not None, "no crawl seeded"
        return LeaseStore(client, CrawlKeys(prefix, spec.phase), 60, 3).counts()
    finally:
        client.close()
