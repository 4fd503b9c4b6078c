"""A storefront crawl of the demo marketplace captures each shop page and finds its licence status.

One crawl of four demomart shops (the first two index pages each, listing pages not followed)
over HTTP on 127.0.0.1, then ``reelguard licences --json --all`` against the demo register.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from crawler.db.models import Seller
from crawler.db.models_evidence import EvidenceRecord
from crawler.db.models_sellers import LicenceFinding
from crawler.evidence.store import EvidenceStore
from crawler.evidence.warc import WARC_MEDIA_TYPE
from tests.crawl_support import (
    PRIVATE_OK,
    REPO,
    child_env,
    mart,
    opened,
    run_cli,
    serve,
    sqlite_url,
)

REGISTER = REPO / "fixtures" / "catalogs" / "licence_register.csv"


def _warc_response(data: bytes) -> Any:
    return next(r for r in ArchiveIterator(io.BytesIO(data)) if r.rec_type == "response")


def _seller(nick: str) -> str:
    return next(sid for sid, s in mart().sellers.items() if s["nick"] == nick)


@pytest.mark.timeout(180)
def test_storefront_crawl_finds_licence_statuses_with_evidence(tmp_path: Path) -> None:
    shops = {
        _seller("星光影音小铺"): "expired",
        _seller("蓝光碟片工厂店"): "missing",
        _seller("金碟音像"): "valid",
        _seller("飞鱼数码影音"): "holder_mismatch",
    }
    db = sqlite_url(tmp_path)
    evidence_dir = tmp_path / "evidence"
    env = child_env(**PRIVATE_OK, REELGUARD_EVIDENCE_DIR=str(evidence_dir))
    with serve("demomart") as url:
        proc = run_cli(
            "crawl",
            "storefront",
            "-m",
            "demomart",
            "--seller",
            ",".join(shops),
            "--db",
            db,
            "--url",
            f"demomart={url}",
            "--set",
            "REELGUARD_MAX_SHOP_PAGES=2",
            "--set",
            "REELGUARD_FOLLOW_LISTINGS=false",
            "--set",
            "REELGUARD_EVIDENCE_SCREENSHOT=false",
            "--set",
            "REELGUARD_EVIDENCE_ALL=true",
            cwd=tmp_path,
            env=env,
        )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]

    # The crawl itself left current findings (no register: 飞鱼数码影音 looks valid on its page).
    with opened(db) as session:
        after_crawl = {
            key: (f.status, f.evidence_sha256 is not None)
            for f, key in session.execute(
                select(LicenceFinding, Seller.seller_key).join(
                    Seller, Seller.id == LicenceFinding.seller_id
                )
            )
        }
    assert after_crawl == {
        sid: ("valid" if status == "holder_mismatch" else status, True)
        for sid, status in shops.items()
    }

    # Against the demo register: the number 飞鱼数码影音 shows is held by another name.
    proc = run_cli(
        "licences",
        "--json",
        "--all",
        "--register",
        str(REGISTER),
        "--db",
        db,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["seller"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert {sid: r["status"] for sid, r in rows.items()} == shops
    for sid, row in rows.items():
        assert row["sells_discs"] and row["disc_listings"] > 0, row
        assert row["flagged"] == (shops[sid] != "valid")
    assert rows[_seller("星光影音小铺")]["problems"] == ["expired on 2023-09-23"]
    assert rows[_seller("星光影音小铺")]["valid_to"] == "2023-09-23"
    assert rows[_seller("蓝光碟片工厂店")]["number"] is None
    mismatch = rows[_seller("飞鱼数码影音")]
    assert mismatch["register_holder"] == "郑州鸿远文化传播有限公司"
    assert mismatch["holder"] == "郑州飞鱼商贸有限公司"

    # Each finding points to the WARC of its shop's first page, stored and in the chain.
    store = EvidenceStore(evidence_dir)
    with opened(db) as session:
        records = list(session.execute(select(EvidenceRecord)).scalars())
    by_sha = {r.sha256: r for r in records}
    for sid, row in rows.items():
        sha = row["evidence_sha256"]
        assert sha and store.exists(sha), row
        record = by_sha[sha]
        assert (record.kind, record.media_type, record.listing_id) == (
            "warc",
            WARC_MEDIA_TYPE,
            None,
        )
        assert record.url == row["evidence_url"] and record.url.endswith(f"/shop/{sid}")
        assert f"seller {sid}" in (record.note or "")
        response = _warc_response(store.read(sha))
        assert response.rec_headers.get_header("WARC-Target-URI") == row["evidence_url"]
        # The page as served shows the licence block, or shows none.
        assert (b"J_ShopLicence" in response.content_stream().read()) == (shops[sid] != "missing")
        capture = {r.kind for r in records if r.capture_id == record.capture_id}
        assert capture == {"warc", "html", "fields"}
    # REELGUARD_EVIDENCE_ALL: the second index page of every shop was captured too.
    pages = sorted(
        r.note or "" for r in records if r.kind == "warc" and (r.note or "").startswith("shop page")
    )
    assert pages == sorted(
        f"shop page {i} of seller {sid} (licence block)" for sid in shops for i in (1, 2)
    )
