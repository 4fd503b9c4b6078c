"""Decision families, disambiguation and the explainable signals of the matching engine.

Listings are hand-written for these tests (see tests/matching_fixtures.py for the catalogue).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crawler.exceptions import ConfigError
from crawler.matching.config import MatchConfig
from crawler.matching.decide import Decision
from crawler.matching.engine import ListingError, MatchEngine, check_listing
from crawler.matching.offer import Lexicon, classify
from tests.matching_fixtures import TODAY, write_catalog


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> MatchEngine:
    catalog, authorized = write_catalog(tmp_path_factory.mktemp("catalog"))
    return MatchEngine.from_files(catalog, authorized, today=TODAY)


def decide(engine: MatchEngine, title: str, *, price: float | None = 9.9,
           currency: str = "CNY", seller: str = "some_shop", marketplace: str = "taobao",
           description: str | None = None) -> Decision:
    listing: dict[str, Any] = {"id": "t1", "marketplace": marketplace, "title": title,
                               "price": price, "currency": currency, "seller": seller,
                               "url": "https://example.test/1"}
    if description is not None:
        listing["description"] = description
    return engine.match(listing)


def names(decision: Decision) -> set[str]:
    return {s.name for s in decision.signals}


# -- copies of the work ---------------------------------------------------------------------
def test_match_chinese_disc_is_takedown(engine: MatchEngine) -> None:
    d = decide(engine, "黑客帝国 蓝光 BD50 全新未拆")
    assert (d.decision, d.catalog_id, d.member) == ("takedown", "war-matrix-1999", "Warner Bros.")
    assert {"title_match", "offer_copy", "low_price", "unauthorised_seller"} <= names(d)
    assert all(s.evidence for s in d.signals)


def test_match_bootleg_and_cloud_drive_terms_add_a_signal(engine: MatchEngine) -> None:
    d = decide(engine, "骇客任务枪版 百度网盘 自动发货")
    assert d.decision == "takedown"
    bootleg = next(s for s in d.signals if s.name == "bootleg_terms")
    assert "枪版" in bootleg.evidence and bootleg.weight > 0


def test_match_scene_release_name_with_year(engine: MatchEngine) -> None:
    d = decide(engine, "The.Matrix.1999.1080p.BluRay.x264-GRP", price=2.0, currency="USD")
    assert (d.decision, d.catalog_id) == ("takedown", "war-matrix-1999")
    assert "year_match" in names(d)


def test_match_traditional_characters(engine: MatchEngine) -> None:
    assert decide(engine, "駭客任務 藍光碟 國語中字").catalog_id == "war-matrix-1999"


def test_match_streaming_account(engine: MatchEngine) -> None:
    d = decide(engine, "The Godfather streaming account lifetime access", currency="USD")
    assert (d.decision, d.catalog_id) == ("takedown", "par-godfather-1972")


def test_match_misspelt_title_is_found_fuzzily(engine: MatchEngine) -> None:
    d = decide(engine, "The Godfahter DVD box set", currency="USD")
    assert d.catalog_id == "par-godfather-1972"
    assert "misspelt" in d.signals[0].evidence


def test_match_bare_title_without_offer_words_is_review(engine: MatchEngine) -> None:
    d = decide(engine, "The Godfather", price=60)
    assert d.decision == "review"
    assert "offer_unknown" in names(d)


# -- goods that share the name, unrelated goods ----------------------------------------------
@pytest.mark.parametrize("title", [
    "黑客帝国 手办 模型 周边",
    "The Matrix Movie Poster 24x36",
    "The Godfather Novel Paperback",
    "玩具总动员 电影原声 OST CD",
    "The Godfather PS2 Game disc",
    "Toy Story T-Shirt Kids",
])
def test_match_goods_that_share_the_name_are_none(engine: MatchEngine, title: str) -> None:
    d = decide(engine, title)
    assert d.decision == "none"
    assert "offer_goods" in names(d)


def test_match_bonus_poster_with_a_disc_is_still_a_copy(engine: MatchEngine) -> None:
    assert decide(engine, "教父 DVD 送海报").decision == "takedown"


def test_match_negated_disc_in_description_stays_goods(engine: MatchEngine) -> None:
    d = decide(engine, "狮子王 周边 抱枕", description="本商品为周边产品，不含影片光盘")
    assert d.decision == "none"


def test_match_unrelated_goods_have_no_catalogue_id(engine: MatchEngine) -> None:
    d = decide(engine, "不锈钢保温杯 500ml")
    assert (d.decision, d.catalog_id, d.catalog_ids, d.signals) == ("none", None, [], [])


def test_match_non_member_title_is_none(engine: MatchEngine) -> None:
    assert decide(engine, "Inception Blu-ray Region Free").decision == "none"


# -- authorised sellers, pre-release, price ---------------------------------------------------
def test_match_authorised_seller_is_never_queued(engine: MatchEngine) -> None:
    d = decide(engine, "The Matrix DVD-R bootleg download link", seller="WB_STORE",
               marketplace="ebay", price=1.0, currency="USD")
    assert d.decision == "none" and d.score == 0.0
    assert d.catalog_id == "war-matrix-1999"
    assert "authorised_seller" in names(d)


def test_match_seller_authorised_by_another_member_is_not_trusted(engine: MatchEngine) -> None:
    d = decide(engine, "The Matrix Blu-ray", seller="disney_shop", marketplace="ebay",
               currency="USD")
    assert "seller_authorised_other" in names(d)
    assert d.decision != "none"


def test_match_pre_release_signal(engine: MatchEngine) -> None:
    d = decide(engine, "远方的海岸 抢先版 高清")
    assert d.catalog_id == "uni-far-shore-2027"
    pre = next(s for s in d.signals if s.name == "pre_release")
    assert "2027-07-01" in pre.evidence and d.decision == "takedown"


def test_match_normal_price_has_no_low_price_signal(engine: MatchEngine) -> None:
    d = decide(engine, "The Matrix DVD", price=25, currency="USD")
    assert "low_price" not in names(d)


# -- disambiguation ---------------------------------------------------------------------------
@pytest.mark.parametrize(("title", "expected"), [
    ("Toy Story 2 DVD", "dis-toy-story-2-1999"),
    ("Toy Story II Blu-ray", "dis-toy-story-2-1999"),
    ("玩具总动员二 蓝光", "dis-toy-story-2-1999"),
    ("玩具总动员第二部 DVD", "dis-toy-story-2-1999"),
    ("Toy Story (1995) DVD", "dis-toy-story-1995"),
    ("反斗奇兵 高清 DVD", "dis-toy-story-1995"),
])
def test_match_sequels_and_contained_titles(engine: MatchEngine, title: str, expected: str) -> None:
    d = decide(engine, title)
    assert d.decision == "takedown" and d.catalog_id == expected


@pytest.mark.parametrize("title", ["Toy Story 3 DVD", "玩具总动员3 蓝光", "The Godfather: Part II DVD",
                                   "教父续集 DVD", "The Matrix Reloaded Blu-ray"])
def test_match_uncatalogued_sequel_is_not_the_original(engine: MatchEngine, title: str) -> None:
    d = decide(engine, title)
    assert d.decision == "none"


@pytest.mark.parametrize(("title", "expected"), [
    ("The Lion King (2019) Blu-ray", "dis-lion-king-2019"),
    ("The Lion King 1994 DVD", "dis-lion-king-1994"),
])
def test_match_year_tells_remakes_apart(engine: MatchEngine, title: str, expected: str) -> None:
    assert decide(engine, title).catalog_id == expected


def test_match_remake_without_year_is_flagged_as_ambiguous(engine: MatchEngine) -> None:
    d = decide(engine, "狮子王 DVD")
    assert d.catalog_id == "dis-lion-king-2019"  # the newest, as configured
    assert "ambiguous_title" in names(d)


def test_match_year_next_to_title_that_differs_is_another_film(engine: MatchEngine) -> None:
    assert decide(engine, "The Matrix 2021 Blu-ray").decision == "none"


@pytest.mark.parametrize("title", ["Speed Cube 3x3 Puzzle", "Speed Racer DVD", "Office Chair Mesh",
                                   "办公室 椅子 人体工学", "Speed"])
def test_match_everyday_word_titles_need_context(engine: MatchEngine, title: str) -> None:
    assert decide(engine, title).decision == "none"


@pytest.mark.parametrize("title", ["Speed (1994) DVD", "生死时速 蓝光", "Speed Blu-ray Region Free"])
def test_match_everyday_word_titles_with_context(engine: MatchEngine, title: str) -> None:
    assert decide(engine, title).catalog_id == "fox-speed-1994"


def test_match_collection_keeps_every_title(engine: MatchEngine) -> None:
    d = decide(engine, "黑客帝国+教父+狮子王 经典电影合集 DVD")
    assert d.decision == "takedown"
    assert set(d.catalog_ids) == {"war-matrix-1999", "par-godfather-1972", "dis-lion-king-2019"}
    assert d.catalog_ids[0] == d.catalog_id
    assert "collection" in names(d)


def test_match_series_season_and_complete_box(engine: MatchEngine) -> None:
    d = decide(engine, "The Office Season 3 DVD", currency="USD")
    assert (d.decision, d.catalog_id) == ("takedown", "uni-office-tv")
    assert "season" in names(d)
    box = decide(engine, "办公室 1-9季 全集 DVD")
    assert box.catalog_id == "uni-office-tv" and "collection" in names(box)


# -- listings and configuration ----------------------------------------------------------------
@pytest.mark.parametrize(("listing", "problem"), [
    ([1, 2], "expected a JSON object"),
    ({"id": "1"}, "title"),
    ({"id": "", "title": "x"}, "id"),
    ({"id": "1", "title": "x", "price": "cheap"}, "price"),
    ({"id": "1", "title": "x", "price": -3}, "price"),
    ({"id": "1", "title": "x", "seller": 5}, "seller"),
])
def test_check_listing_rejects_malformed(listing: Any, problem: str) -> None:
    with pytest.raises(ListingError, match=problem):
        check_listing(listing)


def test_check_listing_accepts_numeric_id_and_price_text() -> None:
    item = check_listing({"id": 7, "title": "x", "price": "12.50"})
    assert item["id"] == "7" and item["price"] == 12.5


def test_config_rejects_contradictions(tmp_path: Path) -> None:
    bad = tmp_path / "m.yaml"
    bad.write_text("thresholds:\n  takedown: 0.4\n  review: 0.6\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="review is above"):
        MatchConfig.load(bad)
    bad.write_text("weights:\n  title_match: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="outside"):
        MatchConfig.load(bad)
    bad.write_text("wieghts: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key"):
        MatchConfig.load(bad)


def test_config_override_changes_decisions(tmp_path: Path) -> None:
    catalog, authorized = write_catalog(tmp_path)
    strict = tmp_path / "strict.yaml"
    strict.write_text("thresholds:\n  takedown: 1.0\n  review: 0.99\n", encoding="utf-8")
    engine = MatchEngine.from_files(catalog, authorized, strict, today=TODAY)
    d = engine.match({"id": "1", "title": "The Matrix DVD", "marketplace": "ebay", "price": 20,
                      "currency": "USD", "seller": "x"})
    assert d.decision == "none"


def test_lexicon_precedence() -> None:
    lexicon = Lexicon(MatchConfig.load())
    assert classify(lexicon.scan("电影原声 ost cd")).kind == "goods"
    assert classify(lexicon.scan("ps 2 游戏光盘")).kind == "goods"
    assert classify(lexicon.scan("蓝光 dvd")).kind == "copy"
    assert classify(lexicon.scan("dvd 送海报")).kind == "copy"
    assert classify(lexicon.scan("1080 p 高清")).kind == "quality"
    assert classify(lexicon.scan("dvd player")).kind == "unrelated"
