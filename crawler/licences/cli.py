"""``reelguard licences``: recheck shops' publication licences and list those flagged.

Rechecks every seller of the marketplaces under the licence regime (``--marketplace``: only
that one) with the register when given (``--register`` or ``REELGUARD_LICENCE_REGISTER``), then
lists the shops that sell discs without a valid licence: marketplace, seller, status, the
problems in words, the licence number, holder and expiry as the shop page shows them, the number
of disc listings and the SHA-256 of the shop page's evidence. ``--all`` adds shops whose licence
is valid and shops that sell no discs (with why they are not flagged). ``--json``: one JSON
object per line. Scraped text is printed as text, control characters escaped.

Errors are one line and an exit code through ``crawler.cli.guarded`` (3: a malformed register,
4: the database).

Settings: ``REELGUARD_DATABASE_URL`` (or ``--db``), ``REELGUARD_LICENCE_REGISTER`` (or
``--register``), ``REELGUARD_LICENCE_MARKETPLACES``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

out = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160)


def _guarded(fn: Any) -> Any:
    from crawler.cli import guarded

    return guarded(fn)


def _safe(value: Any) -> str:
    from crawler.licences.text import quote

    return "" if value is None else quote(str(value), 400)


def finding_rows(session: Any, marketplace: str | None, include_all: bool) -> list[dict[str, Any]]:
    """The stored findings as dicts (flagged first, most severe first)."""
    from sqlalchemy import select

    from crawler.db.models import Marketplace, Seller
    from crawler.db.models_sellers import LicenceFinding
    from crawler.licences.check import SEVERITY, is_flagged

    stmt = (
        select(LicenceFinding, Seller, Marketplace.name)
        .join(Seller, Seller.id == LicenceFinding.seller_id)
        .join(Marketplace, Marketplace.id == Seller.marketplace_id)
    )
    if marketplace:
        stmt = stmt.where(Marketplace.name == marketplace)
    rows = []
    for finding, seller, market in session.execute(stmt).all():
        flagged = is_flagged(finding.status, finding.sells_discs)
        if not include_all and not flagged:
            continue
        if flagged:
            why = "; ".join(finding.problems or []) or finding.status
        elif not finding.sells_discs:
            why = f"not applicable: no disc listings among the shop's listings ({finding.status})"
        else:
            why = "licence valid" + (": " + "; ".join(finding.problems) if finding.problems else "")
        rows.append(
            {
                "marketplace": market,
                "seller": seller.seller_key,
                "seller_name": seller.name,
                "shop_name": seller.shop_name,
                "status": finding.status,
                "flagged": flagged,
                "sells_discs": finding.sells_discs,
                "disc_listings": finding.disc_listings,
                "problems": list(finding.problems or []),
                "reason": why,
                "number": seller.licence_number,
                "holder": seller.licence_holder,
                "authority": seller.licence_authority,
                "valid_from": seller.licence_valid_from,
                "valid_to": seller.licence_valid_to,
                "valid_to_date": finding.valid_to.isoformat() if finding.valid_to else None,
                "register": finding.register,
                "register_holder": finding.register_holder,
                "evidence_sha256": finding.evidence_sha256,
                "evidence_url": finding.evidence_url,
                "checked_at": finding.checked_at.isoformat(),
            }
        )
    rows.sort(
        key=lambda r: (
            not r["flagged"],
            SEVERITY.index(r["status"]),
            r["marketplace"],
            r["seller_name"] or r["seller"],
        )
    )
    return rows


def licences(
    register: Annotated[
        Path | None,
        typer.Option(
            "--register", help="CSV licence register (default: $REELGUARD_LICENCE_REGISTER)"
        ),
    ] = None,
    marketplace: Annotated[
        str | None, typer.Option("--marketplace", "-m", help="Only this marketplace")
    ] = None,
    include_all: Annotated[
        bool,
        typer.Option("--all", help="Also shops with a valid licence and shops that sell no discs"),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")] = False,
    db: Annotated[str | None, typer.Option("--db", help="Database URL")] = None,
) -> None:
    """Recheck shops' publication licences (出版物经营许可证) and list the shops flagged."""

    def run() -> None:
        from crawler.db.session import session_scope
        from crawler.licences.check import check_sellers, licence_marketplaces
        from crawler.licences.register import load_register, register_in_use
        from crawler.storage import open_database

        database = open_database(db)
        with session_scope(database.sessions) as session:
            path = register_in_use(session, str(register) if register else None)
        loaded = load_register(path) if path else None
        scope = licence_marketplaces()
        if marketplace:
            scope = tuple(m for m in scope if m == marketplace)
            if not scope:
                print(
                    f"note: {marketplace} is not under the licence regime "
                    f"(REELGUARD_LICENCE_MARKETPLACES: {', '.join(licence_marketplaces())})",
                    file=sys.stderr,
                )
        with session_scope(database.sessions) as session:
            checked = check_sellers(session, loaded, marketplaces=scope) if scope else []
        with session_scope(database.sessions) as session:
            rows = finding_rows(session, marketplace, include_all)
        if as_json:
            for row in rows:
                print(json.dumps(row, ensure_ascii=False))
            return
        _table(rows)
        flagged = sum(r["flagged"] for r in rows)
        against = f"register {loaded.path} ({len(loaded)} licences)" if loaded else "no register"
        out.print(
            Text(f"{flagged} shop(s) flagged; {len(checked)} checked against {against}"),
            highlight=False,
        )

    _guarded(run)


def _table(rows: list[dict[str, Any]]) -> None:
    table = Table()
    for col in (
        "marketplace",
        "seller",
        "status",
        "problems",
        "licence as shown",
        "discs",
        "evidence",
    ):
        table.add_column(col, overflow="fold")
    for r in rows:
        shown = " / ".join(_safe(r[k]) or "-" for k in ("number", "holder", "valid_to"))
        seller = f"{_safe(r['seller_name'] or r['seller'])} ({_safe(r['seller'])})"
        evidence = (r["evidence_sha256"] or "")[:16]
        table.add_row(
            *(
                Text(v)
                for v in (
                    r["marketplace"],
                    seller,
                    r["status"] + ("" if r["flagged"] else " (not flagged)"),
                    _safe(r["reason"]),
                    shown,
                    str(r["disc_listings"]),
                    evidence,
                )
            )
        )
    out.print(table)
