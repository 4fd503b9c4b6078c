"""``reelguard ingest FILE.html…``: store, match, evidence and queue pages a person saved.

Prints one summary line per file (marketplace, kind, items, decisions, requests opened, the
evidence SHA-256), or with ``--json`` the :class:`crawler.ingest.IngestResult` as an object.
A block page or a page not recognised is reported on stderr and nothing of it is stored; the
command exits 0 when at least one file was extracted, 6 when none was. Scraped text is printed
as text, never as Rich markup.

Settings: see ``crawler.ingest``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from crawler.exceptions import CrawlFailed

EXIT_NOTHING_EXTRACTED = CrawlFailed.exit_code


def ingest(
    files: Annotated[list[Path], typer.Argument(help="Saved HTML pages")],
    url: Annotated[str | None, typer.Option("--url", help="The URL the page(s) were saved from")] = None,
    marketplace: Annotated[str | None, typer.Option("--marketplace", help="The pages' marketplace (default: detected)")] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (default: $REELGUARD_DATABASE_URL or var/reelguard.db)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object instead of lines")] = False,
) -> None:
    """Run saved marketplace pages through matching, evidence and the takedown queue."""
    from crawler.cli import guarded

    def run() -> None:
        from crawler.ingest import ingest_files

        result = ingest_files(files, url=url, marketplace=marketplace, db_url=db)
        out = Console(highlight=False)
        err = Console(stderr=True, highlight=False)
        if as_json:
            print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        elif result.matching_off:
            out.print(Text("no catalogue in the database: listings stored unmatched "
                           "(import one with `reelguard catalog import`)"))
        for fr in result.files:
            name = Path(fr.path).name
            if not fr.extracted:
                message = Text("warning: " if not result.all_failed else "error: ", style="bold red")
                message.append(f"{name}: {fr.kind}: {fr.message or 'nothing extracted'}")
                err.print(message, soft_wrap=True)
                continue
            if as_json:
                continue
            decisions = ", ".join(f"{k} {v}" for k, v in sorted(fr.decisions.items())) or "none"
            out.print(Text(
                f"{name}: {fr.marketplace or '?'} · {fr.kind} · {fr.items} item(s) · "
                f"decisions: {decisions} · requests opened: {fr.requests_opened} · "
                f"evidence sha256: {fr.evidence_sha256 or '-'}"
            ), soft_wrap=True)
        if not as_json:
            out.print(Text(f"run {result.run_id}; database: {result.database}"))
        if result.all_failed:
            raise typer.Exit(EXIT_NOTHING_EXTRACTED)

    guarded(run)
