"""The listing spider marks gone listings removed; the storefront spider stores whole shops.

Removal needs a listing that was stored while it was on sale: a copy of demomart's data in
which a removed listing is still active (and one more listing exists) is served first and
searched; the real data, where one is removed and the other unknown (404), is served next and
``reelguard crawl listing --urls`` re-checks both.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.db.models import Listing
from crawler.demo.server import SITES_DIR, SiteOptions
from tests.crawl_support import (
    PRIVATE_OK,
    child_env,
    events,
    listing_data,
    mart,
    opened,
    run_cli,
    runs,
    seller_data,
    sellers,
    serve,
    sqlite_url,
    stored_listings,
)


def _then_and_now(tmp_path: Path) -> tuple[Path, str, str]:
    """A data dir in which removed listing R is active and extra listing N exists: (dir, R, N)."""
    src = SITES_DIR / "demomart"
    then = tmp_path / "then"
    then.mkdir()
    for name in ("site.json", "sellers.jsonl"):
        shutil.copy(src / name, then / name)
    rows = [json.loads(line) for line in (src / "listings.jsonl").read_text("utf-8").splitlines()
            if line.strip()]
    removed = next(r for r in rows if r["status"] == "removed")
    removed["status"] = "active"
    extra = {**removed, "id": "999000000001"}
    assert extra["id"] not in mart().listings
    rows.append(extra)
    (then / "listings.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return then, str(removed["id"]), extra["id"]


@pytest.mark.timeout(120)
def test_listing_crawl_marks_removed_and_404_listings_removed(tmp_path: Path) -> None:
    then, removed_id, gone_id = _then_and_now(tmp_path)
    db = sqlite_url(tmp_path)
    env = child_env(**PRIVATE_OK)
    title = listing_data("demomart", removed_id)["title"]
    with serve("demomart", SiteOptions(data_dir=str(then))) as url:
        proc = run_cli("crawl", "search", "-m", "demomart", "--keywords", title, "--db", db,
                       "--url", f"demomart={url}", cwd=tmp_path, env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    before = {x.listing_id: x for x in stored_listings(db)}
    assert before[removed_id].status == before[gone_id].status == "active"

    with serve("demomart") as url:
        urls = f"{url}/item.htm?id={removed_id},{url}/item.htm?id={gone_id}"
        proc = run_cli("crawl", "listing", "-m", "demomart", "--urls", urls, "--db", db,
                       "--url", f"demomart={url}", cwd=tmp_path, env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    after = {x.listing_id: x for x in stored_listings(db)}
    assert after[removed_id].status == "removed"
    assert after[gone_id].status == "removed"
    untouched = set(before) - {removed_id, gone_id}
    assert all(after[i].status == "active" for i in untouched)
    with opened(db) as s:
        removed_at = dict(s.execute(select(Listing.listing_key, Listing.removed_at)).all())
    assert removed_at[removed_id] is not None and removed_at[gone_id] is not None
    listing_run = runs(db)[-1]
    assert listing_run.job == "listing" and listing_run.status == "finished"
    gone = {e.url: e.reason for e in events(db, "removed") if e.run_id == listing_run.id}
    assert set(gone) == set(urls.split(","))
    assert gone[f"{url}/item.htm?id={gone_id}"] == "HTTP 404"
    assert not events(db, "error")


@pytest.mark.timeout(120)
def test_storefront_crawl_stores_profile_licence_and_every_listing(tmp_path: Path) -> None:
    m = mart()
    licensed = min((s for s, v in m.sellers.items() if v["licence"]),
                   key=lambda s: len(m.shop_listings.get(s, [])))
    # A shop without a licence block and with more than one page of listings (24 a page).
    unlicensed = next(s for s, v in m.sellers.items()
                      if not v["licence"] and 24 < len(m.shop_listings.get(s, [])) <= 48)
    db = sqlite_url(tmp_path)
    with serve("demomart") as url:
        proc = run_cli("crawl", "storefront", "-m", "demomart", "--seller",
                       f"{licensed},{unlicensed}", "--db", db, "--url", f"demomart={url}",
                       cwd=tmp_path, env=child_env(**PRIVATE_OK))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]

    stored = sellers(db)
    lic = stored[("demomart", licensed)]
    want = seller_data("demomart", licensed)["licence"]
    assert lic.has_licence_block is True
    assert lic.licence_number == want["number"]
    assert lic.licence_holder == want["holder"]
    assert lic.shop_name == seller_data("demomart", licensed)["shop_name"]
    nolic = stored[("demomart", unlicensed)]
    assert nolic.has_licence_block is False
    assert nolic.licence_number is None
    assert nolic.shop_name == seller_data("demomart", unlicensed)["shop_name"]

    listings = stored_listings(db)
    for sid in (licensed, unlicensed):
        got = {x.listing_id for x in listings if x.seller == sid}
        assert got == set(m.shop_listings[sid]), sid
    assert len(listings) == len(m.shop_listings[licensed]) + len(m.shop_listings[unlicensed])
    assert all(x.status == "active" for x in listings)
    [run] = runs(db)
    assert run.status == "finished" and run.job == "storefront"
