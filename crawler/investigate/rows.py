"""Table rows as the plain JSON dicts of ``case.json`` (shape: ``crawler.investigate.casefile``).

Times become ISO 8601 UTC strings ending in ``Z`` (dates ``YYYY-MM-DD``); database ids of
sellers and listings become the marketplace's own ids (``seller_id``, ``listing_id``), which is
what an investigator can look up. Scraped text is passed through as is: escaping is the
renderer's job.

No settings affect this module.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from crawler.db.models import CatalogTitle, Listing, Match, Seller
from crawler.db.models_sellers import LicenceFinding, SellerIdentifier, SellerLink

FLAGGED = ("takedown", "review")


def iso(value: datetime | date | None) -> str | None:
    """An aware time as ISO 8601 UTC ending in ``Z`` (a date as ``YYYY-MM-DD``)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.isoformat()


def pick(row: Any, *names: str) -> dict[str, Any]:
    """``{name: row.name}`` with times as ISO strings."""
    out = {}
    for name in names:
        value = getattr(row, name)
        out[name] = iso(value) if isinstance(value, (datetime, date)) else value
    return out


def seller_dict(seller: Seller, marketplace: str) -> dict[str, Any]:
    licence = None
    if seller.has_licence_block or seller.licence_number or seller.licence_raw:
        licence = {
            "number": seller.licence_number,
            "holder": seller.licence_holder,
            "authority": seller.licence_authority,
            "valid_from": seller.licence_valid_from,
            "valid_to": seller.licence_valid_to,
            "raw": seller.licence_raw,
        }
    return {
        "db_id": seller.id,
        "marketplace": marketplace,
        "seller_id": seller.seller_key,
        **pick(seller, "name", "shop_name", "shop_url", "location"),
        "rating": seller.rating_text,
        "opened": seller.opened_text,
        **pick(seller, "first_seen", "last_seen"),
        "licence_block": licence,
    }


def finding_dict(finding: LicenceFinding, seller_key: str) -> dict[str, Any]:
    return {
        "seller_id": seller_key,
        **pick(
            finding,
            "marketplace",
            "status",
            "sells_discs",
            "disc_listings",
            "number",
            "holder",
            "authority",
            "valid_from",
            "valid_to",
        ),
        "problems": list(finding.problems or []),
        **pick(
            finding, "register", "register_holder", "evidence_sha256", "evidence_url", "checked_at"
        ),
    }


IDENTIFIER_FIELDS = ("kind", "value", "shown", "evidence_sha256", "first_seen", "last_seen")


def identifier_side(
    ident: SellerIdentifier | None, seller: int, key_of: dict[int, str], listing_url: dict[int, str]
) -> dict[str, Any]:
    """One side of a link: where the shared identifier was seen, and the capture showing it."""
    if ident is None:  # the proof row is gone: say so rather than invent one
        return {
            "seller_id": key_of.get(seller),
            "url": None,
            "listing_url": None,
            **dict.fromkeys(IDENTIFIER_FIELDS),
        }
    page = listing_url.get(ident.listing_id or -1)
    return {
        "seller_id": key_of.get(ident.seller_id),
        "url": ident.url or page,
        "listing_url": page,
        **pick(ident, *IDENTIFIER_FIELDS),
    }


def link_dict(
    link: SellerLink,
    idents: dict[int, SellerIdentifier],
    key_of: dict[int, str],
    listing_url: dict[int, str],
) -> dict[str, Any]:
    return {
        **pick(link, "id", "kind", "value", "distance", "created_at"),
        "a": identifier_side(idents.get(link.identifier_a), link.seller_a, key_of, listing_url),
        "b": identifier_side(idents.get(link.identifier_b), link.seller_b, key_of, listing_url),
    }


def listing_dict(
    x: Listing, seller: dict[str, Any] | None, decisions: dict[str, str], captures: list[str]
) -> dict[str, Any]:
    return {
        "db_id": x.id,
        "marketplace": seller["marketplace"] if seller else None,
        "seller_id": seller["seller_id"] if seller else None,
        "listing_id": x.listing_key,
        **pick(
            x,
            "url",
            "title",
            "price",
            "currency",
            "price_text",
            "status",
            "first_seen",
            "last_seen",
            "removed_at",
        ),
        "decisions": decisions,
        "captures": captures,
    }


def request_dict(r: Any, listing: Listing, events: list[Any]) -> dict[str, Any]:
    return {
        "id": r.id,
        "listing_id": listing.listing_key,
        "listing_url": listing.url,
        "title": listing.title,
        **pick(r, "member", "marketplace"),
        "catalog_ids": list(r.catalog_ids or []),
        **pick(
            r,
            "decision",
            "score",
            "state",
            "opened_at",
            "submitted_at",
            "removed_at",
            "platform_status",
            "platform_reason",
            "complaint_id",
            "cites_request_id",
        ),
        "events": [
            {
                "at": iso(e.at),
                "from": e.from_state,
                "to": e.to_state,
                "actor": e.actor,
                "reason": e.reason,
            }
            for e in events
        ],
    }


def strike_dict(s: Any, key_of: dict[int, str], listing_key: str | None) -> dict[str, Any]:
    return {
        "id": s.id,
        "seller_id": key_of.get(s.seller_id),
        **pick(s, "marketplace", "request_id"),
        "listing_id": listing_key,
        **pick(s, "member", "catalog_id", "work", "offence", "struck_at", "evidence_sha256"),
    }


def event_dict(e: Any, key_of: dict[int, str]) -> dict[str, Any]:
    return {
        "id": e.id,
        "seller_id": key_of.get(e.seller_id),
        **pick(e, "at", "kind", "policy", "from_level", "to_level", "reason", "evidence", "actor"),
    }


def catalog_ids(match: Match) -> list[str]:
    return list(match.catalog_ids or ([match.catalog_id] if match.catalog_id else []))


def works(
    matches: list[Match], titles: dict[str, CatalogTitle], listing_of: dict[int, Listing]
) -> list[dict[str, Any]]:
    """Matched works per member: each work with the listings flagged for it."""
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for m in matches:
        if m.decision not in FLAGGED:
            continue
        for cid in catalog_ids(m):
            title = titles.get(cid)
            work = grouped.setdefault(
                (m.member, cid),
                {
                    "member": m.member,
                    "catalog_id": cid,
                    "title": title.title if title else None,
                    "year": title.year if title else None,
                    "takedown": 0,
                    "review": 0,
                    "listings": [],
                },
            )
            work[m.decision] += 1
            work["listings"].append(listing_of[m.listing_id].listing_key)
    return sorted(
        grouped.values(),
        key=lambda w: (w["member"], -len(w["listings"]), w["title"] or w["catalog_id"]),
    )
