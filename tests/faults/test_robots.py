"""Fault 7: robots.txt disallow honoured, Crawl-delay applied, a 5xx or garbage robots.txt
handled by the documented policy (``crawler.middlewares.robots``, RFC 9309).

* The group for our user agent applies (not ``*``): what it disallows is never requested and
  each such page is a ``robots`` event; its ``Crawl-delay`` spaces every request to the host.
* A robots.txt that answers 5xx (after the retries) means "crawl nothing on this host": no
  page is requested, an ``error`` event says why, the run fails (exit 6) to be tried later.
* A robots.txt that is not robots.txt at all (binary junk, an HTML page), or a 404: no rules,
  everything is crawled.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from crawler.db.models import Listing
from tests.crawl_support import count, stored_listings
from tests.faults.conftest import FAST, ITEMS, crawl, no_traceback, reasons, the_run
from tests.faults.server import FaultServer, ok, page, status

pytestmark = pytest.mark.faults

DELAY = 0.8
ROBOTS = f"""# everybody else: nothing
User-agent: *
Disallow: /

User-agent: Reelguard
Disallow: /item.htm?id=L3
Crawl-delay: {DELAY}
"""


@pytest.mark.timeout(120)
def test_disallow_is_honoured_and_crawl_delay_applied(tmp_path: Path) -> None:
    with FaultServer(items=list(ITEMS), robots=ROBOTS) as server:
        result = crawl(tmp_path, server.url, "search", "--keywords", "电影", timeout=90)
        assert result.returncode == 0, result.output
        no_traceback(result)
        assert server.item_hits("L3") == []
        pages = [h for h in server.hits if h.path != "/robots.txt"]
        assert len(pages) == 4  # the search page, L1, L2, L4
        gaps = [b.at - a.at for a, b in itertools.pairwise(pages)]
        assert all(g >= DELAY - 0.1 for g in gaps), gaps

    assert sorted(x.listing_id for x in stored_listings(result.db)) == ["L1", "L2", "L4"]
    robots = reasons(result, "robots")
    assert robots == {f"{server.url}/item.htm?id=L3": ["forbidden by robots.txt"]}, robots
    run = the_run(result)
    assert run.status == "finished" and run.errors == 0, run.exit_reason
    assert run.stats[f"reelguard/robots/crawl_delay/127.0.0.1:{server.port}"] == DELAY


@pytest.mark.timeout(120)
def test_robots_txt_5xx_means_crawl_nothing_and_fail_the_run(tmp_path: Path) -> None:
    with FaultServer(items=list(ITEMS)) as server:
        server.on("/robots.txt", status(503))
        result = crawl(tmp_path, server.url, "search", "--keywords", "电影", *FAST, timeout=90)
        assert [h.path for h in server.hits] == ["/robots.txt"] * 4  # retried, then nothing

    assert result.returncode == 6, result.output
    no_traceback(result)
    assert "robots.txt answered HTTP 503" in result.stderr, result.output
    assert result.seconds < 60
    assert count(result.db, Listing) == 0
    errors = reasons(result, "error")
    [why] = errors[f"{server.url}/robots.txt"]
    assert "HTTP 503" in why and "nothing on" in why and "RFC 9309" in why
    robots = reasons(result, "robots")
    assert list(robots) == [f"{server.url}/search?q=%E7%94%B5%E5%BD%B1&s=0"]
    assert robots[f"{server.url}/search?q=%E7%94%B5%E5%BD%B1&s=0"][0].startswith(
        "not fetched: robots.txt answered HTTP 503")
    run = the_run(result)
    assert run.status == "failed" and "fetched 0 pages" in (run.exit_reason or "")


GARBAGE = b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe" + bytes(range(256)) * 4 + b"\nDisallow /\n"


@pytest.mark.parametrize(
    "robots",
    [ok(GARBAGE, "text/plain"),
     ok(page("验证码拦截", '<div id="nocaptcha" data-block="captcha">Disallow: /</div>')),
     status(404)],
    ids=["binary-junk", "html-page", "404"],
)
@pytest.mark.timeout(120)
def test_garbage_or_missing_robots_txt_allows_everything(tmp_path: Path, robots) -> None:  # type: ignore[no-untyped-def]
    with FaultServer(items=list(ITEMS)) as server:
        server.on("/robots.txt", robots)
        result = crawl(tmp_path, server.url, "search", "--keywords", "电影", timeout=90)
    assert result.returncode == 0, result.output
    no_traceback(result)
    assert sorted(x.listing_id for x in stored_listings(result.db)) == ["L1", "L2", "L3", "L4"]
    assert reasons(result, "robots") == {} and reasons(result, "error") == {}
    assert the_run(result).status == "finished"
