"""Fault 3: a server that never answers, one that stalls after the headers, one that sends a
byte a second: each request fails within ``DOWNLOAD_TIMEOUT`` (per try) plus a margin, over
HTTP and in the browser, is recorded as an ``error`` event naming the timeout, and the rest of
the crawl goes on (the healthy listing is stored).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crawl_support import stored_listings
from tests.faults.conftest import FAST, crawl, no_traceback, reasons, the_run
from tests.faults.server import (
    FaultServer,
    Item,
    byte_a_second,
    never_answer,
    stall_after_headers,
)

pytestmark = pytest.mark.faults

TIMEOUT = 2  # DOWNLOAD_TIMEOUT over HTTP, seconds (30 in production)
BROWSER_TIMEOUT = 3  # in chromium, whose start-up under load eats into the first try
TRIES = 2  # RETRY_TIMES=1
ITEMS_3 = [Item("L1", "盗梦空间 蓝光"), Item("L2", "黑暗骑士 DVD"), Item("L3", "星际穿越 4K"),
           Item("L4", "致命魔术 高清")]
FAULTS = {"L1": never_answer, "L2": stall_after_headers, "L3": byte_a_second}
SETS = ("--set", "RETRY_TIMES=1", *FAST)


def _check(result, server: FaultServer, startup_margin: float,  # type: ignore[no-untyped-def]
           timeout: float = TIMEOUT, early: float = 0.1) -> None:
    """``early``: how much sooner than ``timeout`` after the first request reached the server
    the retry may come (the browser's timer starts with the navigation, before the request)."""
    assert result.returncode == 0, result.output
    no_traceback(result)
    # Each faulty listing: TRIES tries of TIMEOUT s (they run side by side), plus the backoff
    # between them, plus start-up and the healthy pages.
    assert result.seconds < TRIES * timeout + startup_margin, (result.seconds, result.output)
    for listing_id in FAULTS:
        hits = server.item_hits(listing_id)
        assert len(hits) == TRIES, (listing_id, len(hits))
        gap = hits[1].at - hits[0].at
        # The first try gave up at the timeout, not before and not much after.
        assert timeout - early <= gap <= timeout + 5, (listing_id, gap)
    assert [x.listing_id for x in stored_listings(result.db)] == ["L4"]
    errors = reasons(result, "error")
    assert set(errors) == {f"{server.url}/item.htm?id={i}" for i in FAULTS}, errors
    for [reason] in errors.values():
        assert "timeout" in reason.lower() or "took longer than" in reason, reason
    run = the_run(result)
    assert run.status == "finished", run.exit_reason
    assert run.errors == len(FAULTS)


@pytest.mark.timeout(120)
def test_silent_and_slow_servers_time_out_over_http(tmp_path: Path) -> None:
    with FaultServer(items=list(ITEMS_3)) as server:
        for listing_id, fault in FAULTS.items():
            server.on(f"/item.htm?id={listing_id}", fault)
        result = crawl(tmp_path, server.url, "search", "--keywords", "电影", *SETS,
                       "--set", f"DOWNLOAD_TIMEOUT={TIMEOUT}", timeout=90)
        _check(result, server, startup_margin=25)
    assert "took longer than" in next(iter(reasons(result, "error").values()))[0]


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_silent_and_slow_servers_time_out_in_the_browser(tmp_path: Path) -> None:
    with FaultServer(items=list(ITEMS_3)) as server:
        for listing_id, fault in FAULTS.items():
            server.on(f"/item.htm?id={listing_id}", fault)
        result = crawl(tmp_path, server.url, "search", "--keywords", "电影", *SETS,
                       "--set", f"DOWNLOAD_TIMEOUT={BROWSER_TIMEOUT}",
                       env={"REELGUARD_BROWSER": "always"}, timeout=150)
        _check(result, server, startup_margin=45, timeout=BROWSER_TIMEOUT, early=0.5)
    run = the_run(result)
    # Every page came through chromium.
    assert run.stats.get("reelguard/browser/pages_served", 0) >= 2, run.stats
    assert run.stats.get("reelguard/browser/demomart", 0) >= 2, run.stats
