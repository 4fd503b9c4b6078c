"""Normalisation tables: full-width, traditional Chinese, numerals, scene names, spacing."""

from __future__ import annotations

import pytest

from crawler.matching.normalize import chinese_number, normalize, normalize_text


@pytest.mark.parametrize(("raw", "expected"), [
    ("ＴＨＥ　ＭＡＴＲＩＸ", "the matrix"),
    ("Ｔｏｙ Ｓｔｏｒｙ ２", "toy story 2"),
    ("（１９９９）黑客帝国", "1999 黑客帝国"),
])
def test_normalize_fullwidth_to_halfwidth(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("駭客任務", "骇客任务"),
    ("鐵達尼號", "铁达尼号"),
    ("藍光 電影 國語中字", "蓝光电影国语中字"),
    ("權力的遊戲", "权力的游戏"),
])
def test_normalize_traditional_to_simplified(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize("raw", ["Toy Story 2", "Toy Story II", "TOY STORY Ⅱ", "toy story part two"])
def test_normalize_latin_sequel_numbers(raw: str) -> None:
    text = normalize_text(raw)
    assert text.startswith("toy story") and text.endswith("2")


@pytest.mark.parametrize("raw", ["玩具总动员2", "玩具总动员二", "玩具总动员贰", "玩具总动员II",
                                 "玩具总动员Ⅱ", "玩具总动员第二部"])
def test_normalize_chinese_sequel_numbers(raw: str) -> None:
    assert normalize_text(raw) == "玩具总动员2"


def test_normalize_chinese_numerals_inside_words_are_kept() -> None:
    assert normalize_text("七武士") == "七武士"
    assert normalize_text("一路向西") == "一路向西"
    assert normalize_text("第六季") == "第6季"


@pytest.mark.parametrize(("raw", "value"), [("二", 2), ("十", 10), ("十二", 12), ("二十", 20),
                                            ("贰", 2), ("两", 2), ("二十三", 23), ("abc", None)])
def test_chinese_number_table(raw: str, value: int | None) -> None:
    assert chinese_number(raw) == value


def test_normalize_scene_release_name() -> None:
    assert normalize_text("The.Matrix.1999.1080p.BluRay.x264-GRP") == \
        "the matrix 1999 1080 p bluray x 264 grp"


def test_normalize_spacing_between_chinese_characters() -> None:
    norm = normalize("黑 客 帝 国 蓝光")
    assert norm.text == "黑客帝国蓝光"
    two_words = normalize("龙卷风 瓶子")
    assert two_words.text == "龙卷风瓶子"
    assert two_words.breaks == frozenset({3})  # the removed space is remembered


def test_normalize_punctuation_apostrophes_ranges_and_colons() -> None:
    assert normalize_text("Schindler’s List") == "schindlers list"
    assert normalize_text("惊魂记1-3部") == "惊魂记1~3部"
    assert normalize_text("Face/Off") == "face+off"
    norm = normalize("The Godfather: Part II")
    assert norm.text == "the godfather part 2"
    assert 14 in norm.colons
