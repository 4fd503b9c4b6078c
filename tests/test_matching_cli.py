"""``reelguard match`` end to end, bad catalogue files and bad listing lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.exceptions import CatalogError
from crawler.matching.engine import MatchEngine
from tests.matching_fixtures import write_catalog

ROOT = Path(__file__).resolve().parents[1]
HEADER = "id,member,title,year,aliases,kind\n"


def run_match(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crawler.cli", "match", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(("content", "problems"), [
    ("id,member,title,year,kind\nx,M,Title,1999,film\n", ["line 1: missing column(s) aliases"]),
    (HEADER + "a,M,Title,19x9,,film\n", ["line 2: bad year '19x9'"]),
    (HEADER + "a,M,Title,1999,,film\na,M,Other,2000,,film\n",
     ["line 3: duplicate id 'a' (first on line 2)"]),
    (HEADER + "a,M,,1999,,film\nb,M,Ok,1999,,film\nc,M,Ok2,3000,,film\n",
     ["line 2: empty title", "line 4: year 3000 is out of range"]),
])
def test_bad_catalogue_lists_every_problem(tmp_path: Path, content: str, problems: list[str]) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        MatchEngine.from_files(path)
    for problem in problems:
        assert any(p.startswith(problem) for p in info.value.problems), info.value.problems
    assert len(info.value.problems) == len(problems)


def test_non_utf8_catalogue_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_bytes((HEADER + "a,M,黑客帝国,1999,,film\n").encode("gbk"))
    with pytest.raises(CatalogError, match="line 2: not UTF-8"):
        MatchEngine.from_files(path)


def test_cli_decides_in_order_and_skips_bad_lines(tmp_path: Path) -> None:
    catalog, authorized = write_catalog(tmp_path)
    listings = tmp_path / "listings.jsonl"
    lines = [
        {"id": "a1", "marketplace": "taobao", "title": "黑客帝国 蓝光 DVD", "price": 9.9,
         "currency": "CNY", "seller": "小店", "url": "https://t.example/a1"},
        "this is not json",
        {"id": "a2", "marketplace": "ebay", "title": "The Godfather Coffee Mug", "price": 12,
         "currency": "USD", "seller": "mugs", "url": "https://e.example/a2"},
        {"id": "a3", "marketplace": "ebay", "price": 3},
        [1, 2, 3],
        {"id": "a4", "marketplace": "ebay", "title": "The Matrix Blu-ray", "price": 20,
         "currency": "USD", "seller": "wb_store", "url": "https://e.example/a4",
         "description": "Official studio store."},
        {"id": "a5", "marketplace": "taobao", "title": "保温杯", "price": "cheap",
         "currency": "CNY", "seller": "x", "url": "u"},
        {"id": "a6", "marketplace": "taobao", "title": "教父+狮子王 合集 DVD", "price": 15,
         "currency": "CNY", "seller": "小店", "url": "https://t.example/a6"},
    ]
    listings.write_text("\n".join(l if isinstance(l, str) else json.dumps(l, ensure_ascii=False)
                                  for l in lines) + "\n\n", encoding="utf-8")
    out = tmp_path / "decisions.jsonl"
    proc = run_match("--catalog", str(catalog), "--authorized", str(authorized),
                     "--listings", str(listings), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    warnings = [l for l in proc.stderr.splitlines() if l.startswith("line ")]
    assert [w.split(":")[0] for w in warnings] == ["line 2", "line 4", "line 5", "line 7"]
    assert "title" in warnings[1] and "object" in warnings[2] and "price" in warnings[3]
    assert "4 listings decided" in proc.stderr and "4 malformed" in proc.stderr
    rows = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a1", "a2", "a4", "a6"]
    for row in rows:
        assert list(row) == ["id", "decision", "catalog_id", "catalog_ids", "member", "score",
                             "signals"]
        assert row["decision"] in ("takedown", "review", "none")
        assert isinstance(row["catalog_ids"], list) and isinstance(row["score"], float)
        assert 0.0 <= row["score"] <= 1.0
        for signal in row["signals"]:
            assert list(signal) == ["name", "weight", "evidence"]
            assert isinstance(signal["weight"], float) and isinstance(signal["evidence"], str)
    assert (rows[0]["decision"], rows[0]["catalog_id"], rows[0]["member"]) == \
        ("takedown", "war-matrix-1999", "Warner Bros.")
    assert rows[1]["decision"] == "none"
    assert rows[2]["decision"] == "none" and rows[2]["catalog_id"] == "war-matrix-1999"
    assert rows[3]["decision"] == "takedown"
    assert set(rows[3]["catalog_ids"]) == {"par-godfather-1972", "dis-lion-king-2019"}


def test_cli_bad_catalogue_is_one_line_and_exit_3(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(HEADER + "a,M,,19x9,,film\n", encoding="utf-8")
    listings = tmp_path / "l.jsonl"
    listings.write_text("", encoding="utf-8")
    proc = run_match("--catalog", str(catalog), "--listings", str(listings),
                     "--out", str(tmp_path / "o.jsonl"))
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert "line 2: empty title" in proc.stderr and "bad year" in proc.stderr


def test_cli_missing_listings_file_is_an_error(tmp_path: Path) -> None:
    catalog, _ = write_catalog(tmp_path)
    proc = run_match("--catalog", str(catalog), "--listings", str(tmp_path / "nope.jsonl"),
                     "--out", str(tmp_path / "o.jsonl"))
    assert proc.returncode == 2 and "cannot read" in proc.stderr
