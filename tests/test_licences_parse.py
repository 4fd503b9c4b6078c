"""Publication licence blocks: number grammar, dates, normalisation and hostile text."""

from __future__ import annotations

import datetime as dt
import random
import time

import pytest

from crawler.items import Licence
from crawler.licences.parse import (
    GRAMMAR,
    assess,
    check_number,
    fields_from_raw,
    normalise_number,
    read_licence,
)
from crawler.licences.text import parse_date, parse_validity, same_holder

TODAY = dt.date(2026, 6, 1)


# -- numbers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("number", "kind", "region"),
    [
        ("新出发京零字第东140001号", "retail", "京"),
        ("新出发沪批字第U3814号", "wholesale", "沪"),
        ("新出发京批字第直0178号", "wholesale", "京"),
        ("新出发京批字第直110138号", "wholesale", "京"),
        ("新出发苏批字第A-243号", "wholesale", "苏"),
        ("新出发(苏)批字第N-012号", "wholesale", "苏"),
        ("新出发（京）批字第直123432号", "wholesale", "京"),
        ("新出发粤穗零字第Y672号", "retail", "粤穗"),
        ("新出发浙杭经零字第00136号", "retail", "浙杭经"),
        ("新出发(杭余)零字第 00369号", "retail", "杭余"),
        ("新出发沪零字第LG10846号", "retail", "沪"),
        ("新出发京零 字第大120007号", "retail", "京"),
        ("新出发(2019)京零字第东0001号", "retail", "京"),
        ("西安新城新出发零字001号", "retail", "西安新城"),
        ("沪零字第L6687号", "retail", "沪"),
        ("新出发浙批字第300411号", "wholesale", "浙"),
    ],
)
def test_real_number_formats_are_accepted(number: str, kind: str, region: str) -> None:
    check = check_number(number)
    assert check.ok, check.problem
    assert (check.kind, check.region) == (kind, region)
    assert " " not in (check.normalised or "")


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("新出发第12AB号", "no 批字 or 零字"),
        ("12345", "does not end with 号"),
        ("川零字第号", "no serial number"),
        ("新出发苏零字第苏0X23号", "serial 苏0X23 is not"),
        ("新出发零字第00086号", "no issuing province"),
        ("新出发浙备字第002号", "备字 numbers are filings"),
        ("龍批字第ZY2077号", "龍 is not a province abbreviation"),
        ("出版物经营许可证", "does not end with 号"),
    ],
)
def test_malformed_numbers_are_refused_with_the_reason(number: str, reason: str) -> None:
    check = check_number(number)
    assert not check.ok
    assert check.problem is not None
    assert check.problem.startswith(f"number {number.replace(' ', '')} does not follow {GRAMMAR}")
    assert reason in check.problem


def test_fullwidth_spaced_and_bracketed_numbers_normalise_to_one_key() -> None:
    plain = "新出发(苏)批字第N-012号"
    for shown in (
        "新出发（苏）批字第Ｎ－０１２号",
        "新出发 【苏】 批字第 N—012 号",
        "新出发\u200b(苏)批字第N-012号",
        "<span>新出发(苏)批字第N-012号</span>",
        "新出发&#65288;苏&#65289;批字第N-012号",
    ):
        assert normalise_number(shown) == plain, shown
        assert check_number(shown).ok, shown


@pytest.mark.parametrize(
    "number",
    [
        "新出发京零字第东١٤٠٠٠١号",  # Arabic-Indic digits
        "新出发京零字第东۱۴۰۰۰۱号",  # Persian digits
        "新出发京零字第东14OOO1号",  # the letter O for zero
        "新出发京零字第东14ООО1号",  # Cyrillic O
        "新出发京零字第东l40001号",  # lower-case L for one
    ],
)
def test_lookalike_digits_make_the_number_malformed(number: str) -> None:
    check = check_number(number)
    assert not check.ok and check.problem


def test_arabic_digits_are_named_as_lookalikes() -> None:
    problem = check_number("新出发京零字第东١٤٠٠٠١号").problem or ""
    assert "only look like digits" in problem


@pytest.mark.parametrize("mark", ["\u202e", "\u200f", "\x00", "\x07", "\u2066", "\x1b"])
def test_control_and_text_direction_characters_make_the_number_malformed(mark: str) -> None:
    check = check_number(f"新出发京零字第{mark}东140001号")
    assert not check.ok
    assert "control or text-direction" in (check.problem or "")
    # The message shows the character escaped, never the raw control character.
    assert mark not in (check.problem or "")


