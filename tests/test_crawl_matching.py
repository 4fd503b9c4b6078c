"""Matching inside the crawl: a search crawl of the demo marketplaces stores a match per
listing and member, with the engine's signals, and the decisions agree with the demo data's
ground truth (which the pages never show).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.db.models import Listing, Marketplace, Match
from tests.crawl_support import (
    PRIVATE_OK,
    REPO,
    child_env,
    listing_data,
    opened,
    run_cli,
    serve_both,
    sqlite_url,
    url_args,
)

CATALOG = REPO / "fixtures" / "catalogs" / "sample_catalog.csv"
AUTHORIZED = REPO / "fixtures" / "catalogs" / "authorized.csv"


@pytest.fixture(scope="module")
def demo_urls():
    with serve_both() as urls:
        yield urls


def _decisions(db: str) -> dict[tuple[str, str], list[Match]]:
    with opened(db) as session:
        rows = session.execute(
            select(Marketplace.name, Listing.listing_key, Match)
            .join(Listing, Listing.id == Match.listing_id)
            .join(Marketplace, Marketplace.id == Listing.marketplace_id)
        ).all()
        session.expunge_all()
    out: dict[tuple[str, str], list[Match]] = {}
    for market, key, match in rows:
        out.setdefault((market, key), []).append(match)
    return out


@pytest.mark.timeout(180)
def test_crawl_stores_matches_with_signals_that_agree_with_the_ground_truth(
    tmp_path: Path, demo_urls: dict[str, str]
) -> None:
    db = sqlite_url(tmp_path)
    env = child_env(**PRIVATE_OK)
    imported = run_cli("catalog", "import", str(CATALOG), "--authorized", str(AUTHORIZED),
                       "--db", db, cwd=tmp_path, env=env)
    assert imported.returncode == 0, imported.stderr
    proc = run_cli("crawl", "search", "--keywords", "盗梦空间,Inception,The Matrix",
                   *url_args(demo_urls), "--db", db, cwd=tmp_path, env=env, timeout=150)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]

    decisions = _decisions(db)
    with opened(db) as session:
        stored = session.execute(
            select(Marketplace.name, Listing.listing_key)
            .join(Marketplace, Marketplace.id == Listing.marketplace_id)
        ).all()
    assert len(stored) > 40
    flagged = right = infringing_total = infringing_found = 0
    for market, key in stored:
        truth = listing_data(market, key)
        rows = decisions.get((market, key), [])
        takedown = [m for m in rows if m.decision in ("takedown", "review")]
        member_ids = {c for m in rows for c in (m.catalog_ids or [])}
        if truth["infringing"] and set(truth["catalog_ids"]) & member_ids:
            infringing_total += 1
            infringing_found += bool(takedown)
        if takedown:
            flagged += 1
            right += bool(truth["infringing"])
        for m in rows:
            # Every stored decision explains itself.
            assert m.signals, (market, key, m.decision)
            assert all({"name", "weight", "evidence"} <= set(s) for s in m.signals)
            assert 0.0 <= m.score <= 1.0
    assert flagged >= 10, "the crawl found too few pirated listings to judge"
    assert right / flagged >= 0.95, (right, flagged)
    assert infringing_found / infringing_total >= 0.9, (infringing_found, infringing_total)


@pytest.mark.timeout(180)
def test_authorised_official_shops_are_never_flagged(tmp_path: Path,
                                                     demo_urls: dict[str, str]) -> None:
    db = sqlite_url(tmp_path)
    env = child_env(**PRIVATE_OK)
    assert run_cli("catalog", "import", str(CATALOG), "--authorized", str(AUTHORIZED),
                   "--db", db, cwd=tmp_path, env=env).returncode == 0
    official = [line.split(",") for line in AUTHORIZED.read_text().splitlines()[1:]]
    sellers = [s for market, s, _ in official if market == "demomart"][:2]
    proc = run_cli("crawl", "storefront", "-m", "demomart", "--seller", ",".join(sellers),
                   *url_args(demo_urls), "--db", db, cwd=tmp_path, env=env, timeout=150)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    decisions = _decisions(db)
    assert decisions, "the official shops' listings name catalogue works: expected match rows"
    for (market, key), rows in decisions.items():
        assert all(m.decision == "none" for m in rows), (market, key, listing_data(market, key))
