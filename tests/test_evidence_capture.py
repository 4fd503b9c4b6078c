"""Evidence captured from real pages: a demo listing rendered in chromium, and a whole crawl.

The browser test captures one demomart listing page (WARC, rendered HTML, full-page PNG,
fields, decision) with a dedicated chromium; the crawl test runs ``reelguard crawl search``
with the sample catalogue, then ``reelguard evidence verify`` (passes), ``reelguard evidence
export --listing`` (a WACZ), flips one byte of an artefact and verifies again (fails).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import urllib.request
import zipfile
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request

from crawler.db.session import make_engine, session_factory, upgrade
from crawler.evidence.capture import DedicatedRenderer, capture_listing
from crawler.evidence.store import EvidenceStore
from crawler.evidence.verify import verify
from crawler.items import CrawledListing, ListingItem
from crawler.pages import get_pages
from tests.crawl_support import PRIVATE_OK, REPO, child_env, mart, run_cli, serve, sqlite_url

CATALOG = REPO / "fixtures" / "catalogs" / "sample_catalog.csv"
AUTHORIZED = REPO / "fixtures" / "catalogs" / "authorized.csv"


@pytest.fixture(scope="module")
def demomart_url():
    with serve("demomart") as url:
        yield url


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_capture_of_a_demo_listing_page_in_the_browser(tmp_path: Path, demomart_url: str) -> None:
    key, data = next((k, v) for k, v in mart().listings.items() if v["status"] == "active")
    url = get_pages("demomart").listing_url(demomart_url, key)
    with urllib.request.urlopen(url, timeout=10) as fh:
        body = fh.read()
    response = HtmlResponse(url, body=body, request=Request(url),
                            headers={"Content-Type": "text/html; charset=utf-8"})
    item = CrawledListing(
        listing=ListingItem(listing_id=key, url=url, title=data["title"], marketplace="demomart"),
        response=response, decision={"decision": "review", "score": 0.7}, members=["m"],
    )
    db = sqlite_url(tmp_path)
    upgrade(db)
    engine = make_engine(db)
    store = EvidenceStore(tmp_path / "evidence")

    async def run():  # type: ignore[no-untyped-def]
        renderer = DedicatedRenderer(max_pages=1)
        try:
            return await capture_listing(item, sessions=session_factory(engine), store=store,
                                         renderer=renderer, user_agent="test")
        finally:
            await renderer.close()

    try:
        result = asyncio.run(run())
        by_kind = {r.kind: r for r in result.records}
        assert set(by_kind) == {"warc", "html", "screenshot", "fields", "decision"}
        png = store.read(by_kind["screenshot"].sha256)
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
        html = store.read(by_kind["html"].sha256).decode("utf-8")
        assert data["title"] in html
        assert json.loads(store.read(by_kind["fields"].sha256))["title"] == data["title"]
        assert len({r.captured_at for r in result.records}) == 1
        with session_factory(engine)() as session:
            assert verify(session, store).ok
    finally:
        engine.dispose()


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_crawl_captures_evidence_verify_passes_then_fails_after_a_flipped_byte(
    tmp_path: Path, demomart_url: str
) -> None:
    db = sqlite_url(tmp_path)
    env = child_env(**PRIVATE_OK)
    imported = run_cli("catalog", "import", str(CATALOG), "--authorized", str(AUTHORIZED),
                       "--db", db, cwd=tmp_path, env=env)
    assert imported.returncode == 0, imported.stderr
    # Linked-account images and WARCs (pipelines/identifiers.py) are tested on their own.
    crawl = run_cli("crawl", "search", "-m", "demomart", "--url", f"demomart={demomart_url}",
                    "--keywords", "盗梦空间", "--db", db, "--set", "REELGUARD_LINKING=false",
                    cwd=tmp_path, env=env, timeout=240)
    assert crawl.returncode == 0, crawl.stderr[-3000:]

    con = sqlite3.connect(tmp_path / "x.db")
    try:
        flagged = {r[0] for r in con.execute(
            "SELECT DISTINCT listing_id FROM matches WHERE decision IN ('takedown', 'review')")}
        captured = {r[0] for r in con.execute("SELECT DISTINCT listing_id FROM evidence")}
        kinds = {r[0] for r in con.execute("SELECT DISTINCT kind FROM evidence")}
        stats = json.loads(con.execute("SELECT stats FROM crawl_runs").fetchone()[0])
        shot = con.execute("SELECT sha256 FROM evidence WHERE kind = 'screenshot' "
                           "ORDER BY seq LIMIT 1").fetchone()[0]
    finally:
        con.close()
    assert flagged and captured == flagged
    assert kinds == {"warc", "html", "screenshot", "fields", "decision"}
    assert stats.get("reelguard/evidence/captured") == len(flagged)
    assert not stats.get("reelguard/evidence/failed")

    evidence_dir = tmp_path / "var" / "evidence"
    ok = run_cli("evidence", "verify", "--db", db, "--dir", str(evidence_dir), cwd=tmp_path,
                 env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK" in ok.stdout

    counts = run_cli("stats", "--json", "--db", db, cwd=tmp_path, env=env)
    assert json.loads(counts.stdout)["evidence"] == 5 * len(flagged)

    listing = min(flagged)
    out = tmp_path / "pkg.wacz"
    exported = run_cli("evidence", "export", "--listing", str(listing), "--out", str(out),
                       "--db", db, cwd=tmp_path, env=env)
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(out) as zf:
        assert "datapackage.json" in zf.namelist()

    path = EvidenceStore(evidence_dir).path(shot)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    bad = run_cli("evidence", "verify", "--db", db, cwd=tmp_path, env=env)  # default dir
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "FAIL changed: seq" in bad.stderr and shot in bad.stderr
    assert "Traceback" not in bad.stderr


def test_export_of_an_unknown_request_is_one_clear_error(tmp_path: Path) -> None:
    from tests.crawl_support import assert_one_line_error

    db = sqlite_url(tmp_path)
    proc = run_cli("evidence", "export", "4242", "--db", db, cwd=tmp_path)
    assert_one_line_error(proc, 1, "4242")
    both = run_cli("evidence", "export", "--db", db, cwd=tmp_path)
    assert_one_line_error(both, 2, "REQUEST_ID")
    empty = run_cli("evidence", "verify", "--db", db, cwd=tmp_path)
    assert empty.returncode == 0 and "0 entries" in empty.stdout
