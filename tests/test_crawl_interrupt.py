"""A crawl killed mid-way keeps what it stored; run again it completes without duplicates.

``kill -9`` gives the crawl no chance to clean up: durability comes from committing each
listing with an upsert on its natural key. Ctrl-C (SIGINT) is a graceful stop: the run is
marked interrupted and the command exits non-zero.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from crawler.db.models import Listing
from tests.crawl_support import (
    PRIVATE_OK,
    child_env,
    cli_cmd,
    count,
    expected_search,
    run_cli,
    runs,
    serve,
    sqlite_url,
    stored_listings,
)

KEYWORD = "电影"  # 256 demomart listings over 6 result pages
# Slow enough to be caught mid-way: one request at a time, 20 ms apart.
SLOW = ["--set", "DOWNLOAD_DELAY=0.02", "--set", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
        "--set", "AUTOTHROTTLE_ENABLED=False"]


@pytest.fixture(scope="module")
def mart_url():
    with serve("demomart") as url:
        yield url


def _args(db: str, url: str, *extra: str) -> list[str]:
    return ["crawl", "search", "-m", "demomart", "--keywords", KEYWORD, "--db", db,
            "--url", f"demomart={url}", *extra]


def _start(tmp_path: Path, db: str, url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(cli_cmd(*_args(db, url, *SLOW)), cwd=tmp_path,
                            env=child_env(**PRIVATE_OK), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_listings(proc: subprocess.Popen[str], db: str, at_least: int) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the crawl ended early: {proc.communicate()[1][-2000:]}"
        try:
            n = count(db, Listing)
        except OperationalError:  # the file or its tables do not exist yet
            n = 0
        if n >= at_least:
            return n
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} listings stored after 60 s")


@pytest.mark.faults  # fault 11 of the fault suite (the submit half is tests/faults/test_kill.py)
@pytest.mark.timeout(150)
def test_kill_9_mid_crawl_then_rerun_gives_the_full_set(tmp_path: Path, mart_url) -> None:
    reference = sqlite_url(tmp_path, "reference.db")
    ref = run_cli(*_args(reference, mart_url), cwd=tmp_path, env=child_env(**PRIVATE_OK))
    assert ref.returncode == 0, (ref.stdout + ref.stderr)[-3000:]
    want = {x.listing_id for x in stored_listings(reference)}
    assert want == set(expected_search("demomart", KEYWORD))

    db = sqlite_url(tmp_path, "killed.db")
    proc = _start(tmp_path, db, mart_url)
    try:
        _wait_for_listings(proc, db, 20)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    partial = {x.listing_id for x in stored_listings(db)}
    assert 20 <= len(partial) < len(want)

    again = run_cli(*_args(db, mart_url), cwd=tmp_path, env=child_env(**PRIVATE_OK))
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    final = stored_listings(db)
    assert {x.listing_id for x in final} == want
    assert max(Counter(x.listing_id for x in final).values()) == 1
    killed, completed = runs(db)
    assert killed.status == "running"  # nothing could close it
    assert completed.status == "finished"


@pytest.mark.timeout(120)
def test_sigint_marks_the_run_interrupted(tmp_path: Path, mart_url) -> None:
    db = sqlite_url(tmp_path)
    proc = _start(tmp_path, db, mart_url)
    try:
        _wait_for_listings(proc, db, 10)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode != 0
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    assert "Traceback" not in out + err
    assert "interrupted" in err
    [run] = runs(db)
    assert run.status == "interrupted"
    assert run.finished_at is not None
    assert 10 <= count(db, Listing) < len(expected_search("demomart", KEYWORD))
