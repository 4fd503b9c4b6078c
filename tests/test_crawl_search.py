"""Search crawls over real HTTP on loopback: what is stored matches the demo data files.

Every crawl runs as a child process (``reelguard crawl search`` or ``scrapy crawl search``)
against the demo marketplaces served by this process; the tests read the database it wrote.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

from crawler.db.models import Listing, Observation, Seller
from tests.crawl_support import (
    BIN,
    PRIVATE_OK,
    REPO,
    child_env,
    count,
    expected_search,
    listing_data,
    observations,
    removed_ids,
    run_cli,
    runs,
    sellers,
    serve_both,
    sqlite_url,
    stored_listings,
    url_args,
)

KEYWORDS = ("黑暗骑士", "Inception")
CURRENCY = {"demomart": "CNY", "demobay": "USD"}


@pytest.fixture(scope="module")
def demo_urls():
    with serve_both() as urls:
        yield urls


def _search(tmp_path: Path, db: str, urls: dict[str, str], keywords: str,
            markets: str = "demomart,demobay") -> subprocess.CompletedProcess[str]:
    return run_cli("crawl", "search", "-m", markets, "--keywords", keywords, "--db", db,
                   *url_args(urls), cwd=tmp_path, env=child_env(**PRIVATE_OK))


@pytest.mark.timeout(60)
def test_scrapy_list_names_the_three_spiders() -> None:
    proc = subprocess.run([str(BIN / "scrapy"), "list"], cwd=REPO, env=child_env(),
                          capture_output=True, text=True, timeout=50, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["listing", "search", "storefront"]


@pytest.mark.timeout(90)
def test_scrapy_crawl_search_from_repo_root_stores_listings(tmp_path: Path, demo_urls) -> None:
    db = sqlite_url(tmp_path)
    env = child_env(
        REELGUARD_MARKETPLACE_URLS=f"demomart={demo_urls['demomart']}",
        REELGUARD_DATABASE_URL=db,
        **PRIVATE_OK,
    )
    proc = subprocess.run(
        [str(BIN / "scrapy"), "crawl", "search", "-a", "marketplace=demomart",
         "-a", "keywords=Fight Club", "-s", "LOG_LEVEL=WARNING"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=80, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    stored = {x.listing_id for x in stored_listings(db)}
    assert stored == set(expected_search("demomart", "Fight Club"))
    [run] = runs(db)
    assert run.status == "finished" and run.job == "search"


@pytest.mark.timeout(120)
def test_search_both_marketplaces_stores_what_the_sites_list(tmp_path: Path, demo_urls) -> None:
    db = sqlite_url(tmp_path)
    proc = _search(tmp_path, db, demo_urls, ",".join(KEYWORDS))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "finished" in proc.stdout and "demomart" in proc.stdout and "demobay" in proc.stdout

    stored = stored_listings(db)
    for market in ("demomart", "demobay"):
        want = set().union(*(expected_search(market, kw) for kw in KEYWORDS))
        got = {x.listing_id for x in stored if x.marketplace == market}
        assert want, f"{market}: the keywords find nothing; the test would prove nothing"
        assert got == want, (market, sorted(want - got)[:5], sorted(got - want)[:5])
        # A removed listing whose title holds the keyword is not shown, so not stored.
        removed = removed_ids(market)
        assert not (got & removed)
    # The precondition of the last check: demobay has a removed "Inception" listing.
    assert any("inception" in listing_data("demobay", i)["title"].lower()
               for i in removed_ids("demobay"))

    for x in stored:
        data = listing_data(x.marketplace, x.listing_id)
        assert x.title == " ".join(data["title"].split()), (x.title, data["title"])
        assert x.price == pytest.approx(float(data["price"])), (x, data["price"])
        assert x.currency == CURRENCY[x.marketplace]
        assert x.seller == str(data["seller_id"])
        assert x.status == "active"
        assert x.url.startswith(demo_urls[x.marketplace] + "/")
    # Every seller of a stored listing is stored, and only those.
    assert {(x.marketplace, x.seller) for x in stored} == set(sellers(db))

    [run] = runs(db)
    assert run.status == "finished", run.exit_reason
    assert run.finished_at is not None and run.stats
    assert run.stats["item_scraped_count"] >= len(stored)
    assert run.pages >= len(stored)
    obs = observations(db)
    assert len(obs) == len(stored)
    assert Counter((lid, rid) for lid, rid, _, _ in obs).most_common(1)[0][1] == 1
    assert {rid for _, rid, _, _ in obs} == {run.id}
    assert {src for *_, src in obs} == {"search"}


@pytest.mark.timeout(150)
def test_search_twice_is_idempotent(tmp_path: Path, demo_urls, empty_db_url: str) -> None:
    """Run the same crawl twice (SQLite and a fresh PostgreSQL database)."""
    first = _search(tmp_path, empty_db_url, demo_urls, "Fight Club")
    assert first.returncode == 0, (first.stdout + first.stderr)[-3000:]
    listings_1 = stored_listings(empty_db_url)
    sellers_1 = count(empty_db_url, Seller)
    second = _search(tmp_path, empty_db_url, demo_urls, "Fight Club")
    assert second.returncode == 0, (second.stdout + second.stderr)[-3000:]
    listings_2 = stored_listings(empty_db_url)

    want = set(expected_search("demomart", "Fight Club")) | set(
        expected_search("demobay", "Fight Club"))
    assert len(listings_1) == len(want) > 0
    assert len(listings_2) == len(listings_1) == count(empty_db_url, Listing)
    keys = Counter((x.marketplace, x.listing_id) for x in listings_2)
    assert max(keys.values()) == 1
    assert count(empty_db_url, Seller) == sellers_1 > 0
    r1, r2 = runs(empty_db_url)
    assert r1.status == r2.status == "finished"
    obs = observations(empty_db_url)
    assert count(empty_db_url, Observation) == 2 * len(listings_1)
    per_run = Counter(rid for _, rid, _, _ in obs)
    assert per_run == {r1.id: len(listings_1), r2.id: len(listings_1)}
    assert max(Counter((lid, rid) for lid, rid, _, _ in obs).values()) == 1
