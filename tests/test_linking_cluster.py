"""Links and clusters of seller accounts (``crawler.linking.cluster``).

What touches the database in a backend-specific way (upserts, links, events, clusters) runs on
SQLite and PostgreSQL (``shop``); the rules about which photos count run on a SQLite copy of one
migrated database (``sqlite_shop``), to keep the suite fast. Identifiers are written with
``crawler.linking.store.upsert_identifier`` (as the crawl does); evidence hashes are made up
here (the crawl test in ``test_linking_crawl.py`` checks real ones).
"""

from __future__ import annotations

import hashlib
import random
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crawler.db import repo
from crawler.db.models import Listing
from crawler.db.models_sellers import SellerCluster, SellerEvent, SellerIdentifier, SellerLink
from crawler.db.session import make_engine, session_factory, session_scope, upgrade
from crawler.items import ListingItem, SellerItem
from crawler.linking.cluster import (
    LinkRules,
    _near_pairs,
    cluster_members,
    recompute_clusters,
)
from crawler.linking.images import hamming
from crawler.linking.store import upsert_identifier

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
PHOTO_1 = "c3a5963c5a69a596"
PHOTO_2 = "9b6d24e1c3f08e5a"
PHOTO_3 = "5f0e1d2c3b4a6978"


def flip(hex_hash: str, *bits: int) -> str:
    """``hex_hash`` with the given bits flipped."""
    value = int(hex_hash, 16)
    for bit in bits:
        value ^= 1 << bit
    return f"{value:016x}"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Shop:
    """Sellers with one listing each on one marketplace, and what they show."""

    def __init__(self, sessions: sessionmaker[Session], market: str = "demomart") -> None:
        self.sessions = sessions
        self.market = market
        self.ids: dict[str, int] = {}
        self.listings: dict[str, int] = {}

    def seller(self, key: str) -> int:
        if key not in self.ids:
            with session_scope(self.sessions) as s:
                mid = repo.ensure_marketplace(s, self.market)
                sid = repo.upsert_seller(
                    s,
                    mid,
                    SellerItem(seller_id=key, name=f"shop {key}", marketplace=self.market),
                    None,
                    NOW,
                )
                lid, _ = repo.upsert_listing(
                    s,
                    mid,
                    ListingItem(
                        listing_id=f"L-{key}",
                        url=f"http://m.test/item?id=L-{key}",
                        title=f"listing of {key}",
                        marketplace=self.market,
                    ),
                    sid,
                    None,
                    NOW,
                )
            self.ids[key], self.listings[key] = sid, lid
        return self.ids[key]

    def shows(self, key: str, kind: str, value: str, proof: bool = True) -> None:
        sid = self.seller(key)
        with session_scope(self.sessions) as s:
            upsert_identifier(
                s,
                seller_id=sid,
                kind=kind,
                value=value,
                seen_at=NOW,
                shown=f"{kind} {value}",
                listing_id=self.listings[key],
                url=f"http://m.test/item?id=L-{key}",
                evidence_sha256=sha(f"{key}|{kind}|{value}") if proof else None,
            )

    def recompute(self, rules: LinkRules | None = None) -> int:
        with session_scope(self.sessions) as s:
            return recompute_clusters(s, rules)

    def links(self) -> list[SellerLink]:
        with session_scope(self.sessions) as s:
            rows = list(s.execute(select(SellerLink).order_by(SellerLink.id)).scalars())
            s.expunge_all()
            return rows

    def clusters(self) -> dict[int, tuple[int, int]]:
        with session_scope(self.sessions) as s:
            return {
                r.seller_id: (r.cluster_id, r.size)
                for r in s.execute(select(SellerCluster)).scalars()
            }

    def events(self, key: str | None = None) -> list[SellerEvent]:
        with session_scope(self.sessions) as s:
            stmt = select(SellerEvent).where(SellerEvent.kind == "linked").order_by(SellerEvent.id)
            if key is not None:
                stmt = stmt.where(SellerEvent.seller_id == self.ids[key])
            rows = list(s.execute(stmt).scalars())
            s.expunge_all()
            return rows


