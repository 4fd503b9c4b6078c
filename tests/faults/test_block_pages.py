"""Fault 17: a captcha or rate-limit page served with status 200 is never read as "removed",
never taken as evidence of a listing, and the crawl backs off.

A first crawl stores twenty listings; the re-check crawl (``crawl listing``) then meets a slider
captcha on one listing page every time, a login wall once on another, and a rate-limit notice
in words only (no block markers, "访问过于频繁") on a third, while a fourth listing really was
removed. The blocked listings stay active with their first observation only (nothing of the
captcha or the notice reaches the pipelines: no observation, no evidence); each captcha and each
notice is a ``blocked`` event, retried after a pause, then given up; only the real removal is
recorded as one.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.crawl_support import events, observations, opened, runs, stored_listings
from tests.faults.conftest import crawl, no_traceback
from tests.faults.server import (
    BUSY_HTML,
    CAPTCHA_HTML,
    LOGIN_HTML,
    FaultServer,
    Item,
    flaky,
    ok,
    page,
)

pytestmark = pytest.mark.faults

# Enough healthy pages that the blocks stay under the run's "mostly blocked" limit (50 %).
ITEMS_17 = [Item(f"L{i}", f"盗梦空间 蓝光 第{i}版", "25.00") for i in range(1, 21)]
REMOVED_HTML = page(
    "淘宝网 - 宝贝不存在",
    '<div id="J_ErrorNotice" data-item-id="L4"><div class="error-notice-hd">'
    "很抱歉，您查看的宝贝不存在，可能已下架或者被转移。</div></div>",
)
BACKOFF = 0.25


@pytest.mark.timeout(180)
def test_block_pages_with_status_200_are_never_removals_or_listings(tmp_path: Path) -> None:
    with FaultServer(items=list(ITEMS_17)) as server:
        first = crawl(tmp_path, server.url, "search", "--keywords", "盗梦空间", timeout=90)
        assert first.returncode == 0, first.output
        assert len(stored_listings(first.db)) == len(ITEMS_17)

        server.on("/item.htm?id=L1", ok(CAPTCHA_HTML))  # always
        # The first crawl made attempt 1: the login wall is attempt 2 only, then the page.
        server.on("/item.htm?id=L2", flaky(2, ok(LOGIN_HTML)))
        server.on("/item.htm?id=L3", ok(BUSY_HTML))  # "访问过于频繁", no block markers
        server.on("/item.htm?id=L4", ok(REMOVED_HTML))  # really removed
        before = {h.target: h.attempt for h in server.hits}
        result = crawl(tmp_path, server.url, "listing", "--due-hours", "0",
                       "--set", f"REELGUARD_BLOCK_BACKOFF={BACKOFF}",
                       "--set", "REELGUARD_BLOCK_RETRY_TIMES=3", timeout=120)
        l1 = [h for h in server.item_hits("L1") if h.attempt > before["/item.htm?id=L1"]]
        l3 = [h for h in server.item_hits("L3") if h.attempt > before["/item.htm?id=L3"]]

    assert result.returncode == 0, result.output
    no_traceback(result)
    # Backed off: four tries of the captcha page, each after a pause.
    assert len(l1) == len(l3) == 4
    for hits in (l1, l3):
        gaps = [b.at - a.at for a, b in itertools.pairwise(hits)]
        assert all(g >= BACKOFF * 0.9 for g in gaps), gaps

    stored = {x.listing_id: x for x in stored_listings(result.db)}
    assert len(stored) == len(ITEMS_17)
    assert {lid for lid, x in stored.items() if x.status != "active"} == {"L4"}
    for lid in ("L1", "L2", "L3"):
        assert stored[lid].title == ITEMS_17[int(lid[1:]) - 1].title, stored[lid]

    run1, run2 = runs(result.db)
    assert run2.status == "finished", run2.exit_reason
    with opened(result.db) as s:
        from crawler.db.models import Listing
        ids = dict(s.execute(select(Listing.listing_key, Listing.id)).all())
    seen_in_run2 = {listing for listing, run, _, _ in observations(result.db) if run == run2.id}
    assert ids["L1"] not in seen_in_run2 and ids["L3"] not in seen_in_run2
    assert ids["L2"] in seen_in_run2  # the login wall went away on the retry

    run2_events = [e for e in events(result.db) if e.run_id == run2.id]
    blocked = [e for e in run2_events if e.kind == "blocked"]
    assert sorted((e.url or "").rsplit("=", 1)[1] for e in blocked) == (
        ["L1"] * 4 + ["L2"] + ["L3"] * 4)
    assert all("captcha" in (e.reason or "") for e in blocked if e.url.endswith("L1"))
    assert all("rate_limited" in (e.reason or "") and "访问过于频繁" in (e.reason or "")
               for e in blocked if e.url.endswith("L3"))
    assert [e.url for e in run2_events if e.kind == "removed"] == [f"{server.url}/item.htm?id=L4"]
    assert [e.url for e in run2_events if e.kind == "unknown_page"] == []
    assert run2.stats["reelguard/blocked"] == 9
    assert run2.stats["reelguard/blocked/gave_up"] == 2
    assert run1.status == "finished"
