"""Linked accounts end to end: a storefront crawl of demomart, then ``reelguard links --json``.

The demo's serial offender runs three accounts (``SERIAL_GROUP_CN`` in fixtures/generate.py)
that share a WeChat id in their descriptions and near-identical product photos; two unrelated
pirate shops have contacts and photos of their own. A trap shop added to a copy of the data has
listings whose images cannot be used (a private address, a stylesheet) and an unflagged listing
that shows a QQ number: the failures are recorded and nothing is dropped, the QQ number gets a
WARC of its own.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from crawler.demo.server import SITES_DIR, ServerThread, SiteOptions, build_app
from crawler.evidence.store import EvidenceStore
from crawler.linking.identifiers import mask
from tests.crawl_support import PRIVATE_OK, child_env, run_cli, sqlite_url

REPO = Path(__file__).resolve().parents[1]
CATALOG = REPO / "fixtures" / "catalogs" / "sample_catalog.csv"
AUTHORIZED = REPO / "fixtures" / "catalogs" / "authorized.csv"
SERIAL = {"359105623": "大片网盘资源铺", "354848819": "影视资源自动发货", "225208349": "蓝海影音"}
UNRELATED = {"839908558": "金碟音像", "215201913": "星光影音小铺"}
TRAP = "770000001"


def trap_listing(lid: str, title: str, image: str, description: str) -> dict[str, object]:
    return {
        "id": lid,
        "title": title,
        "price": 9.9,
        "sales": 3,
        "location": "广东 深圳",
        "seller_id": TRAP,
        "images": [image],
        "description": description,
        "status": "active",
        "category": "disc",
        "catalog_ids": [],
        "infringing": True,
        "encoding": "utf-8",
    }


def demo_data_with_trap(root: Path) -> Path:
    data = root / "demomart"
    data.mkdir()
    for name in ("site.json", "sellers.jsonl", "listings.jsonl"):
        shutil.copyfile(SITES_DIR / "demomart" / name, data / name)
    seller = {
        "id": TRAP,
        "nick": "陷阱测试店",
        "shop_name": "陷阱测试店",
        "location": "广东 深圳",
        "rating": 4.7,
        "opened": "2020-01-01",
        "kind": "pirate",
        "licence": None,
        "encoding": "utf-8",
        "contact": {},
    }
    listings = [
        trap_listing(
            "770000011",
            "盗梦空间 DVD 高清 国语中字",
            "http://169.254.169.254/latest/meta-data.jpg",
            "加微信 trap_4242 发货。",
        ),
        trap_listing("770000012", "盗梦空间 蓝光 BD50 全新", "/static/demomart.css", "现货。"),
        trap_listing(
            "770000013", "USB 数据线 快充 1米", "/img/770000013_1.jpg", "有问题联系QQ 12345678。"
        ),
    ]
    with (data / "sellers.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(seller, ensure_ascii=False) + "\n")
    with (data / "listings.jsonl").open("a", encoding="utf-8") as f:
        for listing in listings:
            f.write(json.dumps(listing, ensure_ascii=False) + "\n")
    return data


@pytest.mark.timeout(300)
def test_storefront_crawl_links_exactly_the_serial_offender_accounts(tmp_path: Path) -> None:
    db = sqlite_url(tmp_path)
    env = child_env(**PRIVATE_OK)
    assert (
        run_cli(
            "catalog",
            "import",
            str(CATALOG),
            "--authorized",
            str(AUTHORIZED),
            "--db",
            db,
            cwd=tmp_path,
            env=env,
        ).returncode
        == 0
    )
    options = SiteOptions(data_dir=str(demo_data_with_trap(tmp_path)))
    with ServerThread(build_app("demomart", options)) as server:
        crawl = run_cli(
            "crawl",
            "storefront",
            "-m",
            "demomart",
            "--seller",
            ",".join([*SERIAL, *UNRELATED, TRAP]),
            "--url",
            f"demomart={server.url}",
            "--db",
            db,
            "--set",
            "REELGUARD_MAX_SHOP_PAGES=1",
            "--set",
            "REELGUARD_EVIDENCE_SCREENSHOT=false",
            cwd=tmp_path,
            env=env,
            timeout=240,
        )
    assert crawl.returncode == 0, (crawl.stdout + crawl.stderr)[-3000:]

    masked = run_cli("links", "--json", "--db", db, cwd=tmp_path, env=env)
    assert masked.returncode == 0, masked.stderr[-3000:]
    [cluster] = json.loads(masked.stdout)["clusters"]
    keys = {s["seller_key"] for s in cluster["sellers"]}
    assert keys == set(SERIAL) and cluster["size"] == 3
    kinds = {link["kind"] for link in cluster["links"]}
    assert "image" in kinds and kinds & {"phone", "wechat"}, kinds
    wechat = [link for link in cluster["links"] if link["kind"] == "wechat"]
    assert {link["value"] for link in wechat} == {mask("wechat", "yingshi_7165")}
    # Every pair of accounts is linked by the contact, and by at least two different photos.
    pairs = {tuple(sorted(s["seller_key"] for s in link["sides"])) for link in wechat}
    assert len(pairs) == 3
    images = [link for link in cluster["links"] if link["kind"] == "image"]
    assert all(0 <= link["distance"] <= 6 for link in images)
    photos_per_pair: dict[tuple[str, ...], int] = {}
    for link in images:
        pair = tuple(sorted(s["seller_key"] for s in link["sides"]))
        photos_per_pair[pair] = photos_per_pair.get(pair, 0) + 1
    assert photos_per_pair and min(photos_per_pair.values()) >= 2

    store = EvidenceStore(tmp_path / "var" / "evidence")
    con = sqlite3.connect(tmp_path / "x.db")
    try:
        evidence = {sha: kind for sha, kind in con.execute("SELECT sha256, kind FROM evidence")}
        for link in cluster["links"]:
            for side in link["sides"]:
                sha = side["evidence_sha256"]
                assert store.exists(sha), side
                assert evidence.get(sha) == ("image" if link["kind"] == "image" else "warc")
                assert side["listing_url"].startswith(server.url + "/item.htm?id=")
        events = con.execute(
            "SELECT s.seller_key, e.reason FROM seller_events e JOIN sellers s "
            "ON s.id = e.seller_id WHERE e.kind = 'linked'"
        ).fetchall()
        assert {k for k, _ in events} == set(SERIAL)
        assert all("17759336022" not in reason for _, reason in events)
        # The trap shop: every listing stored, the image failures recorded, none linked.
        stored = {
            k
            for (k,) in con.execute(
                "SELECT l.listing_key FROM listings l JOIN sellers s ON s.id = l.seller_id "
                "WHERE s.seller_key = ?",
                (TRAP,),
            )
        }
        assert stored == {"770000011", "770000012", "770000013"}
        failed = con.execute(
            "SELECT url, reason FROM crawl_events WHERE kind = 'image_failed'"
        ).fetchall()
        assert {url for url, _ in failed} >= {
            "http://169.254.169.254/latest/meta-data.jpg",
            server.url + "/static/demomart.css",
        }
        qq = con.execute(
            "SELECT i.evidence_sha256, e.kind, e.note FROM seller_identifiers i "
            "JOIN evidence e ON e.sha256 = i.evidence_sha256 WHERE i.kind = 'qq' "
            "AND i.value = '12345678'"
        ).fetchall()
        assert [(row[1], row[2].startswith("captured for the contact")) for row in qq] == [
            ("warc", True)
        ]
        stats = json.loads(con.execute("SELECT stats FROM crawl_runs").fetchone()[0])
        assert stats.get("reelguard/linking/image_failed") == 2
        assert not stats.get("reelguard/linking/failed")
        unrelated = {
            k
            for (k,) in con.execute(
                "SELECT s.seller_key FROM seller_clusters c JOIN sellers s ON s.id = c.seller_id"
            )
        }
        assert unrelated == set(SERIAL)
    finally:
        con.close()

    table = run_cli("links", "-m", "demomart", "--unmask", "--db", db, cwd=tmp_path, env=env)
    assert table.returncode == 0, table.stderr[-2000:]
    assert "cluster" in table.stdout and "蓝海影音" in table.stdout
    assert "yingshi_7165" in table.stdout  # in full with --unmask, masked above without

    verify = run_cli(
        "evidence",
        "verify",
        "--db",
        db,
        "--dir",
        str(store.root),
        cwd=tmp_path,
        env=env,
        timeout=180,
    )
    assert verify.returncode == 0, (verify.stdout + verify.stderr)[-2000:]