# -- dates -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "shown",
    ["2021-03-01", "2021/3/1", "2021.03.01", "2021年3月1日", "20210301", " 2021 - 03 - 01 "],
)
def test_dates_in_every_shown_format(shown: str) -> None:
    assert parse_date(shown) == (dt.date(2021, 3, 1), False, None)


@pytest.mark.parametrize("shown", ["长期", "长期有效", "永久", "无固定期限"])
def test_indefinite_validity_has_no_end(shown: str) -> None:
    assert parse_date(shown) == (None, True, None)


@pytest.mark.parametrize("shown", ["2021-02-30", "2021-13-01", "next year", "3/1/2021"])
def test_impossible_or_foreign_dates_are_problems(shown: str) -> None:
    date, indefinite, problem = parse_date(shown)
    assert date is None and not indefinite and problem and "is not a date" in problem


@pytest.mark.parametrize(
    ("shown", "expected"),
    [
        ("2021-03-01 至 2027-03-01", (dt.date(2021, 3, 1), dt.date(2027, 3, 1), False)),
        ("2021.03.01-2027.03.01", (dt.date(2021, 3, 1), dt.date(2027, 3, 1), False)),
        ("2021年3月1日～2027年2月28日", (dt.date(2021, 3, 1), dt.date(2027, 2, 28), False)),
        ("2021/3/1~长期", (dt.date(2021, 3, 1), None, True)),
        ("至2027-03-01", (None, dt.date(2027, 3, 1), False)),
        ("长期有效", (None, None, True)),
    ],
)
def test_validity_ranges(shown: str, expected: tuple) -> None:
    assert parse_validity(shown)[:3] == expected
    assert parse_validity(shown)[3] == []


# -- whole blocks and statuses ---------------------------------------------------------------
def _block(**kw: str | None) -> Licence:
    base = {
        "number": "新出发京零字第东140001号",
        "holder": "北京东方影音有限公司",
        "authority": "北京市东城区文化和旅游局",
        "valid_from": "2021-03-01",
        "valid_to": "2027-03-01",
    }
    base.update(kw)
    return Licence(**base, raw_text=None)


def test_valid_licence_is_valid_through_its_last_day() -> None:
    assert assess(read_licence(_block(valid_to="2026-06-01")), TODAY).status == "valid"
    result = assess(read_licence(_block(valid_to="2026-05-31")), TODAY)
    assert result.status == "expired"
    assert result.problems == ("expired on 2026-05-31",)


def test_licence_not_yet_valid() -> None:
    result = assess(read_licence(_block(valid_from="2027-01-01", valid_to="2033-01-01")), TODAY)
    assert result.status == "not_yet_valid"
    assert "valid from 2027-01-01, not yet valid" in result.problems


def test_indefinite_licence_never_expires() -> None:
    assert assess(read_licence(_block(valid_to="长期有效")), dt.date(2099, 1, 1)).status == "valid"


def test_no_block_is_missing_and_a_block_without_number_is_malformed() -> None:
    assert assess(read_licence(None), TODAY).status == "missing"
    assert assess(read_licence(Licence()), TODAY).status == "missing"
    result = assess(read_licence(_block(number=None)), TODAY)
    assert result.status == "malformed"
    assert "the licence block shows no number" in result.problems


def test_unreadable_or_inverted_dates_are_malformed() -> None:
    assert assess(read_licence(_block(valid_to="2027-02-30")), TODAY).status == "malformed"
    result = assess(read_licence(_block(valid_from="2027-03-01", valid_to="2021-03-01")), TODAY)
    assert result.status == "malformed"
    assert any("is after" in p for p in result.problems)


def test_malformed_number_wins_over_dates() -> None:
    result = assess(read_licence(_block(number="新出发第12AB号", valid_to="2020-01-01")), TODAY)
    assert result.status == "malformed"
    assert result.problems[0].startswith("number 新出发第12AB号 does not follow")


