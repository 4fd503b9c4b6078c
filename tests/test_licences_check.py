"""Licence findings on SQLite and PostgreSQL: statuses, disc shops, events, evidence, the signal."""

from __future__ import annotations

import datetime as dt
import gc
from pathlib import Path

import pytest
from scrapy.utils.test import get_crawler
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawler import settings as project_settings
from crawler.catalog.importer import load_catalog
from crawler.db import repo
from crawler.db.models_sellers import LicenceFinding, SellerEvent
from crawler.db.session import session_scope
from crawler.items import CrawledListing, Licence, ListingItem, SellerItem
from crawler.licences.check import check_sellers, sells_discs
from crawler.licences.register import load_register
from crawler.licences.signal import SIGNAL, add_to_decision
from crawler.matching.engine import MatchEngine
from pipelines.match import MatchPipeline, decide_listing
from tests.crawl_support import REPO

TODAY = dt.date(2026, 6, 1)
NOW = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
CATALOG = REPO / "fixtures" / "catalogs" / "sample_catalog.csv"
DISC_TITLES = ["盗梦空间 DVD 光盘 全新未拆", "黑客帝国 蓝光 BD50 碟片", "泰坦尼克号 D9 碟片"]
OTHER_TITLES = ["居家收纳盒 三件套", "不锈钢保温杯 500ml", "USB 3.0 高速U盘 64G"]


def _licence(
    number: str | None = "新出发京零字第东140001号",
    holder: str | None = "北京东方影音有限公司",
    valid_from: str | None = "2021-03-01",
    valid_to: str | None = "2027-03-01",
) -> Licence:
    return Licence(
        number=number,
        holder=holder,
        authority="北京市东城区文化和旅游局",
        valid_from=valid_from,
        valid_to=valid_to,
        raw_text=None,
    )


def _shop(
    session: Session,
    key: str,
    licence: Licence | None,
    titles: list[str],
    marketplace: str = "demomart",
) -> int:
    market = repo.ensure_marketplace(session, marketplace)
    seller = SellerItem(
        seller_id=key,
        name=f"shop {key}",
        shop_name=f"店铺{key}",
        licence=licence,
        has_licence_block=licence is not None,
        marketplace=marketplace,
    )
    seller_id = repo.upsert_seller(session, market, seller, None, NOW, full_profile=True)
    for i, title in enumerate(titles):
        item = ListingItem(
            listing_id=f"{key}-{i}",
            url=f"https://x.example/{key}/{i}",
            title=title,
            seller_id=key,
            marketplace=marketplace,
        )
        repo.upsert_listing(session, market, item, seller_id, None, NOW)
    return seller_id


def _findings(sessions: sessionmaker[Session]) -> dict[int, LicenceFinding]:
    with session_scope(sessions) as session:
        rows = list(session.execute(select(LicenceFinding)).scalars())
        session.expunge_all()
    return {f.seller_id: f for f in rows}


def _events(sessions: sessionmaker[Session]) -> list[tuple[int, str, str | None, str | None]]:
    with session_scope(sessions) as session:
        return [
            (e.seller_id, e.kind, e.from_level, e.to_level)
            for e in session.execute(select(SellerEvent).order_by(SellerEvent.id)).scalars()
        ]


