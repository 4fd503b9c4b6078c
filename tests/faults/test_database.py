"""Fault 10: the database locked or unavailable mid-crawl.

The first three listing pages asked for are served; once they are stored, the database is
broken under the crawl while the server holds the other nine back, and only then are they let
through:

* SQLite, another connection holds ``BEGIN EXCLUSIVE`` for 1.5 s (longer than the crawl's
  ``busy_timeout``): the store pipeline retries with backoff and writes every item late, none
  lost (``reelguard/store/retried``), the run finishes.
* SQLite, the lock is held until the crawl gives up (``REELGUARD_DB_RETRY_TIMES=2``): the
  crawl stops with the reason ``database_unavailable`` and exit code 4, the run is ``failed``
  with why, each listing it could not store is an ``error`` event; the next run stores every
  listing the full crawl finds, each exactly once.
* PostgreSQL: every backend of the crawl is killed (``pg_terminate_backend``), then the
  listings table is locked (``ACCESS EXCLUSIVE``) for 1.5 s: the pool reconnects, the listings
  that arrive under the lock wait for it and are written, every listing is stored once.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select

from crawler.db.models import Listing, Observation
from crawler.db.session import normalize_url
from tests.crawl_support import count, opened, runs, stored_listings
from tests.db_fixtures import postgres_database
from tests.faults.conftest import CrawlResult, crawl, no_traceback, wait_until
from tests.faults.server import Exchange, FaultServer, Item

pytestmark = pytest.mark.faults

ITEMS_10 = [Item(f"D{i:02d}", f"盗梦空间 蓝光 第{i}版", f"{20 + i}.00") for i in range(1, 13)]
N_EARLY = 3  # listing pages served at once; the others wait until the fault is in place
ALL = {x.id for x in ITEMS_10}
HOLD = 1.5  # seconds the lock is held when the crawl is to outlast it


class Gated(FaultServer):
    """The marketplace; listing pages after the first ``N_EARLY`` wait for ``release``."""

    def __init__(self) -> None:
        super().__init__(items=list(ITEMS_10))
        self.release = threading.Event()
        self.early: set[str] = set()
        self.on("/item.htm", self._gate)

    def _gate(self, ex: Exchange) -> None:
        listing = ex.hit.query.get("id", "")
        with self._lock:
            if len(self.early) < N_EARLY:
                self.early.add(listing)
        if listing not in self.early:
            self.release.wait(30)
        ex.serve_default()


@pytest.fixture
def gated() -> Iterator[Gated]:
    with Gated() as server:
        yield server


def _stored(db: str) -> int:
    try:
        return count(db, Listing)
    except Exception:  # noqa: BLE001 - the file or its tables do not exist yet
        return 0


def _sqlite_path(db: str) -> str:
    return str(normalize_url(db).database)


def _exactly_once(db: str) -> None:
    """Every listing the full crawl finds is stored, each once, with its own data."""
    stored = stored_listings(db)
    assert Counter(x.listing_id for x in stored) == Counter(ALL), stored
    by_id = {x.id: x for x in ITEMS_10}
    for x in stored:
        assert (x.title, x.price) == (by_id[x.listing_id].title, float(by_id[x.listing_id].price))


def _search(tmp_path: Path, server: FaultServer, *extra: str, **kw) -> CrawlResult:  # type: ignore[no-untyped-def]
    return crawl(tmp_path, server.url, "search", "--keywords", "盗梦空间", *extra,
                 timeout=90, **kw)


@pytest.mark.timeout(120)
def test_sqlite_locked_for_a_while_items_are_written_late_not_lost(
    tmp_path: Path, gated: Gated
) -> None:
    held: list[float] = []

    def lock_for_a_while(_pid: int) -> None:
        db = _sqlite_path(f"sqlite:///{tmp_path / 'faults.db'}")
        if not wait_until(lambda: _stored(f"sqlite:///{db}") >= N_EARLY, 60):
            gated.release.set()
            return
        con = sqlite3.connect(db, timeout=30, isolation_level=None)
        try:
            con.execute("BEGIN EXCLUSIVE")
            gated.release.set()
            started = time.monotonic()
            time.sleep(HOLD)  # the fault itself: a writer that keeps the lock for a while
            con.execute("ROLLBACK")
            held.append(time.monotonic() - started)
        finally:
            con.close()

    result = _search(tmp_path, gated, env={"REELGUARD_SQLITE_BUSY_TIMEOUT": "0.4"},
                     meanwhile=lock_for_a_while)

    assert held and held[0] >= HOLD, "the lock was never taken"
    assert result.returncode == 0, result.output
    no_traceback(result)
    _exactly_once(result.db)
    [run] = runs(result.db)
    assert run.status == "finished", run.exit_reason
    assert run.stats["reelguard/store/retried"] >= 1, run.stats  # it did meet the lock
    assert "reelguard/store/not_stored" not in run.stats
    assert count(result.db, Observation) == len(ALL)
    assert "database busy" in result.log and "locked" in result.log


@pytest.mark.timeout(150)
def test_sqlite_locked_past_the_retries_exits_4_then_the_next_run_stores_the_rest(
    tmp_path: Path, gated: Gated
) -> None:
    log = tmp_path / "var" / "log" / "crawl.log"
    seen: dict[str, object] = {}

    def lock_until_the_crawl_gives_up(_pid: int) -> None:
        db = _sqlite_path(f"sqlite:///{tmp_path / 'faults.db'}")
        if not wait_until(lambda: _stored(f"sqlite:///{db}") >= N_EARLY, 60):
            gated.release.set()
            return
        con = sqlite3.connect(db, timeout=30, isolation_level=None)
        try:
            con.execute("BEGIN EXCLUSIVE")
            seen["before"] = _stored(f"sqlite:///{db}")
            gated.release.set()
            seen["gave_up"] = wait_until(
                lambda: log.exists() and "stopping the crawl: database unavailable"
                in log.read_text(errors="replace"), 60)
            con.execute("ROLLBACK")
        finally:
            con.close()

    first = _search(tmp_path, gated, "--set", "REELGUARD_DB_RETRY_TIMES=2",
                    env={"REELGUARD_SQLITE_BUSY_TIMEOUT": "0.3"},
                    meanwhile=lock_until_the_crawl_gives_up)

    assert seen.get("gave_up") is True, first.output
    assert first.returncode == 4, first.output
    no_traceback(first)
    error_lines = [line for line in first.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "database unavailable" in error_lines[0], first.stderr
    assert "locked" in error_lines[0] and "not stored" in error_lines[0], error_lines
    partial = {x.listing_id for x in stored_listings(first.db)}
    assert gated.early <= partial < ALL, partial
    assert len(partial) == seen["before"]  # nothing was written under the lock
    [run1] = runs(first.db)
    assert run1.status == "failed"
    assert "database unavailable after 2 retries" in (run1.exit_reason or "")
    assert "locked" in (run1.exit_reason or "")
    assert run1.stats["reelguard/store/not_stored"] >= 1
    # Each listing dropped is on the run, with why; none of them was stored.
    lost = [e for e in _events(first.db, run1.id) if e.reason.startswith("not stored:")]
    assert len(lost) == run1.stats["reelguard/store/not_stored"], lost
    lost_ids = {e.url.rsplit("=", 1)[1] for e in lost}
    assert lost_ids and not lost_ids & partial, (lost_ids, partial)
    assert all("locked" in e.reason for e in lost)

    gated.release.set()
    second = _search(tmp_path, gated)
    assert second.returncode == 0, second.output
    _exactly_once(second.db)
    run1, run2 = runs(second.db)
    assert run2.status == "finished", run2.exit_reason
    # One observation per listing per run that saw it, never two.
    with opened(second.db) as s:
        seen_rows = s.execute(select(Observation.listing_id, Observation.run_id)).all()
    assert len(seen_rows) == len(set(seen_rows)) == len(partial) + len(ALL)


def _events(db: str, run_id: int):  # type: ignore[no-untyped-def]
    from tests.crawl_support import events

    return [e for e in events(db, "error") if e.run_id == run_id]


@pytest.mark.postgres
@pytest.mark.timeout(150)
def test_postgres_backends_killed_and_table_locked_mid_crawl_lose_nothing(
    tmp_path: Path, gated: Gated
) -> None:
    with postgres_database() as url:
        pg = normalize_url(url).set(drivername="postgresql").render_as_string(False)
        name = normalize_url(url).database
        done: dict[str, object] = {}

        def kill_then_lock(_pid: int) -> None:
            try:
                if not wait_until(lambda: _stored(url) >= N_EARLY, 60, every=0.05):
                    return
                with psycopg.connect(pg, autocommit=True) as admin:
                    killed = admin.execute(
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                        "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                        (name,),
                    ).fetchone()
                    done["killed"] = killed[0] if killed else 0
                with psycopg.connect(pg) as locker:
                    locker.execute("LOCK TABLE listings IN ACCESS EXCLUSIVE MODE")
                    done["locked_at"] = dt.datetime.now(dt.UTC)
                    gated.release.set()
                    time.sleep(HOLD)  # the fault: the table stays locked for a while
                    locker.commit()
            finally:
                gated.release.set()

        result = _search(tmp_path, gated, db=url, meanwhile=kill_then_lock)

        assert result.returncode == 0, result.output
        no_traceback(result)
        assert int(done.get("killed", 0)) >= 1, done  # the crawl's connections were cut
        _exactly_once(url)
        [run] = runs(url)
        assert run.status == "finished", run.exit_reason
        assert "reelguard/store/not_stored" not in run.stats
        # The held-back listings reached the pipeline while the table was locked (and so
        # were written once it was released), not before.
        locked_at = done["locked_at"]
        assert isinstance(locked_at, dt.datetime)
        with opened(url) as s:
            late = s.execute(select(Listing.listing_key, Listing.first_seen)
                             .where(Listing.listing_key.not_in(gated.early))).all()
        assert len(late) == len(ALL - gated.early)
        assert all(first >= locked_at for _, first in late), (locked_at, late)
