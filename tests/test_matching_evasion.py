"""Titles written to slip past keyword filters: each normalisation, and the signal naming it.

Listings are hand-written for these tests (catalogue: tests/matching_fixtures.py).
"""

from __future__ import annotations

import pytest

from crawler.matching.decide import Decision
from crawler.matching.engine import MatchEngine
from crawler.matching.evasion import unleet, unmask
from crawler.matching.normalize import normalize
from tests.matching_fixtures import TODAY, write_catalog


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> MatchEngine:
    catalog, authorized = write_catalog(tmp_path_factory.mktemp("catalog"))
    return MatchEngine.from_files(catalog, authorized, today=TODAY)


def decide(engine: MatchEngine, title: str) -> Decision:
    return engine.match({"id": "e1", "marketplace": "ebay", "title": title, "price": 4.99,
                         "currency": "USD", "seller": "someone"})


def how(decision: Decision) -> list[str]:
    return [s.evidence for s in decision.signals if s.name == "normalised"]


@pytest.mark.parametrize("raw, text, kind", [
    ("I*n*c*e*p*t*i*o*n DVD", "inception dvd", "split"),
    ("T-I-T-A-N-I-C 1997", "titanic 1997", "split"),
    ("T h e   M a t r i x", "the matrix", "split"),
    ("Inc\u200bep\u200dtion", "inception", "zero-width"),
    ("Inc🔥eption", "inception", "emoji"),
    ("盗🔥梦空间 蓝光", "盗梦空间蓝光", "emoji"),
    ("Іnсерtіоn", "inception", "confusable"),   # Cyrillic І, с, е, р, і, о
    ("ΤΙΤΑΝΙC", "titanic", "confusable"),        # Greek capitals
    ("Ïñçëptïøñ", "inception", "confusable"),
])
def test_normalize_undoes_evasion(raw: str, text: str, kind: str) -> None:
    norm = normalize(raw)
    assert norm.text == text
    assert [f.kind for f in norm.folds] and {f.kind for f in norm.folds} == {kind}


@pytest.mark.parametrize("raw", ["X-Men DVD", "5.1 DTS-HD", "Speed★Cars", "Брат DVD", "S01E02 1080p"])
def test_normalize_leaves_ordinary_text_alone(raw: str) -> None:
    _, folds = unmask(raw)
    assert folds == []


def test_unleet_only_spells_catalogue_words() -> None:
    text, folds = unleet("t3rm1nat0r x264 bd50 dvd9 se7en 4k", {"terminator", "seven"}, {"se7en"})
    assert text == "terminator x264 bd50 dvd9 se7en 4k"
    assert [(f.before, f.after) for f in folds] == [("t3rm1nat0r", "terminator")]


@pytest.mark.parametrize("title, kind", [
    ("T*h*e M*a*t*r*i*x DVD", "split"),
    ("The Mаtrіx Blu-ray", "confusable"),
    ("Th3 M4tr1x DVD region 1", "leetspeak"),
    ("The Ma\u200btrix DVD", "zero-width"),
    ("黑🎬客帝国 蓝光 DVD", "emoji"),
])
def test_match_obfuscated_title_names_its_normalisation(engine: MatchEngine, title: str,
                                                        kind: str) -> None:
    d = decide(engine, title)
    assert d.decision == "takedown" and d.catalog_id == "war-matrix-1999"
    assert any(h.startswith(f"{kind}: ") for h in how(d)), d.signals


def test_match_homophone_characters_meet_the_title_by_pinyin(engine: MatchEngine) -> None:
    d = decide(engine, "黑刻帝国 蓝光 DVD")  # 刻 (ke) for 客 (ke)
    assert d.decision == "takedown" and d.catalog_id == "war-matrix-1999"
    assert how(d) == ['pinyin: "黑刻帝国" -> "heikediguo" = "黑客帝国"']


def test_match_pinyin_fragment_meets_the_title(engine: MatchEngine) -> None:
    d = decide(engine, "黑客 di guo 高清 网盘 枪版")
    assert d.decision == "takedown" and d.catalog_id == "war-matrix-1999"
    assert how(d)[0].startswith("pinyin: ")


def test_match_pinyin_hit_without_disc_or_bootleg_words_is_only_reviewed(engine: MatchEngine) -> None:
    d = decide(engine, "黑刻帝国 高清")
    assert d.decision == "review" and d.catalog_id == "war-matrix-1999"


def test_match_pinyin_hit_on_goods_is_none(engine: MatchEngine) -> None:
    assert decide(engine, "黑刻帝国 保温杯 500ml").decision == "none"