@pytest.mark.parametrize(
    "raw",
    [
        (
            "出版物经营许可证 许可证编号： 新出发京零字第东140001号 经营者名称： 北京东方影音有限公司 "
            "发证机关： 北京市东城区文化和旅游局 有效期限： 2021-03-01 至 2027-03-01"
        ),
        (
            "证号:新出发京零字第东140001号|单位名称:北京东方影音有限公司|发证机关:北京市东城区文化和旅游局"
            "|有效期:2021.03.01-2027.03.01"
        ),
        (
            "<dl><dt>经营许可证号</dt><dd>新出发京零字第东１４０００１号</dd><dt>经营者</dt>"
            "<dd>北京东方影音有限公司</dd><dt>发证机关</dt><dd>北京市东城区文化和旅游局</dd>"
            "<dt>有效期至</dt><dd>2027年3月1日</dd></dl>"
        ),
        # No label for the number: found by its shape.
        (
            "本店出版物经营许可证新出发京零字第东140001号，经营者名称：北京东方影音有限公司\n"
            "有效期至：2027/3/1"
        ),
    ],
)
def test_raw_text_alone_is_read(raw: str) -> None:
    reading = read_licence(raw)
    assert reading.number == "新出发京零字第东140001号"
    assert reading.holder == "北京东方影音有限公司"
    assert reading.valid_to == dt.date(2027, 3, 1)
    assert assess(reading, TODAY).status == "valid"


def test_labelled_fields_win_over_raw_text() -> None:
    licence = Licence(
        number="新出发沪批字第U3814号", raw_text="许可证编号：新出发京零字第东140001号"
    )
    assert read_licence(licence).number == "新出发沪批字第U3814号"
    assert (
        fields_from_raw("许可证编号：新出发京零字第东140001号")["number"]
        == "新出发京零字第东140001号"
    )


def test_holder_comparison_tolerates_trivial_differences_only() -> None:
    assert same_holder("上海银幕文化传播有限公司", "上海银幕文化传播有限责任公司")
    assert same_holder("（上海）银幕文化传播有限公司", "(上海) 银幕文化 传播有限公司")
    assert same_holder("ＡＢＣ影音（北京）有限公司", "abc影音(北京)有限公司")
    assert same_holder("上海銀幕文化傳播有限公司", "上海银幕文化传播有限公司")
    assert not same_holder("郑州飞鱼商贸有限公司", "郑州飞鸿商贸有限公司")
    assert not same_holder("上海银幕文化传播有限公司", "上海银幕文化传播股份有限公司")
    assert not same_holder("", "")


# -- hostile text ----------------------------------------------------------------------------
def test_megabyte_strings_are_bounded_and_never_raise() -> None:
    huge = "新出发" * 350_000
    cases = [
        {"raw_text": huge},
        {"raw_text": "<div>" * 200_000 + "许可证编号：新出发京零字第东140001号"},
        {"number": "1" * 1_000_000, "holder": "公" * 1_000_000, "valid_to": "2" * 1_000_000},
        {"number": "\x00" * 1_000_000},
        {"raw_text": "有效期" * 300_000, "valid_from": "年" * 1_000_000},
        {"raw_text": "&amp;" * 200_000 + "<" * 200_000},
    ]
    for case in cases:
        started = time.perf_counter()
        reading = read_licence(case)
        result = assess(reading, TODAY)
        assert time.perf_counter() - started < 0.5
        assert result.status in ("missing", "malformed")
        assert all(len(p) < 400 for p in result.problems)


def test_markup_and_scripts_in_fields_are_text_not_markup() -> None:
    reading = read_licence(
        _block(
            holder="<script>alert(1)</script>北京东方影音有限公司",
            number="<b>新出发京零字第东140001号</b>",
        )
    )
    assert reading.number_ok
    assert reading.holder is not None and "<" not in reading.holder


def test_rtl_override_in_the_holder_is_reported() -> None:
    reading = read_licence(_block(holder="北京东方\u202e影音有限公司"))
    assert any("holder contains control" in p for p in reading.problems)
    assert reading.holder == "北京东方影音有限公司"


def test_random_unicode_never_raises() -> None:
    rng = random.Random(5)
    alphabet = (
        "新出发京零批字第号东直0123456789-()（）【】 至长期年月日/.:：<>&;"
        "\u202e\u200b\x00\x1bABCXO١٤"
    ) + "".join(chr(c) for c in range(0x4E00, 0x4E40))
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        field_name = rng.choice(["number", "holder", "valid_to", "valid_from", "raw_text"])
        result = assess(read_licence({field_name: text}), TODAY)
        assert result.status in ("valid", "expired", "not_yet_valid", "missing", "malformed")
