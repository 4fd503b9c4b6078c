"""Linked seller accounts: links from shared identifiers, clusters from links.

:func:`recompute_clusters` (called after every crawl by ``crawler.sellers.refresh``) reads
``seller_identifiers`` and

1. adds a ``seller_links`` row for every two different sellers that show
   * the same phone, WeChat id, QQ id, email or return address (same kind and normalised
     value), unless more than :attr:`LinkRules.max_value_sellers` sellers show it (a
     marketplace's service line or a fulfilment warehouse's address links nobody); or
   * near-identical product photos: two image pHashes at most :attr:`LinkRules.image_distance`
     of 64 bits apart are the same photo. One shared photo is weak evidence (honest shops reuse
     the studio's official posters), so two sellers are linked only when they share at least
     :attr:`LinkRules.min_shared_images` *different* photos (near-identical images are grouped
     into photos first, so two re-uploads of one photo count once), and a photo shown by more
     than :attr:`LinkRules.max_image_sellers` sellers is stock imagery that links nobody.
     Flat images (a pHash with fewer than :data:`MIN_IMAGE_BITS` bits set or unset) are ignored.
   Each link names the two identifier rows that prove it (``identifier_a``/``identifier_b``:
   which page, which capture) and, for photos, their Hamming distance. Links are only ever
   added: a link's proof stays. Only identifiers with evidence link anything.
2. writes a ``linked`` event on both sellers' audit logs for each new link, the reason in words
   ("shares wechat yi****65 with seller 蓝海影音 (demomart 225208349): ...") and both proofs;
3. recomputes ``seller_clusters`` by union-find over all links: ``cluster_id`` is the smallest
   seller id of the cluster; sellers without links have no row.

Near-identical images are found with multi-index hashing: by the pigeonhole principle two
64-bit hashes within distance d agree exactly on at least one of d + 1 bands, so only hashes
sharing a band value are compared (not every pair). Running it twice changes nothing the
second time.

No settings affect this module (the rules are :class:`LinkRules`, defaults documented there).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crawler.db.models import Marketplace, Seller
from crawler.db.models_sellers import SellerCluster, SellerEvent, SellerIdentifier, SellerLink
from crawler.linking.identifiers import mask
from crawler.linking.images import HASH_BITS, hamming

EXACT_KINDS = ("phone", "wechat", "qq", "email", "address")
MIN_IMAGE_BITS = 6


@dataclass(frozen=True)
class LinkRules:
    """What counts as a link (the defaults are the documented policy)."""

    image_distance: int = 6  # of 64 pHash bits: re-encoded, resized or marked copies of a photo
    min_shared_images: int = 2  # different photos two sellers must share to be linked
    max_image_sellers: int = 5  # a photo shown by more sellers is stock imagery
    max_value_sellers: int = 50  # a contact shown by more sellers is not one operator's


@dataclass(frozen=True)
class _Ident:
    id: int
    seller_id: int
    kind: str
    value: str
    shown: str | None
    listing_id: int | None
    url: str | None
    evidence_sha256: str | None


@dataclass(frozen=True)
class _Candidate:
    a: _Ident  # a.seller_id < b.seller_id
    b: _Ident
    distance: int | None = None
    photos: int = 0  # for images: how many different photos the two sellers share


def _pair(x: _Ident, y: _Ident, distance: int | None = None, photos: int = 0) -> _Candidate:
    a, b = (x, y) if x.seller_id < y.seller_id else (y, x)
    return _Candidate(a, b, distance, photos)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, x: Any) -> Any:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, x: Any, y: Any) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            self.parent[max(rx, ry)] = min(rx, ry)


def _exact_candidates(idents: list[_Ident], rules: LinkRules) -> list[_Candidate]:
    groups: dict[tuple[str, str], list[_Ident]] = defaultdict(list)
    for ident in idents:
        if ident.kind in EXACT_KINDS:
            groups[(ident.kind, ident.value)].append(ident)
    out: list[_Candidate] = []
    for members in groups.values():
        if not 2 <= len(members) <= rules.max_value_sellers:
            continue  # unique rows make one identifier per seller, so len counts sellers
        members.sort(key=lambda i: i.seller_id)
        out.extend(_pair(x, y) for x, y in itertools.combinations(members, 2))
    return out


def _bands(distance: int) -> list[tuple[int, int]]:
    """(shift, mask) of ``distance + 1`` bands covering the 64 bits."""
    n = min(HASH_BITS, distance + 1)
    bounds = [round(i * HASH_BITS / n) for i in range(n + 1)]
    return [(lo, (1 << (hi - lo)) - 1) for lo, hi in itertools.pairwise(bounds)]


def _near_pairs(hashes: list[int], distance: int) -> list[tuple[int, int, int]]:
    """(h1, h2, d) for every two hashes at most ``distance`` apart (multi-index hashing)."""
    bands = _bands(distance)
    index: dict[tuple[int, int], list[int]] = defaultdict(list)
    for h in hashes:
        for n, (shift, band_mask) in enumerate(bands):
            index[(n, (h >> shift) & band_mask)].append(h)
    pairs: list[tuple[int, int, int]] = []
    for h in hashes:
        seen: set[int] = set()
        for n, (shift, band_mask) in enumerate(bands):
            for other in index[(n, (h >> shift) & band_mask)]:
                if other > h and other not in seen:
                    seen.add(other)
                    d = hamming(h, other)
                    if d <= distance:
                        pairs.append((h, other, d))
    return pairs


def _image_candidates(idents: list[_Ident], rules: LinkRules) -> list[_Candidate]:
    by_hash: dict[int, list[_Ident]] = defaultdict(list)
    for ident in idents:
        if ident.kind != "image":
            continue
        try:
            h = int(ident.value, 16)
        except ValueError:
            continue
        if len(ident.value) == HASH_BITS // 4 and (
            MIN_IMAGE_BITS <= h.bit_count() <= HASH_BITS - MIN_IMAGE_BITS
        ):
            by_hash[h].append(ident)
    photos = _UnionFind()
    for h in by_hash:
        photos.find(h)
    for h1, h2, _d in _near_pairs(sorted(by_hash), rules.image_distance):
        photos.union(h1, h2)
    members: dict[int, list[_Ident]] = defaultdict(list)
    for h, idents_of_hash in by_hash.items():
        members[photos.find(h)].extend(idents_of_hash)
    # For each seller pair: the closest pair of their images in each photo they both show.
    shared: dict[tuple[int, int], list[_Candidate]] = defaultdict(list)
    for photo in members.values():
        by_seller: dict[int, list[_Ident]] = defaultdict(list)
        for ident in photo:
            by_seller[ident.seller_id].append(ident)
        if not 2 <= len(by_seller) <= rules.max_image_sellers:
            continue
        for sa, sb in itertools.combinations(sorted(by_seller), 2):
            best = min(
                (
                    (hamming(x.value, y.value), x.id, y.id, x, y)
                    for x in by_seller[sa]
                    for y in by_seller[sb]
                ),
                key=lambda t: t[:3],
            )
            shared[(sa, sb)].append(_pair(best[3], best[4], best[0]))
    out: list[_Candidate] = []
    for proofs in shared.values():
        if len(proofs) >= rules.min_shared_images:
            out.extend(_Candidate(c.a, c.b, c.distance, len(proofs)) for c in proofs)
    return out


def _load_identifiers(session: Session) -> list[_Ident]:
    rows = session.execute(
        select(
            SellerIdentifier.id,
            SellerIdentifier.seller_id,
            SellerIdentifier.kind,
            SellerIdentifier.value,
            SellerIdentifier.shown,
            SellerIdentifier.listing_id,
            SellerIdentifier.url,
            SellerIdentifier.evidence_sha256,
        ).where(SellerIdentifier.evidence_sha256.is_not(None))
    ).all()
    return [_Ident(*row) for row in rows]


def _seller_labels(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(Seller.id, Seller.name, Seller.seller_key, Marketplace.name)
        .join(Marketplace, Marketplace.id == Seller.marketplace_id)
        .where(Seller.id.in_(ids))
    ).all()
    return {sid: f"{name or key} ({market} {key})" for sid, name, key, market in rows}


def _proof(ident: _Ident) -> str:
    what = f"image {ident.shown} " if ident.kind == "image" and ident.shown else ""
    return f"{what}in listing {ident.url} (evidence sha256 {ident.evidence_sha256})"


def link_reason(
    kind: str,
    value: str,
    other: str,
    mine: _Ident,
    theirs: _Ident,
    distance: int | None = None,
    photos: int = 0,
) -> str:
    """The words of a ``linked`` event on the seller that showed ``mine``."""
    if kind == "image":
        return (
            f"shows a near-identical product photo to seller {other} ({distance} of "
            f"{HASH_BITS} pHash bits differ; one of {photos} different photos both show): "
            f"{_proof(mine)}; theirs {_proof(theirs)}"
        )
    return (
        f"shares {kind} {mask(kind, value)} with seller {other}: shown {_proof(mine)} "
        f"and {_proof(theirs)}"
    )


def _evidence(link_id: int, c: _Candidate) -> list[dict[str, Any]]:
    return [
        {
            "link_id": link_id,
            "kind": side.kind,
            "seller_id": side.seller_id,
            "identifier_id": side.id,
            "listing_id": side.listing_id,
            "url": side.url,
            "shown": side.shown if side.kind == "image" else None,
            "evidence_sha256": side.evidence_sha256,
        }
        for side in (c.a, c.b)
    ]


def _add_links(session: Session, candidates: list[_Candidate], now: datetime) -> int:
    existing = session.execute(
        select(
            SellerLink.seller_a,
            SellerLink.seller_b,
            SellerLink.kind,
            SellerLink.value,
            SellerLink.identifier_a,
            SellerLink.identifier_b,
        )
    ).all()
    keys = {(a, b, k, v) for a, b, k, v, _ia, _ib in existing}
    # An image link already proves its photo: a closer pair found later is not a new link.
    proven_images: dict[tuple[int, int], set[int]] = defaultdict(set)
    for a, b, k, _v, ia, ib in existing:
        if k == "image":
            proven_images[(a, b)].update((ia, ib))
    fresh: list[_Candidate] = []
    for c in candidates:
        key = (c.a.seller_id, c.b.seller_id, c.a.kind, c.a.value)
        if key in keys:
            continue
        if c.a.kind == "image" and {c.a.id, c.b.id} & proven_images[key[:2]]:
            continue
        keys.add(key)
        fresh.append(c)
    if not fresh:
        return 0
    labels = _seller_labels(session, {s for c in fresh for s in (c.a.seller_id, c.b.seller_id)})
    for c in fresh:
        link = SellerLink(
            seller_a=c.a.seller_id,
            seller_b=c.b.seller_id,
            kind=c.a.kind,
            value=c.a.value,
            identifier_a=c.a.id,
            identifier_b=c.b.id,
            distance=c.distance,
            created_at=now,
        )
        session.add(link)
        session.flush()
        for mine, theirs in ((c.a, c.b), (c.b, c.a)):
            session.add(
                SellerEvent(
                    seller_id=mine.seller_id,
                    at=now,
                    kind="linked",
                    reason=link_reason(
                        c.a.kind,
                        c.a.value,
                        labels.get(theirs.seller_id, str(theirs.seller_id)),
                        mine,
                        theirs,
                        c.distance,
                        c.photos,
                    ),
                    evidence=_evidence(link.id, c),
                )
            )
    session.flush()
    return len(fresh)


def _write_clusters(session: Session, now: datetime) -> int:
    uf = _UnionFind()
    for a, b in session.execute(select(SellerLink.seller_a, SellerLink.seller_b)).all():
        uf.union(int(a), int(b))
    members: dict[int, list[int]] = defaultdict(list)
    for seller in list(uf.parent):
        members[uf.find(seller)].append(seller)
    wanted = {s: (min(group), len(group)) for group in members.values() for s in group}
    current = {row.seller_id: row for row in session.execute(select(SellerCluster)).scalars()}
    stale = [s for s in current if s not in wanted]
    if stale:
        session.execute(delete(SellerCluster).where(SellerCluster.seller_id.in_(stale)))
    for seller, (cluster_id, size) in wanted.items():
        row = current.get(seller)
        if row is None:
            session.add(
                SellerCluster(seller_id=seller, cluster_id=cluster_id, size=size, computed_at=now)
            )
        elif (row.cluster_id, row.size) != (cluster_id, size):
            row.cluster_id, row.size, row.computed_at = cluster_id, size, now
    session.flush()
    return len(members)


def recompute_clusters(session: Session, rules: LinkRules | None = None) -> int:
    """Add new links, log them, rewrite the clusters; the number of clusters (>= 2 sellers)."""
    rules = rules or LinkRules()
    now = datetime.now(UTC)
    idents = _load_identifiers(session)
    candidates = _exact_candidates(idents, rules) + _image_candidates(idents, rules)
    _add_links(session, candidates, now)
    return _write_clusters(session, now)


def cluster_members(session: Session, seller_id: int) -> list[int]:
    """The sellers linked with ``seller_id`` (itself included), smallest id first."""
    cluster = session.execute(
        select(SellerCluster.cluster_id).where(SellerCluster.seller_id == seller_id)
    ).scalar_one_or_none()
    if cluster is None:
        return [seller_id]
    return sorted(
        session.execute(
            select(SellerCluster.seller_id).where(SellerCluster.cluster_id == cluster)
        ).scalars()
    )
