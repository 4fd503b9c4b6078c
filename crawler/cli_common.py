"""What every ``reelguard`` command shares: the consoles, the ``--db`` option, the error guard.

``guarded`` turns every error a user can cause into one line on stderr and an exit code (those of
``crawler.exceptions``); the crawl helpers read ``--set``/``--url`` options and print a run's
summary. Imported by ``crawler.cli`` (which re-exports these names) and by the commands that
live beside what they drive.

Settings: ``REELGUARD_MARKETPLACE_URLS`` (environment, for ``--url`` defaults).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from crawler.exceptions import ConfigError, CrawlFailed, ReelguardError

# Piped or logged output is not cut at 80 columns (the summary tables are wider), unless
# COLUMNS says how wide it should be.
out = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120)
err = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: $REELGUARD_DATABASE_URL or var/reelguard.db)"),
]
T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_CATALOG = REPO_ROOT / "fixtures" / "catalogs" / "sample_catalog.csv"
DEMO_AUTHORIZED = REPO_ROOT / "fixtures" / "catalogs" / "authorized.csv"
DEMO_CONFIG = REPO_ROOT / "monitor.yaml"
LOG_DIR = Path("var") / "log"


def _fail(message: str, code: int) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def guarded(fn: Callable[[], T]) -> T:
    """Run ``fn``; turn every expected error into one line and an exit code."""
    from crawler.db.errors import DatabaseError

    try:
        return fn()
    except ReelguardError as exc:
        _fail(str(exc), exc.exit_code)
    except DatabaseError as exc:
        _fail(str(exc), 4)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    raise AssertionError("unreachable")


def _log_settings(verbose: bool) -> dict[str, Any]:
    if verbose:
        return {"LOG_LEVEL": "INFO"}
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    return {"LOG_FILE": str(LOG_DIR / "crawl.log"), "LOG_LEVEL": "INFO", "LOG_FILE_APPEND": True}


def _parse_sets(values: list[str] | None) -> dict[str, str]:
    """``--set NAME=VALUE`` options as Scrapy/``REELGUARD_*`` setting overrides."""
    out: dict[str, str] = {}
    for value in values or []:
        name, sep, setting = value.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"--set {value!r}: expected NAME=VALUE")
        out[name] = setting.strip()
    return out


def _parse_urls(values: list[str] | None) -> dict[str, str]:
    from crawler.config import parse_marketplace_urls

    urls = parse_marketplace_urls(os.environ.get("REELGUARD_MARKETPLACE_URLS"))
    urls.update(parse_marketplace_urls(",".join(values or [])))
    return urls


def _print_summary(result: Any, title: str) -> None:
    table = Table(title=title, title_justify="left")
    for col in ("marketplace", "pages", "browser pages", "listings", "sellers", "blocked",
                "errors"):
        table.add_column(col, justify="left" if col == "marketplace" else "right")
    for name, row in sorted(result.per_marketplace.items()):
        table.add_row(
            name, str(row.get("pages", 0)), str(row.get("browser_pages", 0)),
            str(row.get("listings", 0)), str(row.get("sellers", 0)),
            str(row.get("blocked", 0)), str(row.get("errors", 0)),
        )
    t = result.totals
    if t:
        table.add_row("[bold]total", str(t.get("pages", 0)), str(t.get("browser_pages", 0)),
                      str(t.get("listings", 0)), str(t.get("sellers", 0)),
                      str(t.get("blocked", 0)), str(t.get("errors", 0)))
    out.print(table)
    colour = "green" if result.ok else "red"
    out.print(
        f"run {result.run_id}: [{colour}]{result.status}[/] ({result.reason}) "
        f"in {result.duration:.1f} s; database: {result.database}",
        highlight=False,
    )


def _judge_exit(result: Any) -> None:
    """Exit non-zero for a run that did not finish: 130 when interrupted, else 6."""
    if result.status == "interrupted":
        _fail(result.reason, 130)
    if not result.ok:
        raise CrawlFailed(result.reason)

