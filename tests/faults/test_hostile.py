"""Fault 18: hostile listing text passes through matching, storage, export and every page that
shows it without harm.

The fault marketplace serves a listing titled ``<script>alert(1)</script>=HYPERLINK("http://x")``
plus a BEL character, a catalogue title and 1 MB of text; a second listing whose title starts
with a spreadsheet formula; their seller's name carries a terminal escape sequence and markup.
One search crawl (sample catalogue) matches, stores and queues both; then, each in bounded
time and without a traceback:

* storage: control characters removed, the title capped (``MAX_TITLE``), the markup kept as
  text (escaping is the job of whatever shows it);
* ``reelguard takedown export --format csv``: every cell a spreadsheet could run is
  neutralised (a leading ``'``), and ``--format json`` round-trips the stored titles;
* ``reelguard listings`` and ``reelguard sellers show``: bounded output, no control characters
  (no BEL, no ESC sequences) reach the terminal;
* ``reelguard case build`` (the investigation case file): ``report.html`` shows the title
  escaped, never as a live ``<script>``.

Evidence is captured in the real browser: the page 1 MB of text tall (about 450,000 pixels,
more than chromium can screenshot) is captured from the top down to the screenshot height cap,
so both listings have their five artefacts and the chain verifies.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.catalog.store import import_catalog
from crawler.db.models import Listing, Match
from crawler.db.models_evidence import EvidenceRecord
from crawler.storage import open_database
from tests.crawl_support import PRIVATE_OK, REPO, child_env, opened, run_cli, sqlite_url
from tests.faults.conftest import crawl, no_traceback, the_run
from tests.faults.server import FaultServer, Item

pytestmark = pytest.mark.faults

CATALOG = REPO / "fixtures" / "catalogs" / "sample_catalog.csv"
HOSTILE = '<script>alert(1)</script>=HYPERLINK("http://x")\x07'
MEGABYTE = "lorem ipsum dolor sit amet " * 40_000  # 1 MB of text
NICK = "=cmd|' /C calc'!A0\x1b[31m<b>影音</b>\x1b]0;pwned\x07"
ITEMS_18 = [
    Item("H1", HOSTILE + " 盗梦空间 蓝光 BD50 网盘 " + MEGABYTE, "5.00", nick=NICK),
    Item("H2", '=HYPERLINK("http://x","盗梦空间 蓝光 网盘")\x07<img src=x onerror=alert(2)>',
         "6.00", nick=NICK),
]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cli(tmp_path: Path, name: str, args: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """``reelguard ARGS`` on a copy of the crawl's database of its own: the commands run side
    by side, and SQLite would make each wait for the others' writes (ledger refreshes)."""
    copy = tmp_path / f"{name}.db"
    with sqlite3.connect(tmp_path / "faults.db") as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    return run_cli(*args, "--db", f"sqlite:///{copy}", cwd=tmp_path,
                   env=child_env(**PRIVATE_OK), timeout=60)


@pytest.mark.timeout(180)
def test_hostile_listing_text_through_matching_storage_export_and_display(
    tmp_path: Path,
) -> None:
    assert len(ITEMS_18[0].title.encode()) > 1_000_000
    db = sqlite_url(tmp_path, "faults.db")
    database = open_database(db)
    try:
        import_catalog(database, str(CATALOG))
    finally:
        database.engine.dispose()

    with FaultServer(items=list(ITEMS_18)) as server:
        result = crawl(tmp_path, server.url, "search", "--keywords", "盗梦空间", timeout=120)
    assert result.returncode == 0, result.output
    no_traceback(result)
    assert result.seconds < 60, result.seconds
    run = the_run(result)
    assert run.status == "finished" and run.errors == 0, run.exit_reason

    # Matched and stored: markup kept as text, control characters gone, length capped.
    with opened(db) as s:
        titles = dict(s.execute(select(Listing.listing_key, Listing.title)).all())
        matched = {k for k, in s.execute(
            select(Listing.listing_key).join(Match, Match.listing_id == Listing.id)
            .where(Match.decision == "takedown"))}
    assert matched == {"H1", "H2"}
    assert titles["H1"].startswith('<script>alert(1)</script>=HYPERLINK("http://x") 盗梦空间')
    assert 1000 >= len(titles["H1"]) > 900
    assert not any(CONTROL.search(t) for t in titles.values()), titles
    assert run.stats["reelguard/queue/opened"] == 2
    with opened(db) as s:
        kinds = {(k, kind) for k, kind in s.execute(
            select(Listing.listing_key, EvidenceRecord.kind)
            .join(EvidenceRecord, EvidenceRecord.listing_id == Listing.id))}
    assert kinds == {(k, kind) for k in ("H1", "H2")
                     for kind in ("warc", "html", "screenshot", "fields", "decision")}
    assert run.stats.get("reelguard/evidence/failed") is None

    out = tmp_path / "out"
    out.mkdir()
    commands = {
        "csv": ("takedown", "export", "--format", "csv", "--out", str(out / "notices.csv")),
        "json": ("takedown", "export", "--format", "json", "--out", str(out / "notices.json")),
        "listings": ("listings",),
        "seller": ("sellers", "show", "shop1", "-m", "demomart"),
        "case": ("case", "build", "-m", "demomart", "--seller", "shop1", "--out",
                 str(out / "cases"), "--json"),
    }
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        procs = dict(zip(commands, pool.map(lambda c: _cli(tmp_path, *c), commands.items()),
                         strict=True))
    for name, proc in procs.items():
        assert proc.returncode == 0, (name, proc.stdout[-2000:], proc.stderr[-2000:])
        assert "Traceback" not in proc.stdout + proc.stderr, name

    # CSV: no cell a spreadsheet would evaluate; the formula-first title is neutralised.
    with open(out / "notices.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["listing_id"] for r in rows} == {"H1", "H2"}
    cells = [c for r in rows for c in r.values() if c]
    assert not [c for c in cells if c.startswith(FORMULA_START)], cells
    by_id = {r["listing_id"]: r for r in rows}
    assert by_id["H2"]["title"] == "'" + titles["H2"]
    assert by_id["H1"]["title"] == titles["H1"]  # starts with "<": nothing to neutralise
    assert not any(CONTROL.search(c) for c in cells)
    # JSON: the titles as stored, nothing lost or mangled.
    doc = json.loads((out / "notices.json").read_text(encoding="utf-8"))
    exported = {x["listing_id"]: x["title"] for n in doc["notices"]
                for x in n["payload"]["listings"]}
    assert exported == titles

    # The terminal: bounded, no control characters (BEL, ESC sequences) from the data.
    for name in ("listings", "seller"):
        shown = procs[name].stdout + procs[name].stderr
        assert len(shown) < 50_000, (name, len(shown))
        assert not CONTROL.search(shown.replace("\n", "")), (name, repr(shown[:2000]))
    assert "H1" in procs["listings"].stdout and "<script>" in procs["listings"].stdout

    # The case file's report: escaped, never live markup.
    case = Path(json.loads(procs["case"].stdout.strip().splitlines()[-1])["case_path"])
    report = (case / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in report
    assert "<img src=x onerror" not in report
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report
    assert not CONTROL.search(report.replace("\n", "").replace("\t", "").replace("\r", ""))
    assert len(report.encode()) < 2_000_000