@pytest.fixture
def shop(db_sessions: sessionmaker[Session]) -> Shop:
    return Shop(db_sessions)


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_shop(migrated_sqlite: Path, tmp_path: Path) -> Iterator[Shop]:
    path = tmp_path / "x.db"
    shutil.copyfile(migrated_sqlite, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        yield Shop(session_factory(engine))
    finally:
        engine.dispose()


def test_shared_phone_links_two_sellers_with_both_proofs(shop: Shop) -> None:
    shop.shows("a", "phone", "13812345678")
    shop.shows("b", "phone", "13812345678")
    shop.shows("c", "phone", "13999999999")
    assert shop.recompute() == 1
    [link] = shop.links()
    a, b = shop.ids["a"], shop.ids["b"]
    assert (link.seller_a, link.seller_b, link.kind, link.value) == (a, b, "phone", "13812345678")
    with session_scope(shop.sessions) as s:
        ia, ib = (
            s.get(SellerIdentifier, link.identifier_a),
            s.get(SellerIdentifier, link.identifier_b),
        )
        assert ia is not None and ib is not None
        assert (ia.seller_id, ib.seller_id) == (a, b)
        assert ia.evidence_sha256 == sha("a|phone|13812345678")
        assert ib.listing_id == shop.listings["b"]
    assert shop.clusters() == {a: (a, 2), b: (a, 2)}
    [on_a] = shop.events("a")
    [on_b] = shop.events("b")
    assert "shares phone 138****5678 with seller shop b (demomart b)" in on_a.reason
    assert "13812345678" not in on_a.reason  # masked in words
    assert sha("a|phone|13812345678") in on_a.reason and sha("b|phone|13812345678") in on_a.reason
    assert "with seller shop a" in on_b.reason
    assert {e["evidence_sha256"] for e in on_a.evidence} == {
        sha("a|phone|13812345678"),
        sha("b|phone|13812345678"),
    }
    assert all(e["link_id"] == link.id for e in on_b.evidence)


def test_clusters_are_transitive_with_the_smallest_id(shop: Shop) -> None:
    shop.shows("a", "wechat", "yingshi_7165")
    shop.shows("b", "wechat", "yingshi_7165")
    shop.shows("b", "email", "x@mail.example.com")
    shop.shows("c", "email", "x@mail.example.com")
    shop.shows("d", "qq", "2034778671")
    shop.shows("e", "qq", "2034778671")
    shop.shows("f", "address", "浙江省杭州市余杭区文一西路88号")
    assert shop.recompute() == 2
    clusters = shop.clusters()
    a, b, c, d, e = (shop.ids[k] for k in "abcde")
    assert clusters[a] == clusters[b] == clusters[c] == (min(a, b, c), 3)
    assert clusters[d] == clusters[e] == (min(d, e), 2)
    assert shop.ids["f"] not in clusters
    with session_scope(shop.sessions) as s:
        assert cluster_members(s, c) == sorted([a, b, c])
        assert cluster_members(s, shop.ids["f"]) == [shop.ids["f"]]


def test_recompute_is_idempotent_and_links_only_grow(shop: Shop) -> None:
    shop.shows("a", "wechat", "yingshi_7165")
    shop.shows("b", "wechat", "yingshi_7165")
    shop.recompute()
    first_links, first_events = shop.links(), shop.events()
    with session_scope(shop.sessions) as s:
        before = {r.seller_id: r.computed_at for r in s.execute(select(SellerCluster)).scalars()}
    assert shop.recompute() == 1
    assert [x.id for x in shop.links()] == [x.id for x in first_links]
    assert len(shop.events()) == len(first_events) == 2
    with session_scope(shop.sessions) as s:
        after = {r.seller_id: r.computed_at for r in s.execute(select(SellerCluster)).scalars()}
    assert after == before
    # A third account joins: one new link, its two events, the cluster grows; old proofs stay.
    shop.shows("c", "wechat", "yingshi_7165")
    assert shop.recompute() == 1
    links = shop.links()
    assert [x.id for x in links[:1]] == [first_links[0].id]
    assert len(links) == 3 and len(shop.events()) == 6
    assert set(shop.clusters().values()) == {(min(shop.ids.values()), 3)}


def test_identifiers_without_evidence_link_nothing(sqlite_shop: Shop) -> None:
    sqlite_shop.shows("a", "phone", "13812345678")
    sqlite_shop.shows("b", "phone", "13812345678", proof=False)
    assert sqlite_shop.recompute() == 0
    assert not sqlite_shop.links() and not sqlite_shop.events()


def test_a_contact_shown_by_too_many_sellers_links_nobody(sqlite_shop: Shop) -> None:
    for key in "abcd":
        sqlite_shop.shows(key, "address", "上海市青浦区菜鸟仓库1号")
    assert sqlite_shop.recompute(LinkRules(max_value_sellers=3)) == 0
    assert sqlite_shop.recompute(LinkRules(max_value_sellers=4)) == 1
    assert len(sqlite_shop.links()) == 6


def test_one_shared_photo_does_not_link(sqlite_shop: Shop) -> None:
    sqlite_shop.shows("a", "image", PHOTO_1)
    sqlite_shop.shows("b", "image", flip(PHOTO_1, 3, 40))
    assert sqlite_shop.recompute() == 0
    assert not sqlite_shop.links()


def test_two_reuploads_of_one_photo_count_once(sqlite_shop: Shop) -> None:
    sqlite_shop.shows("a", "image", PHOTO_1)
    sqlite_shop.shows("a", "image", flip(PHOTO_1, 1))
    sqlite_shop.shows("b", "image", flip(PHOTO_1, 2))
    sqlite_shop.shows("b", "image", flip(PHOTO_1, 5))
    assert sqlite_shop.recompute() == 0


def test_two_shared_photos_link_with_their_distance(shop: Shop) -> None:
    shop.shows("a", "image", PHOTO_1)
    shop.shows("a", "image", PHOTO_2)
    shop.shows("b", "image", flip(PHOTO_1, 0, 10, 20, 30, 40, 50))  # 6 bits: the threshold
    shop.shows("b", "image", flip(PHOTO_2, 63))
    shop.shows("c", "image", PHOTO_3)
    assert shop.recompute() == 1
    links = shop.links()
    assert sorted(x.distance for x in links) == [1, 6]
    assert all(x.kind == "image" for x in links)
    assert {x.value for x in links} == {PHOTO_1, PHOTO_2}
    [event, _] = shop.events("a")
    assert "near-identical product photo" in event.reason and "2 different photos" in event.reason
    assert shop.recompute() == 1 and len(shop.links()) == 2


def test_photos_beyond_the_threshold_do_not_count(sqlite_shop: Shop) -> None:
    sqlite_shop.shows("a", "image", PHOTO_1)
    sqlite_shop.shows("a", "image", PHOTO_2)
    sqlite_shop.shows("b", "image", flip(PHOTO_1, *range(0, 56, 8)))  # 7 bits apart
    sqlite_shop.shows("b", "image", flip(PHOTO_2, 63))
    assert sqlite_shop.recompute() == 0
    assert sqlite_shop.recompute(LinkRules(image_distance=7)) == 1


def test_stock_photos_shown_by_many_sellers_link_nobody(sqlite_shop: Shop) -> None:
    for i, key in enumerate("abcdef"):  # six shops reuse the studio's two posters
        sqlite_shop.shows(key, "image", flip(PHOTO_1, i))
        sqlite_shop.shows(key, "image", flip(PHOTO_2, i))
    assert sqlite_shop.recompute() == 0
    assert sqlite_shop.recompute(LinkRules(max_image_sellers=6)) == 1


def test_flat_images_link_nobody(sqlite_shop: Shop) -> None:
    for key in "ab":
        sqlite_shop.shows(key, "image", "8000000000000000")
        sqlite_shop.shows(key, "image", "ffffffffffffffff")
    assert sqlite_shop.recompute() == 0


def test_upsert_keeps_the_first_proof_and_moves_last_seen(shop: Shop) -> None:
    sid = shop.seller("a")
    later = datetime(2026, 12, 1, tzinfo=UTC)
    with session_scope(shop.sessions) as s:
        upsert_identifier(
            s,
            seller_id=sid,
            kind="wechat",
            value="abc_1234",
            seen_at=NOW,
            shown="微信 abc_1234",
            listing_id=None,
            url="u1",
            evidence_sha256=None,
        )
    with session_scope(shop.sessions) as s:
        upsert_identifier(
            s,
            seller_id=sid,
            kind="wechat",
            value="abc_1234",
            seen_at=NOW,
            shown="加V abc_1234",
            listing_id=shop.listings["a"],
            url="u2",
            evidence_sha256=sha("first"),
        )
    with session_scope(shop.sessions) as s:
        upsert_identifier(
            s,
            seller_id=sid,
            kind="wechat",
            value="abc_1234",
            seen_at=later,
            shown="VX abc_1234",
            listing_id=None,
            url="u3",
            evidence_sha256=sha("second"),
        )
    with session_scope(shop.sessions) as s:
        [row] = s.execute(select(SellerIdentifier)).scalars()
        assert (row.shown, row.url, row.evidence_sha256) == ("加V abc_1234", "u2", sha("first"))
        assert row.listing_id == shop.listings["a"]
        assert (row.first_seen, row.last_seen) == (NOW, later)
        assert s.execute(select(func.count()).select_from(Listing)).scalar_one() == 1


def test_multi_index_search_finds_exactly_the_brute_force_pairs() -> None:
    rng = random.Random(5)
    hashes = [rng.getrandbits(64) for _ in range(300)]
    hashes += [h ^ (1 << rng.randrange(64)) ^ (1 << rng.randrange(64)) for h in hashes[:100]]
    hashes = sorted(set(hashes))
    for distance in (2, 6):
        fast = {(a, b) for a, b, _ in _near_pairs(hashes, distance)}
        brute = {
            (a, b)
            for i, a in enumerate(hashes)
            for b in hashes[i + 1 :]
            if hamming(a, b) <= distance
        }
        assert fast == brute and brute


def test_clusters_report_puts_each_link_under_its_own_cluster(shop: Shop) -> None:
    from crawler.linking.cli import clusters_report

    shop.shows("a", "wechat", "yingshi_7165")
    shop.shows("b", "wechat", "yingshi_7165")
    shop.shows("d", "qq", "2034778671")
    shop.shows("e", "qq", "2034778671")
    assert shop.recompute() == 2
    with session_scope(shop.sessions) as s:
        report = clusters_report(s)
    assert len(report) == 2
    for cluster in report:
        members = {seller["id"] for seller in cluster["sellers"]}
        assert len(cluster["links"]) == 1
        assert {side["seller_id"] for side in cluster["links"][0]["sides"]} == members
