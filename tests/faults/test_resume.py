"""Fault 12: SIGINT mid-crawl, then resume: exactly the remainder is fetched.

A search crawl of 40 listings is interrupted with SIGINT once eight of them are stored (the
server holds the other listing pages back until then): Scrapy's graceful stop finishes the
requests already handed to the downloader (up to ``CONCURRENT_REQUESTS``, 16) and drops the
rest; the run is marked ``interrupted``, the command exits 130. Run again with ``REELGUARD_RESUME=true`` (``crawler.spider_base``), the
crawl fetches the result page again and then exactly the listing pages the interrupted run
did not store, each once (the server's request log says so); together the two runs store
every listing once, and each run observed only what it fetched.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from pathlib import Path

import pytest

from crawler.db.models import Listing
from tests.crawl_support import count, observations, runs, stored_listings
from tests.faults.conftest import crawl, no_traceback, wait_until
from tests.faults.server import Exchange, FaultServer, Item

pytestmark = pytest.mark.faults

ITEMS_12 = [Item(f"R{i:02d}", f"星际穿越 4K 第{i}版", f"{30 + i}.00") for i in range(1, 41)]
ALL = {x.id for x in ITEMS_12}
FIRST = 8  # listing pages served before the interrupt
RESUME = ("--set", "REELGUARD_RESUME=true")


def _ids(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.query["id"] for h in hits if h.path == "/item.htm"]


@pytest.mark.timeout(150)
def test_sigint_then_resume_fetches_exactly_the_remainder(tmp_path: Path) -> None:
    release = threading.Event()
    served: set[str] = set()
    sent: list[bool] = []

    with FaultServer(items=list(ITEMS_12)) as server:
        def gate(ex: Exchange) -> None:
            with server._lock:
                if len(served) < FIRST:
                    served.add(ex.hit.query.get("id", ""))
            if ex.hit.query.get("id") not in served:
                release.wait(30)
            ex.serve_default()

        server.on("/item.htm", gate)
        db = f"sqlite:///{tmp_path / 'faults.db'}"

        def interrupt(pid: int) -> None:
            try:
                if wait_until(lambda: _stored(db) >= FIRST, 60):
                    os.kill(pid, signal.SIGINT)
                    sent.append(True)
            finally:
                release.set()

        first = crawl(tmp_path, server.url, "search", "--keywords", "星际穿越", *RESUME,
                      meanwhile=interrupt, timeout=90)
        assert sent, first.output
        assert first.returncode == 130, first.output
        no_traceback(first)
        fetched_1 = _ids(server.hits)
        stored_1 = {x.listing_id for x in stored_listings(first.db)}
        assert FIRST <= len(stored_1) < len(ALL), stored_1
        [run1] = runs(first.db)
        assert run1.status == "interrupted", run1.exit_reason
        assert run1.stats["reelguard/resume/runs"] == ""  # nothing to resume the first time

        n_before = len(server.hits)
        second = crawl(tmp_path, server.url, "search", "--keywords", "星际穿越", *RESUME,
                       timeout=90)
        fetched_2 = _ids(server.hits[n_before:])

    assert second.returncode == 0, second.output
    no_traceback(second)
    # Exactly the remainder: each listing page not stored by run 1, once; none of the others.
    assert sorted(fetched_2) == sorted(ALL - stored_1), (sorted(fetched_2), sorted(stored_1))
    assert set(fetched_1) | set(fetched_2) == ALL
    # Every listing stored once; each run observed what it fetched and stored, nothing twice.
    assert Counter(x.listing_id for x in stored_listings(second.db)) == Counter(ALL)
    run1, run2 = runs(second.db)
    assert run2.status == "finished", run2.exit_reason
    assert run2.stats["reelguard/resume/runs"] == str(run1.id)
    assert run2.stats["reelguard/resume/skipped"] == len(stored_1)
    keys = {row_id: key for key, row_id in _listing_rows(second.db)}
    seen = Counter((keys[listing], run) for listing, run, _, _ in observations(second.db))
    assert max(seen.values()) == 1
    assert {k for k, run in seen if run == run1.id} == stored_1
    assert {k for k, run in seen if run == run2.id} == ALL - stored_1


def _stored(db: str) -> int:
    try:
        return count(db, Listing)
    except Exception:  # noqa: BLE001 - the file or its tables do not exist yet
        return 0


def _listing_rows(db: str) -> list[tuple[str, int]]:
    from sqlalchemy import select

    from tests.crawl_support import opened

    with opened(db) as s:
        return [(k, i) for k, i in s.execute(select(Listing.listing_key, Listing.id)).all()]
