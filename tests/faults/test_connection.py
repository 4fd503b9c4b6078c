"""Fault 2: connection refused, resets before and after the body, a body shorter than its
``Content-Length``, broken chunked encoding.

Each is retried (``RETRY_TIMES``), recorded as an ``error`` event with its cause when the
retries run out, and never stored as a listing, not even a truncated one: a page whose length
is known only from the connection closing and that stops before ``</html>`` is treated as cut
off (``crawler.middlewares.retry``). A fault that clears up on a retry loses nothing.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from crawler.db.models import Listing, Observation
from tests.crawl_support import count, stored_listings
from tests.faults.conftest import FAST, crawl, no_traceback, reasons, the_run
from tests.faults.server import (
    FaultServer,
    Item,
    broken_chunked,
    chunked_cut_short,
    flaky,
    reset_after_body,
    reset_after_headers,
    reset_before_response,
    short_body,
    truncated_until_reset,
)

pytestmark = pytest.mark.faults

# Long titles, so that half a page stops inside the listing's fields.
ITEMS_2 = [Item(f"L{i}", f"盗梦空间{i} 蓝光 BD50 高清收藏版 " + "珍藏" * 40, f"{20 + i}.00")
           for i in range(1, 10)]
ALWAYS = {
    "L1": ("reset before the response", reset_before_response, "ConnectionLost"),
    "L3": ("reset after the headers", reset_after_headers, "ResponseDataLossError"),
    "L4": ("body shorter than Content-Length", short_body, "ResponseDataLossError"),
    "L5": ("chunk size not hex", broken_chunked, "Chunk-size must be an integer"),
    "L6": ("chunk shorter than announced", chunked_cut_short, "ResponseDataLossError"),
    "L7": ("no length, half the page, reset", truncated_until_reset, "page cut off"),
}


@pytest.mark.timeout(120)
def test_broken_connections_are_retried_recorded_and_never_stored(tmp_path: Path) -> None:
    with FaultServer(items=list(ITEMS_2)) as server:
        for listing_id, (_, fault, _) in ALWAYS.items():
            server.on(f"/item.htm?id={listing_id}", fault)
        server.on("/item.htm?id=L2", flaky(2, reset_before_response))  # clears up
        server.on("/item.htm?id=L8", reset_after_body)  # the whole page, then a reset
        server.on("/item.htm?id=L9", flaky(1, short_body))  # clears up
        result = crawl(tmp_path, server.url, "search", "--keywords", "电影", *FAST, timeout=90)

        assert result.returncode == 0, result.output
        no_traceback(result)
        assert result.seconds < 60, result.output
        for listing_id, (what, _, _) in ALWAYS.items():
            assert len(server.item_hits(listing_id)) == 4, what  # RETRY_TIMES=3
        assert len(server.item_hits("L2")) == 3
        assert len(server.item_hits("L9")) == 2
        assert len(server.item_hits("L8")) == 1

    # Stored: exactly the listings whose whole page arrived, every field intact.
    stored = {x.listing_id: x for x in stored_listings(result.db)}
    assert set(stored) == {"L2", "L8", "L9"}, stored
    for x in ITEMS_2:
        if x.id in stored:
            assert (stored[x.id].title, stored[x.id].price) == (x.title, float(x.price))
    assert count(result.db, Observation) == 3

    errors = reasons(result, "error")
    assert set(errors) == {f"{server.url}/item.htm?id={i}" for i in ALWAYS}, errors
    for listing_id, (what, _, needle) in ALWAYS.items():
        [reason] = errors[f"{server.url}/item.htm?id={listing_id}"]
        assert needle in reason, (what, reason)
    run = the_run(result)
    assert run.status == "finished", run.exit_reason
    assert run.errors == len(ALWAYS)
    assert run.stats["retry/max_reached"] == len(ALWAYS)
    assert run.stats["reelguard/retry/truncated"] == 4


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.timeout(90)
def test_connection_refused_is_retried_then_fails_the_run(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{_closed_port()}"
    result = crawl(tmp_path, base, "search", "--keywords", "电影", *FAST, timeout=60)

    assert result.returncode == 6, result.output  # fetched nothing: the crawl failed
    no_traceback(result)
    assert "error:" in result.stderr and "refused" in result.stderr.lower(), result.output
    assert result.seconds < 45, result.output
    # robots.txt is the first request to the host: tried 1 + RETRY_TIMES times, then the host
    # counts as unreachable (RFC 9309: crawl nothing) and the search page is not tried.
    errors = reasons(result, "error")
    [reason] = errors[f"{base}/robots.txt"]
    assert "refused" in reason.lower() and "nothing on" in reason, reason
    assert list(reasons(result, "robots")) == [f"{base}/search?q=%E7%94%B5%E5%BD%B1&s=0"]
    run = the_run(result)
    assert run.status == "failed" and "fetched 0 pages" in (run.exit_reason or "")
    assert run.stats["retry/max_reached"] == 1, run.stats
    assert run.stats["retry/count"] == 3, run.stats
    assert count(result.db, Listing) == 0
