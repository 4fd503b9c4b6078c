"""The generated demo-marketplace data satisfy the contract of ``fixtures/sites/README.md``."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
SITES = ("demomart", "demobay")
MEMBERS = {
    "Warner Bros. Entertainment",
    "Paramount Pictures",
    "Universal City Studios",
    "Sony Pictures Entertainment",
    "Walt Disney Studios",
    "Twentieth Century Fox",
}
CATEGORIES = {
    "disc",
    "download",
    "streaming",
    "official",
    "merch",
    "book",
    "soundtrack",
    "game",
    "unrelated",
}
COPY_CATEGORIES = {"disc", "download", "streaming"}
SELLER_KINDS = {"pirate", "official", "merch", "general", "bookshop"}
CJK = re.compile(r"[\u4e00-\u9fff]")
TODAY = dt.date(2026, 11, 28)


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="module")
def catalogue() -> list[dict]:
    with (FIXTURES / "catalogs" / "sample_catalog.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def authorized() -> list[dict]:
    with (FIXTURES / "catalogs" / "authorized.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def data() -> dict[str, dict]:
    out = {}
    for site in SITES:
        d = FIXTURES / "sites" / site
        out[site] = {
            "site": json.loads((d / "site.json").read_text(encoding="utf-8")),
            "sellers": _jsonl(d / "sellers.jsonl"),
            "listings": _jsonl(d / "listings.jsonl"),
        }
    return out


def keyword(row: dict, site: str) -> str:
    """What the crawler searches for a work on ``site``."""
    if site == "demobay":
        return row["title"]
    aliases = [a for a in row["aliases"].split("|") if a]
    return next((a for a in aliases if CJK.search(a)), row["title"])


def norm(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


# -- catalogue ------------------------------------------------------------------------------------
def test_catalogue_columns_and_values(catalogue):
    with (FIXTURES / "catalogs" / "sample_catalog.csv").open(encoding="utf-8") as f:
        header = f.readline().strip()
    assert header == "id,member,title,year,aliases,kind,release_date,home_release_date"
    assert 35 <= len(catalogue) <= 50
    ids = [r["id"] for r in catalogue]
    assert len(ids) == len(set(ids))
    kinds = Counter(r["kind"] for r in catalogue)
    assert set(kinds) == {"film", "series"} and 2 <= kinds["series"] <= 3
    for r in catalogue:
        assert r["member"] in MEMBERS
        assert re.fullmatch(r"[a-z]{3}-[a-z0-9-]+-(\d{4}|tv)", r["id"]), r["id"]
        assert int(r["year"]) > 1900
        for col in ("release_date", "home_release_date"):
            if r[col]:
                dt.date.fromisoformat(r[col])
        assert any(CJK.search(a) for a in r["aliases"].split("|")), r["id"]
    assert {r["member"] for r in catalogue} == MEMBERS
    future = [
        r
        for r in catalogue
        if r["home_release_date"] and dt.date.fromisoformat(r["home_release_date"]) > TODAY
    ]
    assert 1 <= len(future) <= 2


def test_authorized_are_official_sellers(authorized, data):
    assert {tuple(r.keys()) for r in authorized} == {("marketplace", "seller", "member")}
    for site in SITES:
        sellers = {s["id"]: s for s in data[site]["sellers"]}
        rows = [r for r in authorized if r["marketplace"] == site]
        assert {r["member"] for r in rows} == MEMBERS
        for r in rows:
            assert sellers[r["seller"]]["kind"] == "official"
        assert {s["id"] for s in sellers.values() if s["kind"] == "official"} == {
            r["seller"] for r in rows
        }
    assert {r["marketplace"] for r in authorized} == set(SITES)


# -- site.json ------------------------------------------------------------------------------------
def test_site_json(data, catalogue):
    mart, bay = data["demomart"]["site"], data["demobay"]["site"]
    for s in (mart, bay):
        assert set(s) == {"name", "currency", "js_only_queries", "page_size"}
    assert (mart["currency"], mart["page_size"]) == ("CNY", 44)
    assert (bay["currency"], bay["page_size"]) == ("USD", 48)
    assert bay["js_only_queries"] == []
    valid = {keyword(r, "demomart") for r in catalogue}
    assert len(mart["js_only_queries"]) == 4
    assert len(set(mart["js_only_queries"])) == 4
    assert set(mart["js_only_queries"]) <= valid


# -- sellers --------------------------------------------------------------------------------------
@pytest.mark.parametrize("site", SITES)
def test_sellers(site, data):
    sellers = data[site]["sellers"]
    ids = [s["id"] for s in sellers]
    assert len(ids) == len(set(ids))
    assert (35 <= len(sellers) <= 45) if site == "demomart" else (25 <= len(sellers) <= 35)
    keys = {
        "id",
        "nick",
        "shop_name",
        "location",
        "rating",
        "opened",
        "kind",
        "licence",
        "encoding",
        "contact",
    }
    for s in sellers:
        assert set(s) == keys, s["id"]
        assert s["kind"] in SELLER_KINDS
        assert s["encoding"] in ("utf-8", "gbk")
        dt.date.fromisoformat(s["opened"])
        assert isinstance(s["rating"], (int, float))
        assert set(s["contact"]) <= {"phone", "wechat", "qq", "email"}
        if s["licence"] is not None:
            assert set(s["licence"]) == {"number", "holder", "authority", "valid_from", "valid_to"}
        if s["encoding"] == "gbk":
            json.dumps(s, ensure_ascii=False).encode("gbk")
    assert set(Counter(s["kind"] for s in sellers)) == SELLER_KINDS


def test_demomart_seller_mix(data):
    sellers = data["demomart"]["sellers"]
    share = sum(s["encoding"] == "gbk" for s in sellers) / len(sellers)
    assert 0.15 <= share <= 0.35
    pirates = [s for s in sellers if s["kind"] == "pirate"]
    with_lic = [s for s in pirates if s["licence"]]
    assert any(dt.date.fromisoformat(s["licence"]["valid_to"]) > TODAY for s in with_lic)
    assert any(dt.date.fromisoformat(s["licence"]["valid_to"]) < TODAY for s in with_lic)
    assert any(s["licence"] is None for s in pirates)
    wellformed = re.compile(r"新出发.零字第.\d{6}号")
    assert any(not wellformed.fullmatch(s["licence"]["number"]) for s in with_lic)
    # the serial-offender group: pirate shops sharing a phone / wechat
    for field in ("phone", "wechat"):
        c = Counter(s["contact"][field] for s in pirates if s["contact"].get(field))
        assert max(c.values()) >= 2


# -- listings -------------------------------------------------------------------------------------
@pytest.mark.parametrize("site", SITES)
def test_listings_contract(site, data, catalogue, authorized):
    listings, sellers = data[site]["listings"], {s["id"]: s for s in data[site]["sellers"]}
    low, high = (1800, 2300) if site == "demomart" else (1300, 1800)
    assert low <= len(listings) <= high
    ids = [x["id"] for x in listings]
    assert len(ids) == len(set(ids))
    cat_ids = {r["id"] for r in catalogue}
    auth = {r["seller"] for r in authorized if r["marketplace"] == site}
    keys = {
        "id",
        "title",
        "price",
        "sales",
        "location",
        "seller_id",
        "images",
        "description",
        "status",
        "category",
        "catalog_ids",
        "infringing",
        "encoding",
    }
    if site == "demobay":
        keys.add("condition")
    for x in listings:
        assert set(x) == keys, x["id"]
        assert re.fullmatch(r"\d{12}", x["id"])
        assert x["seller_id"] in sellers
        assert x["encoding"] == sellers[x["seller_id"]]["encoding"]
        if x["encoding"] == "gbk":
            (x["title"] + x["description"] + x["location"]).encode("gbk")
        assert isinstance(x["price"], (int, float)) and x["price"] > 0
        assert isinstance(x["sales"], int) and x["sales"] >= 0
        assert x["status"] in ("active", "removed")
        assert x["category"] in CATEGORIES
        assert x["title"].strip() and x["description"].strip()
        assert x["images"] and all(
            u == f"/img/{x['id']}_{i}.jpg" for i, u in enumerate(x["images"], 1)
        )
        for cid in x["catalog_ids"]:
            assert cid in cat_ids or re.fullmatch(r"ext-[a-z0-9-]+-\d{4}", cid), cid
        assert len(x["catalog_ids"]) == len(set(x["catalog_ids"]))
        if x["category"] == "unrelated":
            assert x["catalog_ids"] == []
        copy = x["category"] in COPY_CATEGORIES and bool(x["catalog_ids"])
        assert x["infringing"] == (copy and x["seller_id"] not in auth), x
        if x["category"] == "official":
            assert x["seller_id"] in auth
        if site == "demobay":
            assert x["condition"]


def test_listing_ids_unique_across_sites(data):
    a = {x["id"] for x in data["demomart"]["listings"]}
    b = {x["id"] for x in data["demobay"]["listings"]}
    assert not a & b


@pytest.mark.parametrize("site", SITES)
def test_listing_mix(site, data):
    listings = data[site]["listings"]
    removed = sum(x["status"] == "removed" for x in listings) / len(listings)
    assert 0.015 <= removed <= 0.06
    cats = Counter(x["category"] for x in listings)
    assert set(cats) == CATEGORIES
    ext = {c for x in listings for c in x["catalog_ids"] if c.startswith("ext-")}
    assert len(ext) >= 25
    assert sum(len(x["catalog_ids"]) >= 2 for x in listings) >= 30  # collections


@pytest.mark.parametrize("site", SITES)
def test_every_work_is_findable(site, data, catalogue):
    """Each catalogue work's search keyword appears in >= 3 active listings that name it,
    including non-infringing decoys."""
    listings = [x for x in data[site]["listings"] if x["status"] == "active"]
    for row in catalogue:
        kw = norm(keyword(row, site))
        naming = [x for x in listings if row["id"] in x["catalog_ids"]]
        hits = [x for x in naming if kw in norm(x["title"])]
        assert len(naming) >= 3 and len(hits) >= 3, (site, row["id"], len(naming), len(hits))
        assert any(x["infringing"] for x in naming), row["id"]
        assert any(not x["infringing"] for x in hits), row["id"]


@pytest.mark.parametrize("site", SITES)
def test_price_bands(site, data):
    listings, sellers = data[site]["listings"], {s["id"]: s for s in data[site]["sellers"]}
    pirate = [x["price"] for x in listings if x["infringing"] and len(x["catalog_ids"]) == 1]
    official = [x["price"] for x in listings if x["category"] == "official"]
    assert max(pirate) < min(official)
    if site == "demomart":
        assert all(68 <= p <= 169 for p in official)
        assert all(p <= 31 for p in pirate)
    assert all(sellers[x["seller_id"]]["kind"] == "pirate" for x in listings if x["infringing"])
