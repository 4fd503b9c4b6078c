"""Storage layer (crawler.db): migrations, idempotent upserts, concurrency, reports.

Every test using ``db_url``/``db_sessions`` runs on a SQLite file and on a fresh PostgreSQL
database (ids ``sqlite`` / ``postgres``); see ``tests/db_fixtures.py``.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, exc, func, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from crawler.db import repo
from crawler.db.errors import DatabaseUnreachable, InvalidDatabaseURL
from crawler.db.models import (
    NAMING_CONVENTION,
    AuthorizedSeller,
    Base,
    CatalogTitle,
    CrawlEvent,
    CrawlRun,
    Listing,
    Observation,
    Seller,
)
from crawler.db.session import (
    DEFAULT_DATABASE_URL,
    alembic_config,
    current_revision,
    database_url,
    head_revision,
    make_engine,
    ping,
    session_factory,
    session_scope,
    upgrade,
)
from crawler.exceptions import StorageError
from crawler.items import Licence, ListingItem, SellerItem

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

TABLES = {
    "marketplaces",
    "sellers",
    "listings",
    "observations",
    "crawl_runs",
    "crawl_events",
    "catalog_titles",
    "authorized_sellers",
}


def full_page(key: str = "L1", **kw: object) -> ListingItem:
    defaults: dict[str, object] = {
        "title": "流浪地球2 蓝光 4K",
        "price_text": "¥39.90",
        "price": 39.9,
        "currency": "CNY",
        "description": "全新未拆封 4K UHD",
        "location": "上海 浦东",
        "image_urls": ["https://img.example/1.jpg", "https://img.example/2.jpg"],
        "condition": "全新",
        "page_kind": "item",
        "source": "listing",
        "marketplace": "demo",
    }
    defaults.update(kw)
    return ListingItem(key, f"https://demo.example/item/{key}", **defaults)  # type: ignore[arg-type]


def card(key: str = "L1", **kw: object) -> ListingItem:
    defaults: dict[str, object] = {
        "title": "流浪地球2 蓝光 4K",
        "price": 35.0,
        "currency": "CNY",
        "location": "上海",
        "page_kind": "card",
        "source": "search",
        "keyword": "流浪地球",
    }
    defaults.update(kw)
    return ListingItem(key, f"https://demo.example/item/{key}", **defaults)  # type: ignore[arg-type]


def new_run(sessions: sessionmaker[Session], job: str = "search") -> int:
    with session_scope(sessions) as s:
        return repo.start_run(s, job, ["demo"], {"keyword": "流浪地球"})


# --------------------------------------------------------------------------- migrations


def test_migrations_upgrade_from_empty_to_head(empty_db_url: str) -> None:
    assert current_revision(empty_db_url) is None
    upgrade(empty_db_url)
    assert current_revision(empty_db_url) == head_revision() is not None
    upgrade(empty_db_url)  # idempotent
    engine = make_engine(empty_db_url)
    try:
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_downgrade_to_base_and_back(db_url: str) -> None:
    command.downgrade(alembic_config(db_url), "base")
    engine = make_engine(db_url)
    try:
        assert not TABLES & set(inspect(engine).get_table_names())
        upgrade(db_url)
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_schema_uses_naming_convention(db_engine: Engine) -> None:
    assert Base.metadata.naming_convention == NAMING_CONVENTION
    insp = inspect(db_engine)
    uniques = {u["name"] for u in insp.get_unique_constraints("listings")}
    assert "uq_listings_marketplace_id_listing_key" in uniques
    assert "uq_observations_listing_id_run_id" in {
        u["name"] for u in insp.get_unique_constraints("observations")
    }
    fks = {f["name"] for f in insp.get_foreign_keys("listings")}
    assert {
        "fk_listings_marketplace_id_marketplaces",
        "fk_listings_seller_id_sellers",
        "fk_listings_last_run_id_crawl_runs",
    } <= fks
    assert "ix_listings_seller_id" in {i["name"] for i in insp.get_indexes("listings")}
    assert insp.get_pk_constraint("sellers")["name"] in ("pk_sellers", None)  # SQLite: unnamed


# --------------------------------------------------------------------------- listings & sellers


def test_upsert_listing_same_key_many_times_keeps_one_row(
    db_sessions: sessionmaker[Session],
) -> None:
    run = new_run(db_sessions)
    created_flags = []
    for i in range(30):
        with session_scope(db_sessions) as s:
            mid = repo.ensure_marketplace(s, "demo", "https://demo.example")
            _, created = repo.upsert_listing(
                s, mid, full_page(price=10.0 + i), None, run, T0 + timedelta(minutes=i)
            )
            created_flags.append(created)
    assert created_flags == [True] + [False] * 29
    with session_scope(db_sessions) as s:
        rows = s.scalars(select(Listing)).all()
        assert len(rows) == 1
        row = rows[0]
        assert row.price == 39.0
        assert row.first_seen == T0
        assert row.last_seen == T0 + timedelta(minutes=29)
        assert row.last_run_id == run


def test_upsert_seller_same_key_many_times_keeps_one_row(
    db_sessions: sessionmaker[Session],
) -> None:
    licence = Licence(
        number="新出发沪批字第U1234号", holder="某某书店", raw_text="出版物经营许可证"
    )
    with session_scope(db_sessions) as s:
        mid = repo.ensure_marketplace(s, "demo")
        first = repo.upsert_seller(
            s,
            mid,
            SellerItem(
                "shop-9", name="Bob", shop_name="Bob's", licence=licence, has_licence_block=True
            ),
            None,
            T0,
            full_profile=True,
        )
    for i in range(1, 20):
        with session_scope(db_sessions) as s:
            # From listing pages: no name, no licence block visible.
            again = repo.upsert_seller(
                s, mid, SellerItem("shop-9", location="杭州"), None, T0 + timedelta(hours=i)
            )
            assert again == first
    with session_scope(db_sessions) as s:
        (seller,) = s.scalars(select(Seller)).all()
        assert seller.name == "Bob"
        assert seller.location == "杭州"
        assert seller.licence_number == "新出发沪批字第U1234号"
        assert seller.has_licence_block is True
        assert seller.last_seen == T0 + timedelta(hours=19)
        assert seller.first_seen == T0
    with session_scope(db_sessions) as s:
        # The shop page itself now shows no licence block: that is a fact, it replaces.
        repo.upsert_seller(
            s, mid, SellerItem("shop-9"), None, T0 + timedelta(days=1), full_profile=True
        )
    with session_scope(db_sessions) as s:
        (seller,) = s.scalars(select(Seller)).all()
        assert seller.has_licence_block is False
        assert seller.licence_number is None
        assert seller.name == "Bob"  # profile fields are still COALESCEd


def test_card_after_full_page_keeps_rich_fields(db_sessions: sessionmaker[Session]) -> None:
    run = new_run(db_sessions)
    with session_scope(db_sessions) as s:
        mid = repo.ensure_marketplace(s, "demo")
        sid = repo.upsert_seller(s, mid, SellerItem("shop-1", name="A"), run, T0)
        lid, _ = repo.upsert_listing(s, mid, full_page(), sid, run, T0)
    with session_scope(db_sessions) as s:
        lid2, created = repo.upsert_listing(
            s,
            mid,
            card(description="短描述", image_urls=["https://img.example/t.jpg"]),
            None,
            run,
            T0 + timedelta(hours=1),
        )
        assert (lid2, created) == (lid, False)
    with session_scope(db_sessions) as s:
        row = s.get_one(Listing, lid)
        assert row.description == "全新未拆封 4K UHD"
        assert row.location == "上海 浦东"
        assert row.image_urls == ["https://img.example/1.jpg", "https://img.example/2.jpg"]
        assert row.condition == "全新"
        assert row.seller_id == sid  # the card had no seller: kept
        assert row.price == 35.0  # a newer price is newer information
        assert row.last_seen == T0 + timedelta(hours=1)


def test_card_first_then_full_page_fills_and_overwrites(db_sessions: sessionmaker[Session]) -> None:
    with session_scope(db_sessions) as s:
        mid = repo.ensure_marketplace(s, "demo")
        lid, created = repo.upsert_listing(s, mid, card(description=None), None, None, T0)
        assert created
        repo.upsert_listing(s, mid, full_page(), None, None, T0 + timedelta(minutes=1))
    with session_scope(db_sessions) as s:
        row = s.get_one(Listing, lid)
        assert row.description == "全新未拆封 4K UHD"
        assert row.location == "上海 浦东"


def test_removed_listing_sets_removed_at_once(db_sessions: sessionmaker[Session]) -> None:
    with session_scope(db_sessions) as s:
        mid = repo.ensure_marketplace(s, "demo")
        lid, _ = repo.upsert_listing(s, mid, full_page(), None, None, T0)
    for hours in (1, 2):
        with session_scope(db_sessions) as s:
            gone = ListingItem("L1", "https://demo.example/item/L1", "", status="removed")
            repo.upsert_listing(s, mid, gone, None, None, T0 + timedelta(hours=hours))
    with session_scope(db_sessions) as s:
        row = s.get_one(Listing, lid)
        assert row.status == "removed"
        assert row.removed_at == T0 + timedelta(hours=1)
        assert row.title == "流浪地球2 蓝光 4K"  # the removal page's empty title erased nothing
        assert row.price == 39.9


def test_upserts_reject_naive_seen_at(db_sessions: sessionmaker[Session]) -> None:
    with session_scope(db_sessions) as s:
        mid = repo.ensure_marketplace(s, "demo")
        with pytest.raises(ValueError, match="timezone-aware"):
            repo.upsert_listing(s, mid, full_page(), None, None, datetime(2026, 1, 1))


# --------------------------------------------------------------------------- observations


def test_observation_is_unique_per_listing_and_run(db_sessions: sessionmaker[Session]) -> None:
    run1 = new_run(db_sessions)
    run2 = new_run(db_sessions)
    with session_scope(db_sessions) as s:
        mid = repo.ensure_marketplace(s, "demo")
        lid, _ = repo.upsert_listing(s, mid, card(), None, run1, T0)
        repo.record_observation(s, lid, run1, card(), T0)
    with session_scope(db_sessions) as s:
        repo.record_observation(
            s, lid, run1, full_page(fetched_via="browser", keyword=None), T0 + timedelta(minutes=5)
        )
    with session_scope(db_sessions) as s:
        (obs,) = s.scalars(select(Observation)).all()
        assert obs.seen_at == T0 + timedelta(minutes=5)
        assert obs.price == 39.9
        assert obs.fetched_via == "browser"
        assert obs.keyword == "流浪地球"  # kept from the card sighting
        repo.record_observation(s, lid, run2, card(), T0 + timedelta(days=1))
    with session_scope(db_sessions) as s:
        assert s.scalar(select(func.count()).select_from(Observation)) == 2


# --------------------------------------------------------------------------- concurrency


def test_concurrent_upserts_of_same_keys_leave_one_row_each(
    db_sessions: sessionmaker[Session],
) -> None:
    """Two writers, each with its own sessions, upsert the same 200 keys in the same order."""
    run = new_run(db_sessions)
    keys = [f"K{i:03d}" for i in range(200)]
    barrier = threading.Barrier(2)

    def worker(offset: int) -> int:
        created = 0
        barrier.wait(timeout=30)
        for n, key in enumerate(keys):
            seen = T0 + timedelta(seconds=n + offset)
            with session_scope(db_sessions) as s:
                mid = repo.ensure_marketplace(s, "demo", "https://demo.example")
                sid = repo.upsert_seller(
                    s, mid, SellerItem(f"S{int(key[1:]) % 7}", name="x"), run, seen
                )
                lid, was_created = repo.upsert_listing(
                    s, mid, full_page(key, price=float(n)), sid, run, seen
                )
                repo.record_observation(s, lid, run, full_page(key), seen)
                created += was_created
        return created

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(worker, offset) for offset in (0, 1)]
        created = [f.result(timeout=240) for f in futures]  # re-raises a worker's exception
    assert sum(created) == 200  # each key created exactly once, by one of the two writers
    with session_scope(db_sessions) as s:
        counts = repo.counts(s)
        assert counts["listings"] == 200
        assert counts["sellers"] == 7
        assert counts["observations"] == 200
        keys_in_db = s.scalars(select(Listing.listing_key)).all()
        assert sorted(keys_in_db) == keys
        # Both writers saw every key; the later sighting wins last_seen.
        last = s.scalar(select(func.max(Listing.last_seen)))
        assert last == T0 + timedelta(seconds=200)


# --------------------------------------------------------------------------- runs, events, reports


def test_counts_report_every_table_and_zero_for_future_ones(
    db_sessions: sessionmaker[Session],
) -> None:
    run = new_run(db_sessions)
    with session_scope(db_sessions) as s:
        assert repo.counts(s) == {
            "listings": 0,
            "sellers": 0,
            "observations": 0,
            "matches": 0,
            "takedown_requests": 0,
            "evidence": 0,
        }
        mid = repo.ensure_marketplace(s, "demo")
        sid = repo.upsert_seller(s, mid, SellerItem("S1"), run, T0)
        for key in ("A", "B", "C"):
            lid, _ = repo.upsert_listing(s, mid, card(key), sid, run, T0)
            repo.record_observation(s, lid, run, card(key), T0)
    with session_scope(db_sessions) as s:
        got = repo.counts(s)
    assert (got["listings"], got["sellers"], got["observations"]) == (3, 1, 3)
    assert (got["matches"], got["takedown_requests"], got["evidence"]) == (0, 0, 0)


def test_run_lifecycle_stores_json_safe_stats_and_events(
    db_sessions: sessionmaker[Session],
) -> None:
    with session_scope(db_sessions) as s:
        run = repo.start_run(s, "storefront", ["demo", "xianyu"], {"since": T0, "pages": 3})
        repo.record_event(s, run, "blocked", "https://demo.example/s?q=x", "captcha", "demo")
        repo.record_event(s, run, "blocked", "https://demo.example/s?q=y", "login", "demo")
        repo.record_event(s, run, "error", "https://demo.example/item/9", "timeout", "demo")
    stats = {
        "start_time": T0,
        "finish_time": T0 + timedelta(minutes=3),
        "response_received_count": 12,
        "item_scraped_count": 40,
        "elapsed_time_seconds": 180.5,
        "weird": {1, 2},
    }
    with session_scope(db_sessions) as s:
        repo.finish_run(s, run, "finished", "finished", stats)
    with session_scope(db_sessions) as s:
        row = s.get_one(CrawlRun, run)
        assert row.status == "finished"
        assert row.marketplaces == "demo,xianyu"
        assert row.args == {"since": T0.isoformat(), "pages": 3}
        assert row.stats is not None
        assert row.stats["start_time"] == T0.isoformat()
        assert row.stats["weird"] == [1, 2]
        assert (row.pages, row.listings, row.blocked, row.errors) == (12, 40, 2, 1)
        assert row.finished_at is not None and row.finished_at.tzinfo is not None
        kinds = s.scalars(select(CrawlEvent.kind).where(CrawlEvent.run_id == run)).all()
        assert sorted(kinds) == ["blocked", "blocked", "error"]
        with pytest.raises(ValueError):
            repo.finish_run(s, run, "done", None, {})


def test_list_listings_and_stats_by_marketplace(db_sessions: sessionmaker[Session]) -> None:
    run1 = new_run(db_sessions)
    run2 = new_run(db_sessions)
    with session_scope(db_sessions) as s:
        demo = repo.ensure_marketplace(s, "demo")
        other = repo.ensure_marketplace(s, "xianyu")
        sid = repo.upsert_seller(s, demo, SellerItem("S1", name="Seller One"), run1, T0)
        for i, key in enumerate(("A", "B")):
            lid, _ = repo.upsert_listing(s, demo, card(key), sid, run1, T0 + timedelta(minutes=i))
            repo.record_observation(s, lid, run1, card(key), T0)
        lid, _ = repo.upsert_listing(s, other, card("Z"), None, run2, T0 + timedelta(hours=1))
        repo.record_observation(s, lid, run2, card("Z"), T0 + timedelta(hours=1))
    with session_scope(db_sessions) as s:
        rows = repo.list_listings(s)
        assert [r.listing_key for r in rows] == ["Z", "B", "A"]
        assert rows[1].marketplace == "demo" and rows[1].seller_name == "Seller One"
        assert rows[0].seller_name is None
        assert [r.listing_key for r in repo.list_listings(s, "demo", limit=1, offset=1)] == ["A"]
        assert repo.listing_stats_by_marketplace(s) == {
            "demo": {"listings": 2, "sellers": 1},
            "xianyu": {"listings": 1, "sellers": 0},
        }
        assert repo.listing_stats_by_marketplace(s, run1) == {"demo": {"listings": 2, "sellers": 1}}
        # run2 was started for "demo" but found only on xianyu: demo shows up with zeros.
        assert repo.listing_stats_by_marketplace(s, run2) == {
            "demo": {"listings": 0, "sellers": 0},
            "xianyu": {"listings": 1, "sellers": 0},
        }


# --------------------------------------------------------------------------- catalogue


def test_catalog_upsert_creates_then_updates(db_sessions: sessionmaker[Session]) -> None:
    rows: list[dict[str, object]] = [
        {
            "id": "acme-001",
            "member": "acme",
            "title": "流浪地球2",
            "year": 2023,
            "aliases": ["The Wandering Earth II"],
            "kind": "film",
            "release_date": "2023-01-22",
        },
        {"id": "acme-002", "member": "acme", "title": "满江红", "year": "2023"},
    ]
    with session_scope(db_sessions) as s:
        assert repo.upsert_catalog_titles(s, rows) == (2, 0)
    with session_scope(db_sessions) as s:
        assert repo.upsert_catalog_titles(s, rows) == (0, 0)
    changed = [dict(rows[0], home_release_date=date(2023, 4, 1)), rows[1]]
    with session_scope(db_sessions) as s:
        assert repo.upsert_catalog_titles(
            s, changed + [{"id": "x-1", "member": "x", "title": "T"}]
        ) == (1, 1)
    with session_scope(db_sessions) as s:
        title = s.get_one(CatalogTitle, "acme-001")
        assert title.home_release_date == date(2023, 4, 1)
        assert title.release_date == date(2023, 1, 22)
        assert title.aliases == ["The Wandering Earth II"]
        assert s.get_one(CatalogTitle, "acme-002").year == 2023
        with pytest.raises(ValueError):
            repo.upsert_catalog_titles(
                s, [{"id": "bad", "member": "m", "title": "t", "release_date": "soon"}]
            )


def test_replace_authorized_sellers(db_sessions: sessionmaker[Session]) -> None:
    with session_scope(db_sessions) as s:
        n = repo.replace_authorized_sellers(
            s,
            [
                {"marketplace": "demo", "seller": "S1", "member": "acme"},
                {"marketplace": "demo", "seller": "S1", "member": "acme"},
                {"marketplace": "demo", "seller": "S2", "member": "other"},
            ],
        )
        assert n == 2
    with session_scope(db_sessions) as s:
        repo.replace_authorized_sellers(
            s, [{"marketplace": "demo", "seller": "S3", "member": "acme"}], member="acme"
        )
    with session_scope(db_sessions) as s:
        got = s.execute(
            select(AuthorizedSeller.seller, AuthorizedSeller.member).order_by(
                AuthorizedSeller.seller
            )
        ).all()
        assert [tuple(r) for r in got] == [("S2", "other"), ("S3", "acme")]


# --------------------------------------------------------------------------- time


def test_datetimes_round_trip_as_aware_utc(db_sessions: sessionmaker[Session]) -> None:
    beijing = timezone(timedelta(hours=8))
    local = datetime(2026, 3, 1, 20, 30, 15, 123456, tzinfo=beijing)
    with session_scope(db_sessions) as s:
        mid = repo.ensure_marketplace(s, "demo")
        lid, _ = repo.upsert_listing(s, mid, full_page(), None, None, local)
    with session_scope(db_sessions) as s:
        row = s.get_one(Listing, lid)
        assert row.first_seen.tzinfo is not None
        assert row.first_seen.utcoffset() == timedelta(0)
        assert row.first_seen == local
        assert row.first_seen.hour == 12
    with pytest.raises(exc.StatementError, match="naive datetime"), session_scope(db_sessions) as s:
        s.add(CrawlRun(job="x", marketplaces="", started_at=datetime(2026, 1, 1), status="running"))


def test_sqlite_stores_utc_text_and_applies_pragmas(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        sessions = session_factory(engine)
        with session_scope(sessions) as s:
            run = repo.start_run(s, "search", "demo", None)
            s.get_one(CrawlRun, run).started_at = datetime(
                2026, 3, 1, 20, 0, tzinfo=timezone(timedelta(hours=8))
            )
        with engine.connect() as conn:
            raw = conn.execute(text("SELECT started_at FROM crawl_runs")).scalar()
            assert str(raw).startswith("2026-03-01 12:00:00")
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- URLs & errors


def test_database_url_prefers_explicit_then_env_then_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REELGUARD_DATABASE_URL", raising=False)
    assert database_url() == DEFAULT_DATABASE_URL == "sqlite:///var/reelguard.db"
    monkeypatch.setenv("REELGUARD_DATABASE_URL", "postgresql://u@h/db")
    assert database_url() == "postgresql://u@h/db"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_default_url_creates_var_dir_in_cwd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("REELGUARD_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    upgrade()
    assert (tmp_path / "var" / "reelguard.db").is_file()
    assert current_revision() == head_revision()


def test_postgresql_urls_use_psycopg3() -> None:
    for url in ("postgresql://u@127.0.0.1/db", "postgres://u@127.0.0.1/db"):
        engine = make_engine(url)
        assert engine.url.drivername == "postgresql+psycopg"
        assert engine.dialect.driver == "psycopg"
        engine.dispose()


def test_malformed_url_is_one_clear_error() -> None:
    with pytest.raises(InvalidDatabaseURL) as info:
        make_engine("not a url")
    assert "\n" not in str(info.value)
    assert isinstance(info.value, StorageError)
    with pytest.raises(InvalidDatabaseURL, match="unknown database dialect"):
        make_engine("nosuchdb://x/y")


def test_unreachable_postgres_is_one_clear_error() -> None:
    url = "postgresql://postgres:secret@127.0.0.1:1/nope"
    with pytest.raises(DatabaseUnreachable) as info:
        upgrade(url)
    message = str(info.value)
    assert "\n" not in message
    assert "cannot reach the database" in message
    assert "secret" not in message
    assert info.value.__cause__ is not None
    engine = make_engine(url)
    with pytest.raises(DatabaseUnreachable):
        ping(engine)
    engine.dispose()


def test_sqlite_file_that_is_not_a_database_is_one_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "junk.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseUnreachable, match="cannot reach the database"):
        current_revision(f"sqlite:///{bogus}")
