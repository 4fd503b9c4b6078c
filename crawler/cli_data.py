"""``reelguard listings``, ``reelguard stats`` and ``reelguard db upgrade``: reading the store.

Settings: ``REELGUARD_DATABASE_URL`` (or ``--db``).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from crawler.cli_common import DbOption, guarded, out

db_app = typer.Typer(help="The database.", no_args_is_help=True)


# -- reading --------------------------------------------------------------------------------
def listings(
    marketplace: Annotated[str | None, typer.Option("--marketplace", "-m")] = None,
    limit: Annotated[int, typer.Option(help="How many")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")] = False,
    db: DbOption = None,
) -> None:
    """Stored listings, most recently seen first."""

    def run() -> None:
        from crawler.db import repo
        from crawler.db.session import session_scope
        from crawler.storage import open_database

        database = open_database(db)
        with session_scope(database.sessions) as session:
            rows = repo.list_listings(session, marketplace=marketplace, limit=limit)
        if as_json:
            for r in rows:
                print(json.dumps({
                    "marketplace": r.marketplace, "listing_id": r.listing_key, "url": r.url,
                    "title": r.title, "price": r.price, "currency": r.currency,
                    "status": r.status, "seller": r.seller_key,
                    "first_seen": r.first_seen.isoformat(), "last_seen": r.last_seen.isoformat(),
                }, ensure_ascii=False))
            return
        table = Table()
        for col in ("marketplace", "id", "title", "price", "seller", "status", "last seen"):
            table.add_column(col, overflow="fold")
        for r in rows:
            price = f"{r.price:.2f} {r.currency or ''}" if r.price is not None else ""
            # Scraped text is shown as text, never as Rich markup.
            table.add_row(*(Text(v) for v in (
                r.marketplace, r.listing_key, r.title, price, r.seller_key or "", r.status,
                r.last_seen.strftime("%Y-%m-%d %H:%M"))))
        out.print(table)

    guarded(run)


def stats(
    as_json: Annotated[bool, typer.Option("--json", help="A JSON object")] = False,
    db: DbOption = None,
) -> None:
    """Counts of what is stored."""

    def run() -> None:
        from crawler.db import repo
        from crawler.db.session import session_scope
        from crawler.storage import open_database

        database = open_database(db)
        with session_scope(database.sessions) as session:
            counts = repo.counts(session)
        if as_json:
            print(json.dumps(counts))
            return
        for key, value in counts.items():
            out.print(f"{key:>18}: {value}")

    guarded(run)


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Apply the database migrations (Alembic) up to the latest."""

    def run() -> None:
        from crawler.db.session import current_revision, database_url, upgrade

        url = database_url(db)
        upgrade(url)
        out.print(f"database at revision {current_revision(url)}")

    guarded(run)
