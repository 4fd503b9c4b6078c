"""Faults 8 and 9: the browser killed mid-crawl; no page or context leaks, memory bounded.

8. Every chromium process of a crawl is killed (SIGKILL) while pages are loading: the handler
   launches a new browser, the requests that were in flight are tried again, and every listing
   is stored; nothing is recorded as failed.
9. A long browser crawl closes every page it opened (``playwright/page_count`` equals
   ``playwright/page_count/closed`` at the end), reuses a handful of pages (the pool), and the
   memory of the crawl and of its chromium stays flat between its first and second half.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.crawl_support import stored_listings
from tests.faults.conftest import crawl, descendants, no_traceback, reasons, rss_mb, the_run
from tests.faults.server import Exchange, FaultServer, Item

pytestmark = [pytest.mark.faults, pytest.mark.browser]

BROWSER = {"REELGUARD_BROWSER": "always"}


def _items(n: int) -> list[Item]:
    return [Item(f"B{i:03d}", f"盗梦空间 蓝光 第{i}版", f"{10 + i % 50}.00") for i in range(n)]


def _slow(ex: Exchange) -> None:
    ex.wait(0.2)
    ex.serve_default()


def _chromium(pid: int) -> list[int]:
    return [p for p, name in descendants(pid) if "chrom" in name.lower()]


@pytest.mark.timeout(240)
def test_browser_killed_mid_crawl_restarts_and_every_request_completes(tmp_path: Path) -> None:
    items = _items(24)
    killed: list[int] = []
    with FaultServer(items=items) as server:
        server.on("/item.htm", _slow)

        def kill_browser(pid: int) -> None:
            deadline = time.monotonic() + 120
            while len(server.requests_for("/item.htm")) < 8:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.05)
            for p in _chromium(pid):
                try:
                    os.kill(p, signal.SIGKILL)
                    killed.append(p)
                except ProcessLookupError:
                    pass

        result = crawl(tmp_path, server.url, "search", "--keywords", "盗梦空间", env=BROWSER,
                       meanwhile=kill_browser, timeout=200)
        assert killed, "no chromium process found under the crawl"

    assert result.returncode == 0, result.output
    no_traceback(result)
    assert sorted(x.listing_id for x in stored_listings(result.db)) == [x.id for x in items]
    run = the_run(result)
    assert run.status == "finished", run.exit_reason
    assert reasons(result, "error") == {}, reasons(result, "error")
    assert run.stats["playwright/browser_count"] == 2, run.stats
    assert run.stats["reelguard/browser/pages_served"] >= 25  # the search page and 24 listings


@pytest.mark.timeout(400)
def test_long_browser_crawl_closes_every_page_and_keeps_memory_flat(tmp_path: Path) -> None:
    items = _items(300)
    samples: list[tuple[int, float]] = []  # (listing pages served so far, MB of crawl+chromium)
    with FaultServer(items=items, search_pages=7) as server:

        def watch(pid: int) -> None:
            while True:
                procs = [pid, *(p for p, _ in descendants(pid))]
                mb = rss_mb(procs)
                if mb == 0:
                    return
                samples.append((len(server.requests_for("/item.htm")), mb))
                time.sleep(0.5)

        result = crawl(tmp_path, server.url, "search", "--keywords", "盗梦空间", env=BROWSER,
                       meanwhile=watch, timeout=360)

    assert result.returncode == 0, result.output
    no_traceback(result)
    assert len(stored_listings(result.db)) == 300
    stats = the_run(result).stats or {}
    assert stats["playwright/page_count"] == stats["playwright/page_count/closed"], stats
    assert stats["playwright/page_count"] <= 8, stats  # pooled, not one per request
    assert stats["playwright/context_count"] == 1, stats
    # Memory (crawl + chromium): the peak of the second half of the listings is within 25 %
    # (and 150 MB) of the peak of the first half.
    first = max(mb for n, mb in samples if 20 <= n < 150)
    second = max(mb for n, mb in samples if n >= 150)
    assert second <= max(first * 1.25, first + 150), (first, second)
