"""Investigations and case files: built from tables filled by hand, and from a real crawl.

The unit tests fill every table a case reads (``tests/investigate_support.py``) on SQLite and
PostgreSQL and check the case folder, ``case.json``, the zip and ``reelguard case verify``
against tampering. The browser tests open ``report.html`` from ``file://`` in Debian's chromium
with JavaScript off, read its text, print it to PDF and save screenshots. The end-to-end tests
run ``reelguard investigate`` against the demomart server on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select, update

from crawler.catalog.store import import_catalog
from crawler.db.models import Listing
from crawler.db.models_sellers import Investigation
from crawler.db.session import make_engine, session_factory, session_scope, upgrade
from crawler.demo.server import SiteOptions
from crawler.evidence.store import EvidenceStore
from crawler.investigate.casefile import build_case, build_investigation_case, safe_component
from crawler.investigate.report import render_report as render_html
from crawler.investigate.verify import verify_against_database, verify_case
from crawler.storage import open_database
from tests.crawl_support import (
    PRIVATE_OK,
    REPO,
    assert_one_line_error,
    child_env,
    mart,
    run_cli,
    serve,
    sqlite_url,
)
from tests.investigate_support import HOSTILE, fill_case, pdf_pages, render_reports

CATALOG = REPO / "fixtures" / "catalogs" / "sample_catalog.csv"
SECTIONS = [
    "Summary",
    "Accounts in this case",
    "Timeline of sightings, requests, removals and relistings",
    "Listings",
    "Takedown requests",
    "Matched works per member",
    "Strikes and level",
    "Publication licence findings",
    "Linked accounts and their proofs",
    "Hash of every artefact",
]
# A pirate demomart shop with few listings (3 shop pages): 大片网盘资源铺, of the serial group.
SELLER = "359105623"
CASE_FILES = {"report.html", "case.json", "captures.wacz", "SHA256SUMS", "CHAIN_HEAD"}


def _build(sessions, store: EvidenceStore, out: Path, **kw):  # type: ignore[no-untyped-def]
    filled = fill_case(sessions, store)
    with session_scope(sessions) as session:
        case = build_case(
            session,
            store,
            marketplace="demomart",
            seller="shop-1",
            out_dir=out,
            run_ids=[filled.run_ids[1]],
            subject_ids=[filled.seller_db_id],
            **kw,
        )
    return filled, case


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


# -- the case built from tables filled by hand (SQLite and PostgreSQL) -------------------------
def test_case_file_holds_every_fact_when_built_from_the_tables(db_sessions, tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    filled, case = _build(db_sessions, store, tmp_path / "cases")
    names = {p.relative_to(case.path).as_posix() for p in case.path.rglob("*") if p.is_file()}
    assert CASE_FILES <= names
    assert any(n.startswith("artefacts/") and n.endswith(".png") for n in names)
    doc = json.loads((case.path / "case.json").read_text(encoding="utf-8"))
    s = doc["summary"]
    assert (s["seller_id"], s["level"], s["strikes"], s["licence_status"]) == (
        "shop-1",
        "warning",
        1,
        "expired",
    )
    assert "1 accepted removal in 90 days" in s["level_reason"]
    assert (
        s["listings"],
        s["listings_removed"],
        s["requests"],
        s["removals"],
        s["relistings"],
    ) == (4, 1, 3, 1, 1)
    assert [a["seller_id"] for a in s["linked_accounts"]] == ["shop-2"]
    assert s["from"] == "2026-03-01T08:00:00.000000Z"
    assert {x["listing_id"] for x in doc["listings"]} == set(filled.listing_keys)
    assert next(x for x in doc["listings"] if x["listing_id"] == "1002")["title"] == HOSTILE
    # Matched works per member, from matches + catalog_titles.
    works = {(w["member"], w["title"]): w for w in doc["works"]}
    assert sorted(works[("Warner Bros. Entertainment", "The Matrix")]["listings"]) == [
        "1002",
        "1003",
        "1004",
    ]
    # Timeline in time order, with the removal, the relisting and the rejection.
    kinds = [t["kind"] for t in doc["timeline"]]
    assert {
        "sighting",
        "request",
        "removed",
        "relisted",
        "rejected",
        "strike",
        "escalation",
        "licence",
    } <= set(kinds)
    assert [t["at"] for t in doc["timeline"]] == sorted(t["at"] for t in doc["timeline"])
    # Licence finding with its shop-page evidence; link with both proofs.
    [finding] = doc["licence_findings"]
    assert finding["evidence_sha256"] == filled.licence_sha256
    assert finding["problems"] == ["the licence expired on 2023-01-01"]
    [link] = doc["links"]
    assert {link["a"]["seller_id"], link["b"]["seller_id"]} == {"shop-1", "shop-2"}
    assert all(side["evidence_sha256"] and side["listing_url"] for side in (link["a"], link["b"]))
    # Evidence: the investigation run's pages, the listings' captures and the cited proofs;
    # never the unrelated capture of the earlier run.
    pages = doc["pages"]
    assert [p["page"] for p in pages if p["run_id"] == filled.run_ids[1]].count("shop") == 1
    assert not [p for p in pages if p["url"].endswith("id=9999")]
    cited = {link["a"]["evidence_sha256"], link["b"]["evidence_sha256"], finding["evidence_sha256"]}
    assert cited <= {a["sha256"] for a in doc["artefacts"]}
    assert doc["chain_head"]["seq"] == max(a["seq"] for a in doc["artefacts"]) + 5
    check = verify_case(case.path)
    assert check.ok, check.failures
    assert check.artefacts == len(doc["artefacts"]) == check.wacz_entries


def test_case_json_shape_and_zip_match_the_folder(db_sessions, tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    _filled, case = _build(db_sessions, store, tmp_path / "cases")
    doc = json.loads((case.path / "case.json").read_text(encoding="utf-8"))
    assert doc["format"] == "reelguard-case/1" and doc["case_id"] == case.path.name
    assert re.fullmatch(r"demomart-shop-1-\d{8}T\d{6}Z", case.case_id)
    for key in (
        "generated_at",
        "generator",
        "investigation",
        "chain_head",
        "wacz",
        "summary",
        "seller",
        "accounts",
        "clusters",
        "listings",
        "sightings",
        "timeline",
        "works",
        "requests",
        "strikes",
        "seller_events",
        "licence_findings",
        "links",
        "pages",
        "artefacts",
    ):
        assert key in doc, key
    for artefact in doc["artefacts"]:
        assert set(artefact) >= {
            "seq",
            "kind",
            "sha256",
            "size",
            "url",
            "captured_at",
            "entry_hash",
            "wacz_path",
            "file",
        }
        assert re.fullmatch(r"[0-9a-f]{64}", artefact["sha256"])
    wacz = (case.path / "captures.wacz").read_bytes()
    assert doc["wacz"]["sha256"] == hashlib.sha256(wacz).hexdigest()
    assert doc["wacz"]["records"] == len(doc["artefacts"])
    # The zip: one folder named after the case, the same bytes as the folder.
    assert case.zip_path == case.path.parent / f"{case.case_id}.zip"
    assert hashlib.sha256(case.zip_path.read_bytes()).hexdigest() == case.zip_sha256
    with zipfile.ZipFile(case.zip_path) as zf:
        inside = {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist()}
        assert {n.split("/", 1)[0] for n in zf.namelist()} == {case.case_id}
    on_disk = {
        p.relative_to(case.path).as_posix(): p.read_bytes()
        for p in case.path.rglob("*")
        if p.is_file()
    }
    assert inside == on_disk
    assert verify_case(case.zip_path).ok


def test_case_verify_names_what_was_tampered_with(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    upgrade(url)
    sessions = session_factory(make_engine(url))
    store = EvidenceStore(tmp_path / "evidence")
    _filled, case = _build(sessions, store, tmp_path / "cases")
    pristine = tmp_path / "pristine"
    shutil.copytree(case.path, pristine)

    def fresh() -> Path:
        shutil.rmtree(case.path)
        shutil.copytree(pristine, case.path)
        return case.path

    shot = next((fresh() / "artefacts").iterdir())
    _flip(shot)
    failures = verify_case(case.path).failures
    assert any(f.startswith(f"sums: artefacts/{shot.name}") for f in failures), failures
    assert any(f.startswith(f"artefacts: artefacts/{shot.name}") for f in failures), failures

    report = fresh() / "report.html"
    report.write_text(
        report.read_text(encoding="utf-8").replace("expired", "valid"), encoding="utf-8"
    )
    failures = verify_case(case.path).failures
    assert len(failures) == 1 and failures[0].startswith("sums: report.html: SHA-256"), failures

    (fresh() / "extra.txt").write_text("planted", encoding="utf-8")
    assert verify_case(case.path).failures == [
        "sums: extra.txt: not listed in SHA256SUMS (the file was added)"
    ]

    # Tampering that also rewrites SHA256SUMS is still caught by the WACZ and artefact checks.
    folder = fresh()
    with zipfile.ZipFile(folder / "captures.wacz") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    html = next(n for n in members if n.startswith("evidence/") and "-html-" in n)
    members[html] = members[html].replace(b"</body>", b"<p>added</p></body>")
    with zipfile.ZipFile(folder / "captures.wacz", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    from crawler.investigate.casefile import write_sums

    write_sums(folder)
    failures = verify_case(folder).failures
    assert any(f.startswith("wacz: captures.wacz/" + html) for f in failures), failures
    assert any(
        "captures.wacz: its SHA-256 is not the one case.json records" in f for f in failures
    ), failures


def test_report_shows_hostile_text_as_text_and_loads_nothing_outside(
    db_sessions, tmp_path: Path
) -> None:
    store = EvidenceStore(tmp_path / "evidence")
    _filled, case = _build(db_sessions, store, tmp_path / "cases")
    html = (case.path / "report.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html and "<script" not in html.lower()
    assert 'http-equiv="Content-Security-Policy"' in html and "script-src 'none'" in html
    # Nothing is loaded from elsewhere: no stylesheet or script tag, images are relative.
    assert "<link" not in html
    for src in re.findall(r'<img[^>]* src="([^"]*)"', html):
        assert src.startswith("artefacts/"), src
    # Only http(s) URLs become links.
    doc = json.loads((case.path / "case.json").read_text(encoding="utf-8"))
    doc["listings"][0]["url"] = "javascript:alert(3)"
    rendered = render_html(doc, {**doc, "id": doc["case_id"]})
    assert 'href="javascript:' not in rendered and "javascript:alert(3)" in rendered


def test_safe_component_keeps_paths_inside_the_cases_folder() -> None:
    assert safe_component("359105623") == "359105623"
    for hostile in ("../../etc", "影视/..", "a b\x00c", ".hidden"):
        name = safe_component(hostile)
        assert re.fullmatch(r"[A-Za-z0-9._-]+", name) and not name.startswith("."), name
    assert safe_component("影视店") != safe_component("影视铺")


# -- the report in a real browser --------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.timeout(300)
def test_report_opens_offline_in_chromium_and_prints(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    upgrade(url)
    store = EvidenceStore(tmp_path / "evidence")
    _filled, case = _build(session_factory(make_engine(url)), store, tmp_path / "cases")
    [seen] = render_reports([case.path / "report.html"], tmp_path)
    assert seen.headings == SECTIONS
    assert "shop-1" in seen.text and HOSTILE in seen.text
    assert seen.injected == 0 and not seen.foreign_requests, seen.foreign_requests
    assert seen.images_loaded >= 3  # the licence page and both proofs, from artefacts/
    assert pdf_pages(seen.pdf) > 1


# -- from the command to the case file, on the demo marketplace --------------------------------
@pytest.fixture(scope="module")
def demomart_url():  # type: ignore[no-untyped-def]
    with serve("demomart") as url:
        yield url


def _investigate(tmp_path: Path, db: str, base: str, *args: str):  # type: ignore[no-untyped-def]
    env = child_env(**PRIVATE_OK, REELGUARD_EVIDENCE_DIR=str(tmp_path / "evidence"))
    return run_cli(
        "investigate",
        "-m",
        "demomart",
        "--url",
        f"demomart={base}",
        "--db",
        db,
        "--out",
        str(tmp_path / "cases"),
        "--no-screenshots",
        *args,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )


@pytest.mark.browser
@pytest.mark.timeout(420)
def test_investigate_writes_a_case_that_verifies_and_renders(
    tmp_path: Path, demomart_url: str
) -> None:
    db = sqlite_url(tmp_path)
    database = open_database(db)
    import_catalog(database, str(CATALOG))
    proc = _investigate(tmp_path, db, demomart_url, "--seller", SELLER, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    folder = Path(result["case_path"])
    assert folder.parent == tmp_path / "cases" and folder.name.startswith(f"demomart-{SELLER}-")
    assert CASE_FILES <= {p.name for p in folder.iterdir()}
    assert (folder.parent / f"{folder.name}.zip").is_file()

    # Every storefront page and every listing page was captured, matched or not.
    active = sorted(
        k
        for k, x in mart().listings.items()
        if x["seller_id"] == SELLER and x["status"] == "active"
    )
    doc = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    run_id = doc["investigation"]["run_id"]
    pages = [p for p in doc["pages"] if p["run_id"] == run_id]
    listing_pages = sorted(p["listing_id"] for p in pages if p["page"] == "listing")
    shop_pages = {p["url"] for p in pages if p["page"] == "shop"}
    assert listing_pages == active
    assert len(shop_pages) == math.ceil(len(active) / 24)
    assert doc["summary"]["listings"] == len(active)
    assert doc["summary"]["matches"] < len(active)  # unmatched listings were captured too
    with session_scope(database.sessions) as session:
        inv = session.execute(select(Investigation)).scalar_one()
        assert (inv.state, inv.run_id, inv.case_path) == ("done", run_id, str(folder))
        assert inv.case_sha256 == result["case_sha256"] and inv.summary
        inv_id = inv.id

    env = child_env()
    ok = run_cli("case", "verify", str(folder), cwd=tmp_path, env=env)
    assert ok.returncode == 0 and "OK" in ok.stdout, ok.stdout + ok.stderr
    zipped = verify_case(folder.parent / f"{folder.name}.zip")
    with session_scope(database.sessions) as session:
        verify_against_database(zipped, session)
    assert zipped.ok, zipped.failures
    pristine = tmp_path / "pristine"
    shutil.copytree(folder, pristine)
    _flip(folder / "captures.wacz")
    bad = run_cli("case", "verify", str(folder), cwd=tmp_path, env=env)
    assert bad.returncode == 1 and "FAIL sums: captures.wacz" in bad.stderr, bad.stderr
    shutil.rmtree(folder)
    shutil.copytree(pristine, folder)
    report = folder / "report.html"
    report.write_bytes(report.read_bytes().replace(SELLER.encode(), b"000000000", 1))
    bad = run_cli("case", "verify", str(folder), cwd=tmp_path, env=env)
    assert bad.returncode == 1 and "FAIL sums: report.html" in bad.stderr, bad.stderr

    # A hostile title stored for one of its listings renders as text in the rebuilt case.
    with session_scope(database.sessions) as session:
        session.execute(
            update(Listing).where(Listing.listing_key == active[0]).values(title=HOSTILE)
        )
    with session_scope(database.sessions) as session:
        rebuilt = build_investigation_case(
            session, EvidenceStore(tmp_path / "evidence"), inv_id, tmp_path / "rebuilt"
        )
    again = json.loads((rebuilt.path / "case.json").read_text(encoding="utf-8"))
    assert len([p for p in again["pages"] if p["run_id"] == run_id]) == len(pages)

    seen, hostile = render_reports(
        [pristine / "report.html", rebuilt.path / "report.html"], tmp_path
    )
    assert seen.headings == SECTIONS
    assert SELLER in seen.text and "大片网盘资源铺" in seen.text
    flat = " ".join(seen.text.split())
    for key in active[:5]:
        assert key in seen.text
        assert " ".join(mart().listings[key]["title"].split()) in flat
    assert not seen.foreign_requests and seen.injected == 0
    assert pdf_pages(seen.pdf) > 3
    assert HOSTILE in hostile.text and hostile.injected == 0


@pytest.mark.timeout(300)
def test_investigate_unknown_seller_is_one_clear_error(tmp_path: Path, demomart_url: str) -> None:
    db = sqlite_url(tmp_path)
    proc = _investigate(tmp_path, db, demomart_url, "--seller", "000000001")
    assert_one_line_error(proc, 2, "no seller '000000001'", "HTTP 404")
    with session_scope(session_factory(make_engine(db))) as session:
        inv = session.execute(select(Investigation)).scalar_one()
    assert inv.state == "failed" and "UnknownSeller" in (inv.error or "")
    assert not (tmp_path / "cases").exists() or not any((tmp_path / "cases").iterdir())


@pytest.mark.timeout(300)
def test_investigate_blocked_storefront_exits_6(tmp_path: Path) -> None:
    db = sqlite_url(tmp_path)
    with serve("demomart", SiteOptions(rate_limit=0.01, burst=1)) as base:
        proc = _investigate(
            tmp_path,
            db,
            base,
            "--seller",
            SELLER,
            "--set",
            "REELGUARD_BLOCK_BACKOFF=0",
            "--set",
            "REELGUARD_BLOCK_RETRY_TIMES=1",
        )
    assert_one_line_error(proc, 6, "blocked")
    with session_scope(session_factory(make_engine(db))) as session:
        inv = session.execute(select(Investigation)).scalar_one()
    assert inv.state == "failed"


@pytest.mark.timeout(420)
def test_investigate_linked_crawls_the_accounts_sharing_a_contact(
    tmp_path: Path, demomart_url: str
) -> None:
    # SERIAL_GROUP_CN shares one phone and one WeChat id; monitoring already saw one listing
    # of 影视资源自动发货 (354848819) showing the WeChat id, not the third account.
    linked = "354848819"
    db = sqlite_url(tmp_path)
    known = min(
        k
        for k, x in mart().listings.items()
        if x["seller_id"] == linked
        and x["status"] == "active"
        and "yingshi_7165" in x["description"]
    )
    env = child_env(**PRIVATE_OK, REELGUARD_EVIDENCE_DIR=str(tmp_path / "evidence"))
    seeded = run_cli(
        "crawl",
        "listing",
        "-m",
        "demomart",
        "--url",
        f"demomart={demomart_url}",
        "--db",
        db,
        "--urls",
        f"{demomart_url}/item.htm?id={known}",
        cwd=tmp_path,
        env=env,
    )
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    proc = _investigate(
        tmp_path, db, demomart_url, "--seller", SELLER, "--linked", "--depth", "2", "--json"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = Path(json.loads(proc.stdout.strip().splitlines()[-1])["case_path"])
    doc = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    assert doc["investigation"]["refresh_error"] is None
    # Hop 1 crawled the linked storefront; nothing new was linked, so there is no hop 2.
    hops = doc["investigation"]["hops"]
    assert [(h["hop"], h["sellers"]) for h in hops] == [
        (0, [f"demomart:{SELLER}"]),
        (1, [f"demomart:{linked}"]),
    ]
    assert [a["seller_id"] for a in doc["summary"]["linked_accounts"]] == [linked]
    assert all(a["crawled"] for a in doc["accounts"])
    shared = {(link["kind"], link["value"]) for link in doc["links"]}
    assert ("wechat", "yingshi_7165") in shared
    for link in doc["links"]:
        assert link["a"]["evidence_sha256"] and link["b"]["evidence_sha256"], link
    cited = {side["evidence_sha256"] for link in doc["links"] for side in (link["a"], link["b"])}
    assert cited <= {a["sha256"] for a in doc["artefacts"]}
    run_id = doc["investigation"]["run_id"]
    captured = {
        p["listing_id"] for p in doc["pages"] if p["run_id"] == run_id and p["page"] == "listing"
    }
    expected = {
        k
        for k, x in mart().listings.items()
        if x["seller_id"] in (SELLER, linked) and x["status"] == "active"
    }
    assert captured == expected
    assert doc["summary"]["listings"] == len(expected)
    assert verify_case(folder).ok


def test_case_verify_reports_a_corrupt_deflate_stream_instead_of_crashing() -> None:
    import io
    import zipfile

    from crawler.investigate.verify import CaseCheck, check_wacz

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("datapackage.json", b"x" * 5000 + bytes(range(256)) * 40)
    data = bytearray(buf.getvalue())
    data[60] ^= 0xFF  # inside the deflated member: zlib.error, not BadZipFile
    check = CaseCheck(Path("."))
    assert check_wacz(bytes(data), check) == {}
    assert not check.ok
    assert any("not a readable ZIP" in f for f in check.failures)
