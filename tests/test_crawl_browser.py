"""JavaScript-only search pages: found through the browser (auto), not at all without it (never).

demomart renders the result pages of ``site.json``'s ``js_only_queries`` only with JavaScript
(an empty shell filled from ``/api/search``). Drives Debian's chromium through Playwright.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.crawl_support import (
    PRIVATE_OK,
    child_env,
    events,
    mart,
    run_cli,
    runs,
    serve,
    sqlite_url,
    stored_listings,
)

pytestmark = pytest.mark.browser


def _api_search(base: str, keyword: str) -> list[str]:
    """Every listing id the site's own ``/api/search`` returns for ``keyword``, all pages."""
    ids: list[str] = []
    offset = 0
    while True:
        with urllib.request.urlopen(f"{base}/api/search?q={quote(keyword)}&s={offset}",
                                    timeout=10) as resp:
            data = json.load(resp)
        ids += [item["id"] for item in data["items"]]
        if not data["next_url"]:
            return ids
        offset += data["page_size"]


@pytest.fixture(scope="module")
def mart_url():
    with serve("demomart") as url:
        yield url


@pytest.fixture(scope="module")
def keyword() -> str:
    kw = mart().site["js_only_queries"][0]
    assert mart().ranked(kw), "a JS-only keyword with no results would prove nothing"
    return str(kw)


def _crawl(tmp_path: Path, db: str, url: str, keyword: str, browser: str):
    return run_cli("crawl", "search", "-m", "demomart", "--keywords", keyword, "--db", db,
                   "--url", f"demomart={url}", cwd=tmp_path,
                   env=child_env(REELGUARD_BROWSER=browser, **PRIVATE_OK), timeout=150)


@pytest.mark.timeout(180)
def test_js_only_search_is_found_through_the_browser(tmp_path: Path, mart_url, keyword) -> None:
    # Over plain HTTP the result page is an empty shell: no listing cards in it.
    with urllib.request.urlopen(f"{mart_url}/search?q={quote(keyword)}", timeout=10) as resp:
        shell = resp.read().decode("utf-8")
    assert 'data-nid="' not in shell

    db = sqlite_url(tmp_path)
    proc = _crawl(tmp_path, db, mart_url, keyword, "auto")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    got = {x.listing_id for x in stored_listings(db)}
    assert got == set(_api_search(mart_url, keyword))
    [run] = runs(db)
    assert run.status == "finished", run.exit_reason
    assert run.stats["reelguard/browser/escalated"] >= 1
    assert run.stats.get("reelguard/browser/demomart", 0) >= 1


@pytest.mark.timeout(120)
def test_js_only_search_without_browser_finds_nothing_and_says_so(
    tmp_path: Path, mart_url, keyword
) -> None:
    db = sqlite_url(tmp_path)
    proc = _crawl(tmp_path, db, mart_url, keyword, "never")
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    assert stored_listings(db) == []
    [run] = runs(db)
    assert "JavaScript" in (run.exit_reason or "")
    assert "REELGUARD_BROWSER=never" in " ".join(out.split())
    assert run.stats.get("reelguard/browser/escalated", 0) == 0
    assert run.stats["reelguard/browser/needed_but_off"] == 1
    [event] = events(db, "needs_browser")
    assert quote(keyword) in event.url and event.marketplace == "demomart"
