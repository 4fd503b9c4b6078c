"""What the takedown tests share: listings written straight through ``crawler.db.repo``.

No settings affect this module.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from crawler.db import repo
from crawler.db.models import utcnow
from crawler.db.session import session_scope
from crawler.items import ListingItem, SellerItem
from crawler.takedown.config import TakedownConfig

MEMBER = "Warner Bros. Entertainment"  # auto-approves takedown decisions in takedown.yaml
REVIEWED_MEMBER = "Sony Pictures Entertainment"  # does not

TAKEDOWN = {"decision": "takedown", "score": 0.97, "catalog_id": "war-the-matrix-1999",
            "catalog_ids": ["war-the-matrix-1999"], "member": MEMBER,
            "member_catalog_ids": {MEMBER: ["war-the-matrix-1999"]}}
REVIEW = {**TAKEDOWN, "decision": "review", "score": 0.6}


def config() -> TakedownConfig:
    return TakedownConfig.load()


def add_listing(
    session: Session, listing_id: str, *, marketplace: str = "demobay", url: str | None = None,
    title: str = "The Matrix DVD region free", seller: str = "dvd_deals_4u",
    status: str = "active",
) -> int:
    repo.upsert_catalog_titles(session, [{"id": "war-the-matrix-1999", "member": MEMBER,
                                          "title": "The Matrix", "year": 1999}])
    market = repo.ensure_marketplace(session, marketplace, "http://127.0.0.1:9")
    now = utcnow()
    seller_id = repo.upsert_seller(session, market, SellerItem(seller_id=seller), None, now)
    item = ListingItem(listing_id=listing_id,
                       url=url or f"http://127.0.0.1:9/itm/{listing_id}", title=title,
                       marketplace=marketplace, status=status,
                       title_norm=" ".join(title.lower().split()))
    listing_db_id, _ = repo.upsert_listing(session, market, item, seller_id, None, now)
    return listing_db_id


def add_listings(sessions: sessionmaker[Session], n: int, **kw: Any) -> list[int]:
    with session_scope(sessions) as session:
        return [add_listing(session, str(100000 + i), title=f"The Matrix DVD lot {i}", **kw)
                for i in range(n)]
