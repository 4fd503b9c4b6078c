"""Block pages (captchas, login walls, "Pardon Our Interruption") under a rate-limited demo site.

A block page is never stored as content; it is recorded (``crawl_events`` kind ``blocked``),
counted (``reelguard/blocked``) and retried after a backoff, so most listings are still stored.
A site that blocks nearly everything fails the run ("mostly blocked", exit code 6).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.demo.server import SiteOptions
from tests.crawl_support import (
    PRIVATE_OK,
    assert_one_line_error,
    child_env,
    events,
    expected_search,
    listing_data,
    run_cli,
    runs,
    serve_both,
    sqlite_url,
    stored_listings,
    url_args,
)

SEARCHES = {"demomart": "黑暗骑士", "demobay": "Inception"}
BLOCK_TITLES = ("验证码", "淘！我喜欢", "Pardon Our Interruption", "captcha", "login")


def _crawl(tmp_path: Path, db: str, urls: dict[str, str], *extra: str):
    return run_cli("crawl", "search", "-m", "demomart,demobay", "--keywords",
                   ",".join(SEARCHES.values()), "--db", db, *url_args(urls), *extra,
                   cwd=tmp_path, env=child_env(**PRIVATE_OK), timeout=150)


@pytest.mark.timeout(180)
def test_rate_limited_site_blocks_are_recorded_and_retried(tmp_path: Path) -> None:
    db = sqlite_url(tmp_path)
    with serve_both(SiteOptions(rate_limit=5, burst=5)) as urls:
        proc = _crawl(tmp_path, db, urls)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    [run] = runs(db)
    assert run.status == "finished", run.exit_reason
    assert run.stats["reelguard/blocked"] > 0
    assert run.blocked == run.stats["reelguard/blocked"]
    blocked = events(db, "blocked")
    assert len(blocked) == run.stats["reelguard/blocked"]
    # demomart answers with its captcha and its login wall in turn, demobay with its own page.
    assert {e.marketplace for e in blocked} == {"demomart", "demobay"}
    assert any("login" in (e.reason or "") for e in blocked if e.marketplace == "demomart")
    assert any("captcha" in (e.reason or "") for e in blocked if e.marketplace == "demomart")

    stored = stored_listings(db)
    for x in stored:
        assert not any(t.lower() in x.title.lower() for t in BLOCK_TITLES), x
        assert x.title == " ".join(listing_data(x.marketplace, x.listing_id)["title"].split())
    for market in SEARCHES:
        want = set().union(*(expected_search(market, kw) for kw in SEARCHES.values()))
        got = {x.listing_id for x in stored if x.marketplace == market}
        assert got <= want
        # Retries recover the blocked pages: (almost) every listing is stored.
        assert len(got) >= 0.9 * len(want), (market, len(got), len(want))


@pytest.mark.timeout(120)
def test_site_that_always_blocks_fails_the_run(tmp_path: Path) -> None:
    db = sqlite_url(tmp_path)
    # One request per client, then a block page for the next 100 s. No backoff: the block
    # middleware's pauses (up to 60 s) outlast the crawl's close.
    with serve_both(SiteOptions(rate_limit=0.01, burst=1)) as urls:
        proc = _crawl(tmp_path, db, urls, "--set", "REELGUARD_BLOCK_BACKOFF=0",
                      "--set", "REELGUARD_BLOCK_RETRY_TIMES=1", "--set", "REELGUARD_MAX_BLOCKED=8")
    line = assert_one_line_error(proc, 6, "mostly blocked")
    assert "login walls or captchas" in line
    [run] = runs(db)
    assert run.status == "failed" and "mostly blocked" in (run.exit_reason or "")
    assert run.stats["reelguard/blocked"] >= 8
    assert len(events(db, "blocked")) >= 8
    for x in stored_listings(db):
        assert not any(t.lower() in x.title.lower() for t in BLOCK_TITLES), x
