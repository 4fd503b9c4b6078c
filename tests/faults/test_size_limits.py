"""Fault 4: a 200 MB body and a gzip bomb are dropped by the size limits; memory stays bounded.

``DOWNLOAD_MAXSIZE`` (16 MB) stops a body whose ``Content-Length`` announces 200 MB before
reading it, cancels one of unknown length (chunked) once 16 MB have arrived, and Scrapy's
``HttpCompressionMiddleware`` stops decompressing a gzip bomb (256 MB of zeros in 260 KB) at
16 MB. Each is an ``error`` event on the run; none is retried; the crawl's peak resident
memory stays far below the sizes involved.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crawl_support import stored_listings
from tests.faults.conftest import crawl, no_traceback, reasons, the_run
from tests.faults.server import FaultServer, gzip_bomb, gzip_bomb_bytes, huge_body

pytestmark = pytest.mark.faults

MB = 1024 * 1024
BOMB = 256 * MB
# A crawl of this size peaks at about 140 MB here; holding any of the three bodies whole
# would add at least 200 MB.
PEAK_LIMIT_MB = 260


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb_bytes(BOMB)  # a few seconds of zlib, once


@pytest.mark.timeout(180)
def test_huge_bodies_and_gzip_bombs_are_dropped_with_memory_bounded(
    tmp_path: Path, bomb: bytes, fault_server: FaultServer
) -> None:
    assert len(bomb) < MB
    server = fault_server  # L1-L4, stopped at teardown
    server.on("/item.htm?id=L1", huge_body(200 * MB, declare_length=True))
    server.on("/item.htm?id=L2", huge_body(200 * MB, declare_length=False))
    server.on("/item.htm?id=L3", gzip_bomb(BOMB))
    result = crawl(tmp_path, server.url, "search", "--keywords", "电影", timeout=150)

    assert result.returncode == 0, result.output
    no_traceback(result)
    assert result.seconds < 90, result.output
    # Dropped, not retried: the same body would come again.
    for listing_id in ("L1", "L2", "L3"):
        assert len(server.item_hits(listing_id)) == 1, listing_id
    # The client stopped reading: the server could not push its 200 MB.
    sent = [int(n.rsplit(" ", 1)[1]) for n in server.notes if n.startswith("huge_body")]
    assert len(sent) == 2 and all(n < 64 * MB for n in sent), server.notes
    assert result.peak_rss_mb < PEAK_LIMIT_MB, result.peak_rss_mb
    assert [x.listing_id for x in stored_listings(result.db)] == ["L4"]
    errors = reasons(result, "error")
    base = server.url
    assert set(errors) == {f"{base}/item.htm?id={i}" for i in ("L1", "L2", "L3")}, errors
    assert "larger than download max size" in errors[f"{base}/item.htm?id=L1"][0]
    assert "DOWNLOAD_MAXSIZE" in errors[f"{base}/item.htm?id=L2"][0]
    assert "during decompression" in errors[f"{base}/item.htm?id=L3"][0]
    run = the_run(result)
    assert run.status == "finished", run.exit_reason
    assert run.errors == 3
