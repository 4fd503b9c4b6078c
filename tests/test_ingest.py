"""``reelguard ingest``: a page saved by a person goes through matching, evidence and the queue.

The saved bytes are the evidence (kind ``saved_page``, hashed as received, noted as supplied by
a person); ingesting the same file again adds no listing and no request; a block page stores
nothing and exits non-zero.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.db.models import Listing, Match
from crawler.db.models_evidence import EvidenceRecord
from crawler.db.models_takedown import TakedownRequest
from crawler.demo.server import ServerThread, build_app
from tests.crawl_support import REPO, child_env, count, opened, run_cli, sqlite_url

CATALOG = REPO / "fixtures" / "catalogs" / "sample_catalog.csv"
AUTHORIZED = REPO / "fixtures" / "catalogs" / "authorized.csv"
BLOCKED_DIR = REPO / "fixtures" / "pages" / "crawler.pages.taobao.TaobaoBlockedPage"


def _pirated_listing_id() -> str:
    catalogue = {line.split(",", 1)[0] for line in CATALOG.read_text("utf-8").splitlines()[1:]}
    with (REPO / "fixtures" / "sites" / "demomart" / "listings.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if (row["infringing"] and row["status"] == "active"
                    and any(c in catalogue for c in row["catalog_ids"])):
                return str(row["id"])
    raise AssertionError("no pirated demomart listing in the fixtures")


def _setup(tmp_path: Path) -> tuple[str, dict[str, str]]:
    db = sqlite_url(tmp_path)
    env = child_env(REELGUARD_EVIDENCE_DIR=str(tmp_path / "ev"))
    proc = run_cli("catalog", "import", str(CATALOG), "--authorized", str(AUTHORIZED),
                   "--db", db, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return db, env


@pytest.mark.timeout(180)
def test_ingest_saved_pirated_page(tmp_path: Path) -> None:
    db, env = _setup(tmp_path)
    listing_id = _pirated_listing_id()
    with ServerThread(build_app("demomart")) as server:
        url = f"{server.url}/item.htm?id={listing_id}"
        with urllib.request.urlopen(url) as response:
            body = response.read()
    saved = tmp_path / "saved page.html"
    saved.write_bytes(body)
    digest = hashlib.sha256(body).hexdigest()

    args = ("ingest", str(saved), "--url", url, "--marketplace", "demomart", "--db", db)
    proc = run_cli(*args, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert digest in proc.stdout

    with opened(db) as s:
        listings = list(s.execute(select(Listing)).scalars())
        assert [x.listing_key for x in listings] == [listing_id]
        matches = list(s.execute(select(Match)).scalars())
        assert matches and all(m.listing_id == listings[0].id for m in matches)
        assert {m.decision for m in matches} & {"takedown", "review"}
        evidence = list(s.execute(
            select(EvidenceRecord).where(EvidenceRecord.kind == "saved_page")).scalars())
        assert len(evidence) == 1
        assert evidence[0].sha256 == digest
        assert evidence[0].listing_id == listings[0].id
        assert evidence[0].note.startswith("supplied by a person")
        assert "saved page.html" in evidence[0].note
        requests = list(s.execute(select(TakedownRequest)).scalars())
        assert requests and all(r.listing_id == listings[0].id for r in requests)
    assert (tmp_path / "ev").is_dir()

    verify = run_cli("evidence", "verify", "--db", db, cwd=tmp_path, env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # The same file again: no second listing, no second request.
    again = run_cli(*args, "--json", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    report = json.loads(again.stdout)
    assert report["files"][0]["evidence_sha256"] == digest
    assert report["files"][0]["requests_opened"] == 0
    assert count(db, Listing) == 1
    assert count(db, TakedownRequest) == len(requests)
    verify = run_cli("evidence", "verify", "--db", db, cwd=tmp_path, env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.timeout(120)
def test_ingest_blocked_page_stores_nothing(tmp_path: Path) -> None:
    db, env = _setup(tmp_path)
    blocked = min(BLOCKED_DIR.glob("*/inputs/HttpResponse-body.html"))
    proc = run_cli("ingest", str(blocked), "--marketplace", "taobao", "--db", db,
                   cwd=tmp_path, env=env)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "blocked" in proc.stderr
    assert count(db, Listing) == 0
    assert count(db, Match) == 0
    assert count(db, EvidenceRecord) == 0
    assert count(db, TakedownRequest) == 0


RAKUTEN_ITEM = REPO / "fixtures" / "real" / "rakuten" / "item-legacy.eucjp.html"
GHIBLI_CATALOG = (
    "id,member,title,year,aliases,kind,release_date,home_release_date\n"
    "ghi-spirited-away-2001,Studio Ghibli,Spirited Away,2001,千と千尋の神隠し|千与千寻,film,"
    "2001-07-20,2002-07-19\n"
)


@pytest.mark.timeout(180)
def test_ingest_rakuten_item_named_by_marketplace(tmp_path: Path) -> None:
    # Rakuten is parse-only (no crawl), but a page saved from it is ingested like any other.
    db = sqlite_url(tmp_path)
    env = child_env(REELGUARD_EVIDENCE_DIR=str(tmp_path / "ev"))
    catalog = tmp_path / "ghibli.csv"
    catalog.write_text(GHIBLI_CATALOG, encoding="utf-8")
    proc = run_cli("catalog", "import", str(catalog), "--db", db, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    body = RAKUTEN_ITEM.read_bytes()
    digest = hashlib.sha256(body).hexdigest()

    proc = run_cli("ingest", str(RAKUTEN_ITEM), "--marketplace", "rakuten", "--db", db, "--json",
                   cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    [report] = json.loads(proc.stdout)["files"]
    assert (report["marketplace"], report["kind"], report["items"]) == ("rakuten", "item", 1)
    assert report["decisions"] == {"takedown": 1}
    assert report["requests_opened"] == 1
    assert report["evidence_sha256"] == digest

    with opened(db) as s:
        [listing] = s.execute(select(Listing)).scalars()
        assert listing.listing_key == "eizou-do/4959241714972"
        assert listing.title == "千と千尋の神隠し [DVD]"  # EUC-JP decoded
        assert (listing.price, listing.currency) == (3300, "JPY")
        [match] = s.execute(select(Match)).scalars()
        assert (match.listing_id, match.decision) == (listing.id, "takedown")
        [evidence] = s.execute(
            select(EvidenceRecord).where(EvidenceRecord.kind == "saved_page")).scalars()
        assert (evidence.sha256, evidence.listing_id) == (digest, listing.id)
        [request] = s.execute(select(TakedownRequest)).scalars()
        assert (request.listing_id, request.marketplace, request.member) == (
            listing.id, "rakuten", "Studio Ghibli")
    verify = run_cli("evidence", "verify", "--db", db, cwd=tmp_path, env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.timeout(60)
def test_ingest_unknown_marketplace_names_the_accepted_ones(tmp_path: Path) -> None:
    proc = run_cli("ingest", str(RAKUTEN_ITEM), "--marketplace", "mercari", "--db",
                   sqlite_url(tmp_path), cwd=tmp_path, env=child_env())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "unknown marketplace 'mercari'" in proc.stderr
    assert "rakuten" in proc.stderr and "generic" in proc.stderr
