"""Fault 1: 500, 502, 503 and 429, with and without ``Retry-After``.

Retries are bounded (``RETRY_TIMES``), the backoff honours ``Retry-After`` (seconds or an HTTP
date) and is exponential without it, a ``Retry-After`` beyond ``REELGUARD_RETRY_AFTER_MAX`` is
not waited for, and every request given up is an ``error`` event on the crawl run with its
status; listings whose pages came back after a retry are stored as usual.
"""

from __future__ import annotations

import email.utils
import itertools
import time
from pathlib import Path

import pytest

from tests.crawl_support import stored_listings
from tests.faults.conftest import ITEMS, crawl, no_traceback, reasons, the_run
from tests.faults.server import Exchange, FaultServer, Item, flaky, status

pytestmark = pytest.mark.faults

ITEMS_1 = [*ITEMS, Item("L5", "蝙蝠侠 前传 DVD", "9.90"), Item("L6", "记忆碎片 蓝光", "30.00"),
           Item("L7", "敦刻尔克 4K", "45.00")]
BASE = 0.2  # REELGUARD_RETRY_BACKOFF_BASE: backoffs of 0.1-0.2, 0.2-0.4, 0.4-0.8 s


def _retry_after_date(seconds: float):  # type: ignore[no-untyped-def]
    """503 with ``Retry-After`` as an HTTP date ``seconds`` from the moment it is sent."""
    def handler(ex: Exchange) -> None:
        when = email.utils.formatdate(time.time() + seconds, usegmt=True)
        status(503, retry_after=when)(ex)
    return handler


def _gaps(hits) -> list[float]:  # type: ignore[no-untyped-def]
    return [b.at - a.at for a, b in itertools.pairwise(hits)]


@pytest.mark.timeout(120)
def test_error_statuses_are_retried_with_backoff_and_recorded(tmp_path: Path) -> None:
    with FaultServer(items=list(ITEMS_1)) as server:
        server.on("/search", flaky(1, status(503, retry_after="1")))
        server.on("/item.htm?id=L1", status(500))                      # always
        server.on("/item.htm?id=L2", flaky(1, status(502)))            # once
        server.on("/item.htm?id=L3", flaky(1, status(503, retry_after="2")))
        server.on("/item.htm?id=L4", flaky(2, status(429, retry_after="1")))
        server.on("/item.htm?id=L5", status(429, retry_after="3600"))  # beyond the max
        server.on("/item.htm?id=L6", status(503))                      # always, no Retry-After
        server.on("/item.htm?id=L7", flaky(1, _retry_after_date(2)))
        result = crawl(tmp_path, server.url, "search", "--keywords", "电影",
                       "--set", f"REELGUARD_RETRY_BACKOFF_BASE={BASE}", timeout=90)

        assert result.returncode == 0, result.output
        no_traceback(result)
        # Nothing waited an hour, and the waits add up to what the servers asked for.
        assert result.seconds < 60, result.output

        # Bounded: RETRY_TIMES=3 is four requests at most; a Retry-After beyond
        # REELGUARD_RETRY_AFTER_MAX (60 s) is given up at once.
        assert len(server.item_hits("L1")) == 4
        assert len(server.item_hits("L6")) == 4
        assert len(server.item_hits("L5")) == 1
        assert len(server.item_hits("L2")) == 2
        assert len(server.item_hits("L3")) == 2
        assert len(server.item_hits("L4")) == 3
        assert len(server.item_hits("L7")) == 2
        assert len(server.requests_for("/search")) == 2

        # Retry-After honoured (seconds and HTTP date; the date has one-second resolution).
        assert _gaps(server.requests_for("/search"))[0] >= 0.95
        assert _gaps(server.item_hits("L3"))[0] >= 1.95
        assert all(g >= 0.95 for g in _gaps(server.item_hits("L4")))
        # A date 2 s ahead, truncated to the second: a wait of more than 1 s, far above the
        # 0.1-0.2 s backoff the first retry would otherwise get.
        assert _gaps(server.item_hits("L7"))[0] >= 0.95
        # Without it, exponential backoff (BASE * 2**retry, jitter 50-100 %).
        gaps = _gaps(server.item_hits("L6"))
        assert [round(g, 2) for g in gaps] and all(
            g >= BASE * 2**i * 0.5 - 0.05 for i, g in enumerate(gaps)), gaps
        assert gaps[2] > gaps[0], gaps

    stored = {x.listing_id: x for x in stored_listings(result.db)}
    assert set(stored) == {"L2", "L3", "L4", "L7"}
    for x in ITEMS_1:
        if x.id in stored:
            assert stored[x.id].title == x.title and stored[x.id].price == float(x.price)

    run = the_run(result)
    assert run.status == "finished", run.exit_reason
    errors = reasons(result, "error")
    base = server.url
    assert errors == {
        f"{base}/item.htm?id=L1": ["HTTP 500"],
        f"{base}/item.htm?id=L5": ["HTTP 429"],
        f"{base}/item.htm?id=L6": ["HTTP 503"],
    }, errors
    assert run.errors == 3
    stats = run.stats or {}
    assert stats["retry/max_reached"] == 2  # L1, L6
    assert stats["reelguard/retry/retry_after_too_long"] == 1  # L5
    assert stats["reelguard/retry/retry_after_honoured"] == 5  # search, L3, L4 x2, L7
    assert stats["reelguard/errors"] == 3
