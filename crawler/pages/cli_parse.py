"""``reelguard parse FILE.html``: run a page saved to disk through the page objects.

Detects the marketplace (``--marketplace`` wins, then ``--url``, the page's canonical URL, its
markup; ``--marketplace generic`` forces the generic page objects, which also read pages of
sites without page objects of their own), decodes the page by its declared or sniffed encoding
and prints what the page says:
a Rich table, or with ``--json`` the object ``{"marketplace", "kind", "items", "next_page"}``
(``crawler.pages.detect``). Search, item and shop pages exit 0; a block page or a page whose
layout is not recognised prints one line on stderr and exits 6 (the JSON is still printed on
stdout with ``--json``), so a script never mistakes it for an empty result. Scraped text is
printed as text, never as Rich markup.

No settings affect this module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from crawler.exceptions import ConfigError, CrawlFailed

EXIT_NOT_EXTRACTED = CrawlFailed.exit_code


def parse(
    file: Annotated[Path, typer.Argument(help="A saved HTML page")],
    marketplace: Annotated[str | None, typer.Option("--marketplace", help="The page's marketplace, or 'generic' (default: detected)")] = None,
    url: Annotated[str | None, typer.Option("--url", help="The URL the page was saved from")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object instead of a table")] = False,
) -> None:
    """Extract the listings of a saved marketplace page (search results, item page...)."""
    from crawler.cli import guarded

    def run() -> None:
        from crawler.pages import PARSE_MARKETPLACES
        from crawler.pages.detect import analyse_saved_page

        if marketplace is not None and marketplace not in PARSE_MARKETPLACES:
            raise ConfigError(f"unknown marketplace {marketplace!r}; known: {', '.join(PARSE_MARKETPLACES)}")
        try:
            body = file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from exc
        outcome = analyse_saved_page(body, url=url, marketplace=marketplace)
        out = Console(highlight=False)
        if as_json:
            print(json.dumps(outcome.as_dict(), ensure_ascii=False, indent=2))
        else:
            _print_table(out, outcome)
        if outcome.kind in ("blocked", "unknown"):
            err = Console(stderr=True, highlight=False)
            message = Text("error: ", style="bold red")
            message.append(f"{file.name}: {outcome.kind}: {outcome.message or 'nothing extracted'}")
            err.print(message, soft_wrap=True)
            raise typer.Exit(EXIT_NOT_EXTRACTED)

    guarded(run)


def _print_table(out: Console, outcome: object) -> None:
    from crawler.pages.detect import ParseOutcome

    assert isinstance(outcome, ParseOutcome)
    header = Text(f"{outcome.marketplace or '?'} · {outcome.kind} · {len(outcome.items)} item(s)")
    if outcome.encoding:
        header.append(f" · {outcome.encoding}")
    out.print(header)
    if outcome.items:
        table = Table(show_lines=False)
        for col in ("id", "title", "price", "seller", "url"):
            table.add_column(col, overflow="fold")
        for it in outcome.items:
            price = "" if it["price"] is None else f"{it['price']:,.2f} {it['currency'] or ''}".strip()
            table.add_row(*(Text(str(v)) for v in (
                it["listing_id"], it["title"], price, it["seller"] or "", it["url"],
            )))
        out.print(table)
    if outcome.next_page:
        out.print(Text(f"next page: {outcome.next_page}"))
