"""``reelguard links``: recompute the linked-account clusters and show them with their proofs.

Each cluster lists its sellers and every link between them: the kind of identifier, its value
(phones, WeChat/QQ ids, emails and addresses masked unless ``--unmask``; image links show the
pHash) and, on each side, the listing page that showed it and the SHA-256 of the evidence that
captured it. ``--json`` prints one JSON document ``{"clusters": [...]}``. Scraped text is
stripped of control characters before it reaches the terminal.

Errors become one line and an exit code through ``crawler.cli.guarded``.

Settings: ``REELGUARD_DATABASE_URL`` (or ``--db``).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import defaultdict
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

# Piped output is not cut at 80 columns: URLs and hashes are what a reader needs whole.
out = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200)
# C0/C1 controls, and bidi overrides that could reorder what a terminal shows.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _safe(value: Any) -> str:
    return _UNSAFE.sub(" ", "" if value is None else str(value))


def clusters_report(
    session: Session, *, marketplace: str | None = None, unmask: bool = False
) -> list[dict[str, Any]]:
    """The clusters (with sellers and links) as plain data, optionally of one marketplace."""
    from crawler.db.models import Marketplace, Seller
    from crawler.db.models_sellers import SellerCluster, SellerIdentifier, SellerLink
    from crawler.linking.identifiers import mask

    rows = session.execute(
        select(SellerCluster.cluster_id, SellerCluster.size, Seller, Marketplace.name)
        .join(Seller, Seller.id == SellerCluster.seller_id)
        .join(Marketplace, Marketplace.id == Seller.marketplace_id)
        .order_by(SellerCluster.cluster_id, Seller.id)
    ).all()
    clusters: dict[int, dict[str, Any]] = {}
    where: dict[int, int] = {}
    for cluster_id, size, seller, market in rows:
        entry = clusters.setdefault(
            cluster_id, {"cluster_id": cluster_id, "size": size, "sellers": [], "links": []}
        )
        entry["sellers"].append(
            {
                "id": seller.id,
                "marketplace": market,
                "seller_key": seller.seller_key,
                "name": seller.name,
            }
        )
        where[seller.id] = cluster_id
    if marketplace:
        clusters = {
            k: v
            for k, v in clusters.items()
            if any(s["marketplace"] == marketplace for s in v["sellers"])
        }
    ia, ib = aliased(SellerIdentifier), aliased(SellerIdentifier)
    links = session.execute(
        select(SellerLink, ia, ib)
        .join(ia, ia.id == SellerLink.identifier_a)
        .join(ib, ib.id == SellerLink.identifier_b)
        .order_by(SellerLink.id)
    ).all()
    names = {s["id"]: s for c in clusters.values() for s in c["sellers"]}
    by_cluster: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for link, side_a, side_b in links:
        home = where.get(link.seller_a)
        if home is None or home not in clusters:
            continue
        shown_value = link.value if unmask else mask(link.kind, link.value)
        sides = []
        for side in (side_a, side_b):
            seller = names.get(side.seller_id, {})
            sides.append(
                {
                    "seller_id": side.seller_id,
                    "seller_key": seller.get("seller_key"),
                    "marketplace": seller.get("marketplace"),
                    "identifier_id": side.id,
                    "value": side.value if unmask else mask(side.kind, side.value),
                    "shown": side.shown if (unmask or side.kind == "image") else None,
                    "listing_id": side.listing_id,
                    "listing_url": side.url,
                    "evidence_sha256": side.evidence_sha256,
                }
            )
        by_cluster[home].append(
            {
                "id": link.id,
                "kind": link.kind,
                "value": shown_value,
                "distance": link.distance,
                "created_at": link.created_at.isoformat(),
                "sides": sides,
            }
        )
    for cluster_id, entry in clusters.items():
        entry["links"] = by_cluster.get(cluster_id, [])
    return list(clusters.values())


def _print_tables(clusters: list[dict[str, Any]]) -> None:
    if not clusters:
        out.print("no linked accounts")
        return
    for cluster in clusters:
        out.rule(f"cluster {cluster['cluster_id']}: {cluster['size']} sellers")
        sellers = Table(show_edge=False)
        for col in ("id", "marketplace", "seller", "name"):
            sellers.add_column(col, overflow="fold")
        for s in cluster["sellers"]:
            sellers.add_row(
                *(Text(_safe(v)) for v in (s["id"], s["marketplace"], s["seller_key"], s["name"]))
            )
        out.print(sellers)
        # One row per side of a link: which seller, the page that showed it, its evidence.
        links = Table()
        for col in ("link", "kind", "value", "seller", "listing", "evidence sha256"):
            links.add_column(col, overflow="fold")
        for link in cluster["links"]:
            value = link["value"]
            if link["distance"] is not None:
                value += f" (distance {link['distance']})"
            for n, side in enumerate(link["sides"]):
                head = (link["id"], link["kind"], value) if n == 0 else ("", "", "")
                links.add_row(
                    *(
                        Text(_safe(v))
                        for v in (
                            *head,
                            side["seller_key"],
                            side["listing_url"],
                            side["evidence_sha256"],
                        )
                    )
                )
        out.print(links)


def links(
    marketplace: Annotated[
        str | None,
        typer.Option("--marketplace", "-m", help="Only clusters with a seller on this marketplace"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document")] = False,
    unmask: Annotated[
        bool, typer.Option("--unmask", help="Show phones, ids, emails and addresses in full")
    ] = False,
    db: Annotated[str | None, typer.Option("--db", help="Database URL")] = None,
) -> None:
    """Recompute linked-account clusters and list them with the proof of every link."""
    from crawler.cli import guarded

    def run() -> None:
        from crawler.db.session import session_scope
        from crawler.linking.cluster import recompute_clusters
        from crawler.storage import open_database

        database = open_database(db)
        with session_scope(database.sessions) as session:
            recompute_clusters(session)
        with session_scope(database.sessions) as session:
            report = clusters_report(session, marketplace=marketplace, unmask=unmask)
        if as_json:
            print(json.dumps({"clusters": report}, ensure_ascii=False))
            return
        _print_tables(report)

    guarded(run)
