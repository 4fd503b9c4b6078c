"""What the seller-policy tests share: listings, evidence and takedown requests made through the
real code paths (``crawler.db.repo``, the evidence chain, the takedown queue and its state
machine), at chosen times, so that strikes land exactly where a boundary test needs them.

No settings affect this module.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from crawler.db import repo
from crawler.evidence import chain
from crawler.items import ListingItem, SellerItem
from crawler.takedown.queue import enqueue_from_match
from crawler.takedown.states import transition

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MEMBER = "Warner Bros. Entertainment"
WORKS = {
    "war-the-matrix-1999": ("The Matrix", 1999, ["黑客帝国", "骇客任务"]),
    "war-inception-2010": ("Inception", 2010, ["盗梦空间"]),
    "war-the-dark-knight-2008": ("The Dark Knight", 2008, ["蝙蝠侠：黑暗骑士"]),
}


def add_works(session: Session) -> None:
    repo.upsert_catalog_titles(
        session,
        [
            {"id": cid, "member": MEMBER, "title": title, "year": year, "aliases": aliases}
            for cid, (title, year, aliases) in WORKS.items()
        ],
    )


def add_listing(
    session: Session,
    key: str,
    *,
    seller: str = "pirate_one",
    marketplace: str = "demomart",
    title: str | None = None,
    description: str | None = None,
    sales: int | None = None,
    seen: datetime = T0 - timedelta(days=400),
    seller_name: str | None = None,
) -> int:
    """A listing (and its seller) first seen at ``seen``; returns the listing's id. Titles
    differ by default: the queue takes the same seller's same title for a relisting."""
    title = title or f"黑客帝国 蓝光 DVD 光盘 货号{key}"
    add_works(session)
    market = repo.ensure_marketplace(session, marketplace, "http://127.0.0.1:9")
    seller_id = repo.upsert_seller(
        session, market, SellerItem(seller_id=seller, name=seller_name), None, seen
    )
    item = ListingItem(
        listing_id=key,
        url=f"http://127.0.0.1:9/item.htm?id={key}",
        title=title,
        description=description,
        marketplace=marketplace,
        sales_count=sales,
        title_norm=" ".join(title.lower().split()),
    )
    listing_id, _ = repo.upsert_listing(session, market, item, seller_id, None, seen)
    return listing_id


def seller_of(session: Session, listing_id: int) -> int:
    from crawler.db.models import Listing

    found = session.get(Listing, listing_id)
    assert found is not None and found.seller_id is not None
    return found.seller_id


def capture(session: Session, listing_id: int, at: datetime, kind: str = "warc") -> str:
    """Append an artefact for the listing to the evidence chain; return its SHA-256."""
    data = f"{kind} of listing {listing_id} at {at.isoformat()}".encode()
    sha = hashlib.sha256(data).hexdigest()
    chain.append(
        session,
        [
            chain.NewEntry(
                kind=kind,
                sha256=sha,
                size=len(data),
                media_type="application/octet-stream",
                captured_at=at,
                listing_id=listing_id,
                marketplace="demomart",
            )
        ],
    )
    return sha


def open_request(
    session: Session,
    listing_id: int,
    catalog_id: str = "war-the-matrix-1999",
    at: datetime | None = None,
) -> int:
    decision = {
        "decision": "takedown",
        "score": 0.97,
        "catalog_ids": [catalog_id],
        "member_catalog_ids": {MEMBER: [catalog_id]},
    }
    result = enqueue_from_match(session, listing_id, MEMBER, decision, now=at)
    assert result.request_id is not None, result
    return result.request_id


def drive(session: Session, request_id: int, to: str, at: datetime) -> None:
    """Move a request along the state machine to ``to`` as the takedown module would:
    ``removed`` means filed, accepted by the platform and confirmed removed at ``at``;
    ``removed_unconfirmed`` removed without the platform's acceptance; ``acknowledged``
    accepted but still up; ``rejected_by_platform``; ``withdrawn``; ``submitted``."""
    from crawler.db.models_takedown import TakedownRequest

    req = session.get(TakedownRequest, request_id)
    assert req is not None
    session.refresh(req)
    if req.state == "pending_review":
        transition(session, request_id, "approved", "user:test", at=at - timedelta(hours=3))
    if to == "withdrawn":
        transition(session, request_id, "withdrawn", "user:test", "test", at=at)
        return
    transition(
        session,
        request_id,
        "submitted",
        "system:submit",
        at=at - timedelta(hours=2),
        values={"submitted_at": at - timedelta(hours=2), "complaint_id": "c1"},
    )
    if to == "submitted":
        return
    if to == "rejected_by_platform":
        transition(
            session,
            request_id,
            "rejected",
            "platform:demomart",
            "rejected",
            at=at,
            values={"platform_status": "rejected", "platform_reason": "not infringing"},
        )
        return
    if to == "removed_unconfirmed":
        transition(
            session, request_id, "removed", "system:followup", at=at, values={"removed_at": at}
        )
        return
    transition(
        session,
        request_id,
        "acknowledged",
        "platform:demomart",
        "accepted",
        at=at - timedelta(hours=1),
        values={"platform_status": "accepted", "platform_reason": "infringing"},
    )
    if to == "acknowledged":
        return
    assert to == "removed", to
    transition(
        session,
        request_id,
        "removed",
        "system:followup",
        at=at,
        values={"removed_at": at, "time_to_removal_s": 7200.0},
    )


def strike_listing(
    session: Session,
    key: str,
    removed_at: datetime,
    *,
    evidence: bool = True,
    catalog_id: str = "war-the-matrix-1999",
    **listing: Any,
) -> int:
    """A listing captured, reported, accepted and removed at ``removed_at``; its request id."""
    listing_id = add_listing(session, key, **listing)
    if evidence:
        capture(session, listing_id, removed_at - timedelta(days=1))
    request_id = open_request(session, listing_id, catalog_id, at=removed_at - timedelta(hours=5))
    drive(session, request_id, "removed", removed_at)
    return request_id
