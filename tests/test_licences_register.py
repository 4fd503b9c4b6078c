"""The licence register CSV: encodings, lookups, and malformed files refused whole by line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from crawler.exceptions import CatalogError, LicenceRegisterError
from crawler.licences.register import load_register
from tests.crawl_support import REPO, assert_one_line_error, child_env, run_cli

DEMO_REGISTER = REPO / "fixtures" / "catalogs" / "licence_register.csv"
GOOD = (
    "number,holder,authority,valid_from,valid_to,status\n"
    "新出发京零字第东140001号,北京东方影音有限公司,北京市东城区文化和旅游局,2021-03-01,2027-03-01,\n"
    "新出发沪批字第U3814号,上海光年文化传播有限公司,,2021/3/1,长期,valid\n"
    "新出发粤零字第广562709号,广州星光文化传播有限公司,,,,吊销\n"
)


def _write(tmp_path: Path, text: str | bytes, name: str = "register.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def test_good_register_loads_every_licence(tmp_path: Path) -> None:
    register = load_register(_write(tmp_path, GOOD))
    assert len(register) == 3
    east = register.lookup("新出发京零字第东140001号")
    assert east is not None
    assert (east.holder, east.valid_from, east.valid_to, east.status, east.line) == (
        "北京东方影音有限公司",
        dt.date(2021, 3, 1),
        dt.date(2027, 3, 1),
        "valid",
        2,
    )
    open_ended = register.lookup("新出发沪批字第U3814号")
    assert open_ended is not None and open_ended.valid_to is None
    assert open_ended.authority is None
    revoked = register.lookup("新出发粤零字第广562709号")
    assert revoked is not None and revoked.status == "revoked"


def test_lookup_uses_the_normalised_number(tmp_path: Path) -> None:
    register = load_register(_write(tmp_path, GOOD))
    for shown in (
        "新出发京零字第东１４０００１号",
        " 新出发 京零字第东140001 号 ",
        "新出发京零字第东140001号\u200b",
    ):
        assert register.lookup(shown) is not None, shown
    assert register.lookup("新出发京零字第东140002号") is None
    assert register.lookup(None) is None


def test_utf8_with_bom_loads(tmp_path: Path) -> None:
    register = load_register(_write(tmp_path, GOOD.encode("utf-8-sig")))
    assert len(register) == 3
    assert register.lookup("新出发沪批字第U3814号") is not None


def test_gbk_loads(tmp_path: Path) -> None:
    register = load_register(_write(tmp_path, GOOD.encode("gbk")))
    entry = register.lookup("新出发京零字第东140001号")
    assert entry is not None and entry.holder == "北京东方影音有限公司"


def test_chinese_headers_and_comment_lines(tmp_path: Path) -> None:
    text = (
        "# 出版物经营许可证登记\n"
        "许可证编号,经营者名称,发证机关,有效期起,有效期至,状态\n"
        "# a comment between rows\n"
        "新出发京零字第东140001号,北京东方影音有限公司,北京市东城区文化和旅游局,2021年3月1日,2027年3月1日,有效\n"
    )
    register = load_register(_write(tmp_path, text))
    entry = register.lookup("新出发京零字第东140001号")
    assert entry is not None and entry.line == 4 and entry.valid_to == dt.date(2027, 3, 1)


def test_shipped_demo_register_has_the_holder_mismatch_case() -> None:
    register = load_register(DEMO_REGISTER)
    sellers = [
        json.loads(line)
        for line in (REPO / "fixtures" / "sites" / "demomart" / "sellers.jsonl").open(
            encoding="utf-8"
        )
    ]
    mismatched = []
    for seller in sellers:
        licence = seller["licence"]
        if licence is None:
            continue
        entry = register.lookup(licence["number"])
        if entry is not None and entry.holder != licence["holder"]:
            mismatched.append(seller["nick"])
    assert mismatched == ["飞鱼数码影音"]


def test_malformed_file_is_refused_whole_with_every_problem_by_line(tmp_path: Path) -> None:
    text = (
        "# comment: line 1\n"
        "number,holder,valid_to,status\n"
        "新出发京零字第东140001号,北京东方影音有限公司,2027-03-01,valid\n"
        ",无号公司,2027-03-01,valid\n"
        "新出发沪批字第U3814号,,2027-02-30,valid\n"
        "新出发京零字第东140001号,另一家公司,2027-03-01,valid\n"
        "新出发粤零字第广562709号,广州星光,2027-03-01,unknown\n"
        "新出发粤零字第广562710号,只有两列\n"
        "新出发粤零字第广562711号,广州\u202e星光,2027-03-01,valid\n"
    )
    with pytest.raises(LicenceRegisterError) as caught:
        load_register(_write(tmp_path, text))
    problems = caught.value.problems
    assert problems == [
        "line 4: empty number",
        "line 5: empty holder",
        "line 5: valid_to: 2027-02-30 is not a date",
        "line 6: number 新出发京零字第东140001号 is already on line 3",
        "line 7: status unknown is not one of valid, revoked, cancelled, suspended, expired",
        "line 8: 2 value(s) for 4 column(s)",
        "line 9: holder contains control or text-direction characters",
    ]
    assert isinstance(caught.value, CatalogError) and caught.value.exit_code == 3
    assert str(caught.value).startswith(f"{tmp_path / 'register.csv'}: refused, 7 problem(s)")


def test_missing_and_unknown_columns_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LicenceRegisterError) as caught:
        load_register(_write(tmp_path, "licence,owner\nx,y\n"))
    assert caught.value.problems == [
        (
            "line 1: unknown column licence (known: number, holder, authority, valid_from, "
            "valid_to, status)"
        ),
        (
            "line 1: unknown column owner (known: number, holder, authority, valid_from, "
            "valid_to, status)"
        ),
        "line 1: missing column(s) number, holder",
    ]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "the file is empty (no header)"),
        (b"# only a comment\n\n", "the file is empty (no header)"),
        (b"number,holder\n\xff\xfe\xfa,x\n", "line 2: neither UTF-8 nor GBK"),
    ],
)
def test_unreadable_files_are_refused(tmp_path: Path, content: bytes, problem: str) -> None:
    with pytest.raises(LicenceRegisterError) as caught:
        load_register(_write(tmp_path, content))
    assert caught.value.problems[0].startswith(problem)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LicenceRegisterError) as caught:
        load_register(tmp_path / "nope.csv")
    assert caught.value.problems == ["no such file"]


def test_cli_refuses_a_malformed_register_in_one_line_with_exit_3(tmp_path: Path) -> None:
    bad = _write(tmp_path, "number,holder\n,x\n")
    proc = run_cli(
        "licences",
        "--register",
        str(bad),
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
        cwd=tmp_path,
        env=child_env(),
    )
    assert_one_line_error(proc, 3, "refused", "line 2: empty number")