def test_each_status_is_found_for_disc_shops(
    db_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    register_file = tmp_path / "register.csv"
    register_file.write_text(
        "number,holder,valid_to\n"
        "新出发京零字第东140001号,北京东方影音有限责任公司,2027-03-01\n"
        "新出发京零字第东140002号,北京东方影音有限公司,2025-01-01\n"
        "新出发京零字第东140003号,北京西城影音有限公司,2027-03-01\n"
        "新出发京零字第东140005号,北京东方影音有限公司,2033-01-01\n",
        encoding="utf-8",
    )
    register = load_register(register_file)
    cases = {
        "valid": _licence(),
        "expired": _licence("新出发京零字第东140002号", valid_to="2025-01-01"),
        "holder_mismatch": _licence("新出发京零字第东140003号"),
        "unregistered": _licence("新出发京零字第东140004号"),
        "not_yet_valid": _licence(
            "新出发京零字第东140005号", valid_from="2027-01-01", valid_to="2033-01-01"
        ),
        "malformed": _licence("新出发第12AB号"),
        "missing": None,
    }
    with session_scope(db_sessions) as session:
        ids = {
            status: _shop(session, status, licence, DISC_TITLES)
            for status, licence in cases.items()
        }
    with session_scope(db_sessions) as session:
        returned = check_sellers(session, register, list(ids.values()), today=TODAY)
        assert {f.seller_id for f in returned} == set(ids.values())
    found = _findings(db_sessions)
    for status, seller_id in ids.items():
        finding = found[seller_id]
        assert finding.status == status, (status, finding.problems)
        assert finding.sells_discs and finding.disc_listings == 3
        assert finding.register == str(register_file)
    problems = {status: found[sid].problems or [] for status, sid in ids.items()}
    assert problems["valid"] == []
    assert problems["expired"] == ["expired on 2025-01-01"]
    assert problems["holder_mismatch"] == [
        "number 新出发京零字第东140003号 is registered to 北京西城影音有限公司, not 北京东方影音有限公司"
    ]
    assert problems["unregistered"] == ["number 新出发京零字第东140004号 is not in the register"]
    assert problems["not_yet_valid"] == ["valid from 2027-01-01, not yet valid"]
    assert problems["malformed"][0].startswith("number 新出发第12AB号 does not follow")
    assert problems["missing"] == ["no publication licence (出版物经营许可证) is shown"]
    assert found[ids["holder_mismatch"]].register_holder == "北京西城影音有限公司"
    # Every flagged shop got one licence_flag event; the valid one none.
    events = _events(db_sessions)
    assert sorted(sid for sid, kind, _, _ in events if kind == "licence_flag") == sorted(
        sid for status, sid in ids.items() if status != "valid"
    )


def test_without_register_the_licence_is_judged_on_the_page_alone(
    db_sessions: sessionmaker[Session],
) -> None:
    with session_scope(db_sessions) as session:
        seller_id = _shop(session, "s", _licence("新出发京零字第东140003号"), DISC_TITLES)
    with session_scope(db_sessions) as session:
        [finding] = check_sellers(session, today=TODAY)
        assert (finding.seller_id, finding.status, finding.register) == (seller_id, "valid", None)


def test_shops_that_sell_no_discs_are_stored_but_not_flagged(
    db_sessions: sessionmaker[Session],
) -> None:
    with session_scope(db_sessions) as session:
        general = _shop(session, "general", None, OTHER_TITLES)
        empty = _shop(session, "empty", None, [])
    with session_scope(db_sessions) as session:
        check_sellers(session, seller_ids=[general, empty], today=TODAY)
    found = _findings(db_sessions)
    for seller_id in (general, empty):
        assert found[seller_id].status == "missing"
        assert (found[seller_id].sells_discs, found[seller_id].disc_listings) == (False, 0)
    assert _events(db_sessions) == []


def test_a_stray_disc_title_in_a_large_shop_is_not_a_disc_business(
    db_sessions: sessionmaker[Session],
) -> None:
    downloads = [f"电影{i} 百度网盘 秒发 高清资源" for i in range(24)]
    with session_scope(db_sessions) as session:
        stray = _shop(session, "stray", None, [*downloads, "狮子王 蓝光 碟片"])
        small = _shop(session, "small", None, ["狮子王 蓝光 碟片", *OTHER_TITLES])
    with session_scope(db_sessions) as session:
        check_sellers(session, seller_ids=[stray, small], today=TODAY)
    found = _findings(db_sessions)
    assert (found[stray].sells_discs, found[stray].disc_listings) == (False, 1)
    assert (found[small].sells_discs, found[small].disc_listings) == (True, 1)
    # Ten disc listings make a disc seller whatever else the shop sells.
    assert sells_discs(10, 5000) and not sells_discs(9, 5000) and sells_discs(1, 20)


def test_marketplaces_outside_the_licence_regime_are_not_checked(
    db_sessions: sessionmaker[Session],
) -> None:
    with session_scope(db_sessions) as session:
        bay = _shop(session, "bay", None, ["Inception DVD Region Free"], marketplace="demobay")
    with session_scope(db_sessions) as session:
        assert check_sellers(session, seller_ids=[bay], today=TODAY) == []
    assert _findings(db_sessions) == {}


def test_events_only_when_the_flag_changes(db_sessions: sessionmaker[Session]) -> None:
    with session_scope(db_sessions) as session:
        seller_id = _shop(session, "s", _licence(valid_to="2025-01-01"), DISC_TITLES)
    for _ in range(2):
        with session_scope(db_sessions) as session:
            check_sellers(session, today=TODAY)
    assert _events(db_sessions) == [(seller_id, "licence_flag", None, "expired")]
    # The shop now shows a number outside the grammar: still flagged, another status.
    with session_scope(db_sessions) as session:
        _shop(session, "s", _licence("新出发第12AB号", valid_to="2025-01-01"), DISC_TITLES)
        check_sellers(session, today=TODAY)
    # It renews its licence: cleared, once.
    for _ in range(2):
        with session_scope(db_sessions) as session:
            _shop(session, "s", _licence(valid_to="2032-01-01"), DISC_TITLES)
            check_sellers(session, today=TODAY)
    assert _events(db_sessions) == [
        (seller_id, "licence_flag", None, "expired"),
        (seller_id, "licence_flag", "expired", "malformed"),
        (seller_id, "licence_cleared", "malformed", "valid"),
    ]
    with session_scope(db_sessions) as session:
        reasons = [
            e.reason
            for e in session.execute(select(SellerEvent).order_by(SellerEvent.id)).scalars()
        ]
    assert reasons[0] == "expired: expired on 2025-01-01 (3 disc listing(s))"


def test_evidence_is_kept_while_the_licence_read_is_unchanged(
    db_sessions: sessionmaker[Session],
) -> None:
    sha = "a" * 64
    with session_scope(db_sessions) as session:
        seller_id = _shop(session, "s", None, DISC_TITLES)
        check_sellers(
            session,
            None,
            [seller_id],
            today=TODAY,
            evidence={seller_id: (sha, "https://x.example/shop/s")},
        )
    with session_scope(db_sessions) as session:
        check_sellers(session, today=TODAY)  # a recheck without a capture (after a crawl)
    finding = _findings(db_sessions)[seller_id]
    assert (finding.evidence_sha256, finding.evidence_url) == (sha, "https://x.example/shop/s")
    with session_scope(db_sessions) as session:
        [event] = session.execute(select(SellerEvent)).scalars()
        assert event.evidence == [
            {"kind": "shop_page", "sha256": sha, "url": "https://x.example/shop/s"}
        ]
    # The shop now shows a licence: the old capture does not show it, so it is not its evidence.
    with session_scope(db_sessions) as session:
        _shop(session, "s", _licence(), DISC_TITLES)
        check_sellers(session, today=TODAY)
    assert _findings(db_sessions)[seller_id].evidence_sha256 is None


def test_sellers_whose_shop_page_was_never_read_are_not_judged_by_default(
    db_sessions: sessionmaker[Session],
) -> None:
    with session_scope(db_sessions) as session:
        # Seen only on listing pages: no licence block stored, no earlier finding.
        unseen = _shop(session, "unseen", None, DISC_TITLES)
        shown = _shop(session, "shown", _licence(valid_to="2025-01-01"), DISC_TITLES)
        read = _shop(session, "read", None, DISC_TITLES)
    with session_scope(db_sessions) as session:
        check_sellers(session, seller_ids=[read], today=TODAY)  # its shop page was read
    with session_scope(db_sessions) as session:
        assert [f.seller_id for f in check_sellers(session, today=TODAY)] == [shown, read]
    assert unseen not in _findings(db_sessions)


def test_only_the_given_sellers_are_checked(db_sessions: sessionmaker[Session]) -> None:
    with session_scope(db_sessions) as session:
        first = _shop(session, "a", None, DISC_TITLES)
        _shop(session, "b", None, DISC_TITLES)
    with session_scope(db_sessions) as session:
        assert [f.seller_id for f in check_sellers(session, seller_ids=[first], today=TODAY)] == [
            first
        ]
        assert check_sellers(session, seller_ids=[], today=TODAY) == []
    assert set(_findings(db_sessions)) == {first}


# -- the listing signal ------------------------------------------------------------------------
def test_match_signal_on_a_flagged_shops_matched_listing_only(
    db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    with session_scope(db_sessions) as session:
        repo.upsert_catalog_titles(session, [e.as_row() for e in load_catalog(CATALOG)])
        pirate_id = _shop(session, "pirate", None, DISC_TITLES)
        licensed_id = _shop(session, "licensed", _licence(valid_to="2099-01-01"), DISC_TITLES)
    with session_scope(db_sessions) as session:
        check_sellers(session, seller_ids=[pirate_id, licensed_id])
    project = {k: v for k, v in vars(project_settings).items() if k.isupper()}
    crawler = get_crawler(settings_dict={**project, "REELGUARD_DATABASE_URL": db_url})
    pipeline = MatchPipeline(crawler)
    pipeline.open_spider()
    gc.unfreeze()

    def decide(seller: str, title: str) -> dict:
        item = CrawledListing(
            listing=ListingItem(
                listing_id=f"{seller}-{title}",
                url="https://x.example/i",
                title=title,
                seller_id=seller,
                marketplace="demomart",
            )
        )
        pipeline.process_item(item)
        assert item.decision is not None
        return item.decision

    pirate = decide("pirate", "盗梦空间 DVD 光盘 全新未拆")
    licensed = decide("licensed", "盗梦空间 DVD 光盘 全新未拆")
    unmatched = decide("pirate", "不锈钢保温杯 500ml")
    [signal] = [s for s in pirate["signals"] if s["name"] == SIGNAL]
    assert signal["weight"] == 0.0
    assert "publication licence missing" in signal["evidence"]
    assert "3 disc listing(s)" in signal["evidence"]
    assert all(s["name"] != SIGNAL for s in licensed["signals"])
    assert all(s["name"] != SIGNAL for s in unmatched["signals"])
    assert unmatched["decision"] == "none" and unmatched["catalog_id"] is None
    # The signal changes nothing else.
    strip = [(s["name"], s["weight"]) for s in pirate["signals"] if s["name"] != SIGNAL]
    assert (pirate["decision"], pirate["score"], strip) == (
        licensed["decision"],
        licensed["score"],
        [(s["name"], s["weight"]) for s in licensed["signals"]],
    )
    # One lookup per seller, not per listing.
    for _ in range(5):
        decide("pirate", "黑客帝国 蓝光 BD50 碟片")
    assert pipeline.licences is not None and pipeline.licences.lookups == 2


def test_signal_never_changes_a_decision_on_the_demo_listings() -> None:
    import json

    engine = MatchEngine.from_files(
        CATALOG, REPO / "fixtures" / "catalogs" / "authorized.csv", today=TODAY
    )
    member_of = {e.id: e.member for e in load_catalog(CATALOG)}
    signal = {"name": SIGNAL, "weight": 0.0, "evidence": "shop x: publication licence missing"}
    changed = matched = 0
    for line in (REPO / "fixtures" / "sites" / "demomart" / "listings.jsonl").open(
        encoding="utf-8"
    ):
        row = json.loads(line)
        listing = ListingItem(
            listing_id=row["id"],
            url="https://x.example",
            title=row["title"],
            price=row["price"],
            currency="CNY",
            seller_id=row["seller_id"],
            marketplace="demomart",
            description=row.get("description"),
        )
        before = decide_listing(engine, member_of, listing)
        after = add_to_decision(json.loads(json.dumps(before)), signal)
        has = any(s["name"] == SIGNAL for s in after["signals"])
        matched += has
        assert has == bool(before["catalog_id"])
        changed += (after["decision"], after["score"], after["catalog_id"]) != (
            before["decision"],
            before["score"],
            before["catalog_id"],
        )
    assert changed == 0 and matched > 500


def test_a_check_without_a_register_named_reuses_the_last_one(
    db_sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawler.licences.register import register_in_use

    monkeypatch.delenv("REELGUARD_LICENCE_REGISTER", raising=False)
    register_file = tmp_path / "register.csv"
    register_file.write_text(
        "number,holder,valid_to\n新出发京零字第东140003号,北京西城影音有限公司,2027-03-01\n",
        encoding="utf-8",
    )
    with session_scope(db_sessions) as session:
        assert register_in_use(session) is None
        seller_id = _shop(session, "s", _licence("新出发京零字第东140003号"), DISC_TITLES)
    with session_scope(db_sessions) as session:
        check_sellers(session, load_register(register_file), today=TODAY)
    with session_scope(db_sessions) as session:
        path = register_in_use(session)
        assert path == str(register_file.resolve())
        check_sellers(session, load_register(path), today=TODAY)
    assert _findings(db_sessions)[seller_id].status == "holder_mismatch"
    register_file.unlink()
    with session_scope(db_sessions) as session:
        assert register_in_use(session) is None
