"""Scale-out: listings/s with 1 and 2 worker processes, and what each listing costs Redis and
PostgreSQL, projected to a sweep of 10 million listings a day.

Starts the demo marketplaces (``DemoServerProcess``, anti-bot limit off), a private
``redis-server`` on a free loopback port (so that the machine's Redis, shared with other work,
does not blur the operation counts) and, for each worker count, a fresh database on the
machine's PostgreSQL (127.0.0.1:5432). Each run seeds a monitoring pass over the first
``--titles`` catalogue titles (search only, HTTP only) with ``reelguard monitor run
--distributed`` and starts N ``reelguard worker`` processes.

* listings/s: listings stored over the time from the workers' start to the moment the shared
  frontier and processing set are both empty (the workers' idle wait is not counted);
* Redis operations per listing: the ``INFO commandstats`` call counts (every command, the
  commands run inside Lua scripts included) over the run, per listing;
* PostgreSQL per listing: rows inserted + updated (``pg_stat_user_tables``) and transactions
  committed (``pg_stat_database``) over the run;
* peak RSS per worker: ``VmHWM`` of each worker process.

The projection divides 10 M listings/day (116 listings/s) by the measured per-worker rate, and
multiplies the per-listing Redis and PostgreSQL costs by it. On real marketplaces a worker is
held back by politeness (download delays per marketplace), not by its CPU: the projection is
the CPU floor; see the README for the politeness-bound figure.

``python bench/scale.py [--titles 12] [--workers 1,2]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg
import redis
import yaml
from psycopg import sql

from crawler.distributed.queue import CrawlKeys, LeaseStore
from crawler.distributed.seed import current_spec

ADMIN_URL = os.environ.get("REELGUARD_TEST_POSTGRES_URL",
                           "postgresql://postgres@127.0.0.1:5432/test")
OUT_PATH = ROOT / "var" / "bench" / "scale.json"
PER_DAY = 10_000_000


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        ["/usr/bin/redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(tmp),
         "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
        stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return proc, url


def redis_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items()
               if k not in ("cmdstat_info", "cmdstat_ping", "cmdstat_config"))


def pg_counts(db: str, name: str) -> tuple[int, int]:
    """(rows inserted + updated in the database's tables, transactions committed)."""
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = conn.execute("SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0) "
                            "FROM pg_stat_user_tables").fetchone()
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        commits = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s",
                               (name,)).fetchone()
    return int(rows[0] if rows else 0), int(commits[0] if commits else 0)


def vm_hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def one_run(workers: int, titles: int, urls: dict[str, str], redis_url: str,
            tmp: Path) -> dict[str, Any]:
    name = f"rg_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    db = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    prefix = f"rgbench:{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "REDIS_URL": redis_url, "REELGUARD_REDIS_PREFIX": prefix,
           "PYTHONUNBUFFERED": "1"}
    job = {"name": "bench", "catalog": str(ROOT / "fixtures/catalogs/sample_catalog.csv"),
           "authorized": str(ROOT / "fixtures/catalogs/authorized.csv"),
           "marketplaces": {m: {"url": u} for m, u in urls.items()},
           "keywords": {"strategy": "primary", "limit": titles}, "storefronts": False,
           "browser": "never", "allow_private_hosts": ["127.0.0.1"],
           "settings": {"REELGUARD_EVIDENCE_SCREENSHOT": False}}
    job_path = tmp / f"job-{workers}.yaml"
    job_path.write_text(yaml.safe_dump(job, allow_unicode=True))
    try:
        subprocess.run([sys.executable, "-m", "crawler.cli", "monitor", "run", "-c",
                        str(job_path), "--db", db, "--distributed"], cwd=tmp, env=env,
                       check=True, capture_output=True, timeout=300)
        client = redis.Redis.from_url(redis_url)
        spec = current_spec(client, CrawlKeys(prefix))
        assert spec is not None
        store = LeaseStore(client, CrawlKeys(prefix, spec.phase), 60, 3)
        calls0, (rows0, commits0) = redis_calls(client), pg_counts(db, name)
        started = time.monotonic()
        procs = [subprocess.Popen([sys.executable, "-m", "crawler.cli", "worker", "--db", db,
                                   "--idle-timeout", "3"], cwd=tmp, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(workers)]
        peaks = [0] * workers
        done_at: float | None = None
        polls = 0  # this script's own ZCARDs, not counted against the workers
        while any(p.poll() is None for p in procs):
            peaks = [max(peak, vm_hwm_kb(p.pid)) for peak, p in zip(peaks, procs, strict=True)]
            if done_at is None:
                waiting, leased = store.counts()
                polls += 2
                if not waiting and not leased:
                    done_at = time.monotonic()
            time.sleep(0.1)
        codes = [p.returncode for p in procs]
        ended = done_at or time.monotonic()
        calls = redis_calls(client) - calls0 - polls
        time.sleep(1.5)  # PostgreSQL publishes table stats when a backend ends
        rows, commits = pg_counts(db, name)
        rows, commits = rows - rows0, commits - commits0
        with psycopg.connect(db) as conn:
            row = conn.execute("SELECT count(*) FROM listings").fetchone()
            listings = int(row[0]) if row else 0
        client.close()
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                         .format(sql.Identifier(name)))
    seconds = ended - started
    return {"workers": workers, "exit_codes": codes, "listings": listings,
            "seconds": round(seconds, 2), "listings_per_s": round(listings / seconds, 2),
            "redis_ops_per_listing": round(calls / max(1, listings), 1),
            "pg_rows_written_per_listing": round(rows / max(1, listings), 2),
            "pg_commits_per_listing": round(commits / max(1, listings), 2),
            "peak_rss_mb_per_worker": [round(p / 1024, 1) for p in peaks]}


def projection(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """From the one-worker runs (medians when repeated): what 10 M listings/day needs."""
    ones = [r for r in runs if r["workers"] == 1]

    def median(key: str) -> float:
        return float(statistics.median(r[key] for r in ones))

    need = PER_DAY / 86_400
    return {"listings_per_s_needed": round(need, 1),
            "listings_per_s_per_worker": median("listings_per_s"),
            "workers_cpu_bound": math.ceil(need / median("listings_per_s")),
            "redis_ops_per_s": round(need * median("redis_ops_per_listing")),
            "pg_rows_per_s": round(need * median("pg_rows_written_per_listing")),
            "pg_commits_per_s": round(need * median("pg_commits_per_listing"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=12)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    from crawler.demo.server import DemoServerProcess, SiteOptions

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at start")
    runs = []
    with tempfile.TemporaryDirectory(prefix="rg-scale-") as tmp_name, \
            DemoServerProcess(options=SiteOptions(rate_limit=0.0)) as server:
        tmp = Path(tmp_name)
        redis_proc, redis_url = start_redis(tmp)
        try:
            # Warm-up, not reported: the demo sites' first requests load their data.
            one_run(1, 2, server.urls, redis_url, tmp)
            for count in [int(n) for n in args.workers.split(",")]:
                run = one_run(count, args.titles, server.urls, redis_url, tmp)
                runs.append(run)
                print(json.dumps(run))
        finally:
            redis_proc.terminate()
            redis_proc.wait(10)
    result = {"runs": runs, "projection_10M_per_day": projection(runs),
              "load_average_at_end": round(os.getloadavg()[0], 1)}
    print(json.dumps(result["projection_10M_per_day"]))
    print(f"load average {result['load_average_at_end']} at the end")
    OUT_PATH.parent.mkdir(parents=True, exist_ok=True)
    OUT_PATH.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
