"""Catalogue metadata (directors, cast, franchise): import, storage, and what matching does
with it: collections named by a person, remakes told apart by their people, years that decide.

Catalogue: ``PEOPLE_CSV`` in tests/matching_fixtures.py. Storage tests run on SQLite and
PostgreSQL (tests/db_fixtures.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from crawler.catalog.importer import load_catalog
from crawler.db import repo
from crawler.db.session import session_scope
from crawler.exceptions import CatalogError
from crawler.matching.engine import MatchEngine
from crawler.matching.store import engine_from_database
from tests.matching_fixtures import TODAY, write_people_catalog


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> MatchEngine:
    return MatchEngine.from_files(write_people_catalog(tmp_path_factory.mktemp("people")),
                                  today=TODAY)


def decide(engine: MatchEngine, title: str, **extra: object) -> tuple[str, list[str], list[str]]:
    d = engine.match({"id": "p1", "marketplace": "ebay", "title": title, "price": 9.99,
                      "currency": "USD", "seller": "someone", **extra})
    return d.decision, d.catalog_ids, [f"{s.name}: {s.evidence}" for s in d.signals]


def test_importer_reads_people_with_names_in_several_languages(tmp_path: Path) -> None:
    entries = {e.id: e for e in load_catalog(write_people_catalog(tmp_path))}
    assert entries["war-inception-2010"].directors == [["Christopher Nolan", "克里斯托弗·诺兰"]]
    assert entries["dis-lion-king-1994"].directors == [["Roger Allers"], ["Rob Minkoff"]]
    assert entries["war-dark-knight-2008"].franchise == [["Batman", "蝙蝠侠"]]
    assert entries["fox-times-2019"].cast == []


def test_importer_refuses_malformed_people_by_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[{"id": "a", "member": "m", "title": "T", "year": 2000, "aliases": [], '
                    '"kind": "film", "directors": 7},'
                    '{"id": "b", "member": "m", "title": "U", "year": 2000, "aliases": [], '
                    '"kind": "film", "cast": [["X", 3]]}]', encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    text = str(err.value)
    assert "line 1: directors must be text or a list, not int" in text
    assert "line 2: cast:" in text


def test_people_columns_are_stored_and_reach_the_engine(db_sessions: sessionmaker[Session],
                                                        tmp_path: Path) -> None:
    rows = [e.as_row() for e in load_catalog(write_people_catalog(tmp_path))]
    with session_scope(db_sessions) as s:
        assert repo.upsert_catalog_titles(s, rows) == (len(rows), 0)
    with session_scope(db_sessions) as s:
        assert repo.upsert_catalog_titles(s, rows) == (0, 0)  # unchanged people: no rewrite
        engine, _ = engine_from_database(s)
    assert engine is not None
    d = engine.match({"id": "x", "title": "诺兰导演作品集 蓝光 DVD", "marketplace": "taobao"})
    assert d.decision == "takedown"
    assert sorted(d.catalog_ids) == ["war-dark-knight-2008", "war-inception-2010",
                                     "war-interstellar-2014"]


@pytest.mark.parametrize("title", [
    "Christopher Nolan Collection 7 Movies DVD",
    "诺兰导演作品集 蓝光 DVD",
    "Nolan Filmography Blu-ray Box Set",
    "克里斯托弗·诺兰 电影全集 高清 网盘",
])
def test_match_collection_named_by_its_director(engine: MatchEngine, title: str) -> None:
    decision, ids, signals = decide(engine, title)
    assert decision == "takedown"
    assert sorted(ids) == ["war-dark-knight-2008", "war-inception-2010", "war-interstellar-2014"]
    assert any(s.startswith('normalised: person: ') for s in signals)


def test_match_person_named_without_a_collection_is_not_their_works(engine: MatchEngine) -> None:
    assert decide(engine, "Christopher Nolan signed photo 8x10")[0] == "none"


@pytest.mark.parametrize("title, expected", [
    ("The Lion King Jon Favreau DVD", "dis-lion-king-2019"),
    ("The Lion King dir. Roger Allers DVD", "dis-lion-king-1994"),
    ("狮子王 乔恩·费儒 蓝光", "dis-lion-king-2019"),
])
def test_match_remakes_told_apart_by_their_people(engine: MatchEngine, title: str,
                                                  expected: str) -> None:
    decision, ids, signals = decide(engine, title)
    assert decision == "takedown" and ids == [expected]
    assert not any(s.startswith("ambiguous_title") for s in signals)


@pytest.mark.parametrize("title", [
    "Cinderella Disney Animated Classic DVD 1950",
    "灰姑娘 迪士尼经典动画 1950 DVD",
])
def test_match_stated_year_of_another_film_excludes_the_member(engine: MatchEngine,
                                                               title: str) -> None:
    decision, ids, signals = decide(engine, title)
    assert decision == "none" and ids == []
    assert any(s.startswith("year_mismatch") for s in signals)


@pytest.mark.parametrize("title", ["2024新款 灰姑娘 DVD 高清", "Cinderella 2021 Remastered DVD"])
def test_match_product_year_is_not_the_films_year(engine: MatchEngine, title: str) -> None:
    assert decide(engine, title)[:2] == ("takedown", ["dis-cinderella-2015"])


def test_match_franchise_column_names_a_collection(engine: MatchEngine) -> None:
    decision, ids, _ = decide(engine, "蝙蝠侠 系列 合集 DVD")
    assert decision == "takedown" and ids == ["war-dark-knight-2008"]


# -- everyday phrases that contain a short title ------------------------------------------
@pytest.mark.parametrize("title", [
    "Up & Go Liquid Breakfast Chocolate 6 Pack",
    "The Times Newspaper Subscription Gift Card",
    "飞屋环游记 矿泉水 550ml 整箱",
])
def test_match_product_words_veto_a_phrase_hit(engine: MatchEngine, title: str) -> None:
    decision, _, signals = decide(engine, title)
    assert decision == "none"
    assert any(s.startswith(("product_category", "offer_unrelated")) for s in signals)


@pytest.mark.parametrize("title", ["Up DVD Pixar 2009", "The Times 2019 Blu-ray gift"])
def test_match_short_title_with_disc_words_survives_product_words(engine: MatchEngine,
                                                                  title: str) -> None:
    assert decide(engine, title)[0] == "takedown"
