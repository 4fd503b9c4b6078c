"""``reelguard match``: decide a JSON-lines file of listings against a catalogue, in batch.

    reelguard match --catalog CATALOG.csv [--authorized AUTHORIZED.csv]
                    --listings LISTINGS.jsonl --out DECISIONS.jsonl [--config matching.yaml]

One output line per well-formed input line, in input order. A malformed line (not JSON, not
an object, a missing id/title, a mistyped field) is reported on stderr as ``line N: problem``
and skipped; the rest is still decided. A malformed catalogue or authorised-sellers file, or a
bad configuration, stops the command with one line and the exit code of
:mod:`crawler.exceptions` (3 catalogue, 2 configuration). Progress is shown on stderr when it
is a terminal; a one-line summary (counts per decision) ends the run.

Settings: ``--config`` (default ``crawler/matching/matching.yaml``).
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

import typer
from rich.console import Console

from crawler.exceptions import ConfigError


# The signature is the command's interface (Typer reads the option defaults).
def match(
    catalog: Path = typer.Option(..., "--catalog", help="Member catalogue, CSV or JSON"),  # noqa: B008
    authorized: Path | None = typer.Option(None, "--authorized",  # noqa: B008
                                           help="Authorised sellers: marketplace,seller,member"),
    listings: Path = typer.Option(..., "--listings", help="Listings, one JSON object a line"),  # noqa: B008
    out: Path = typer.Option(..., "--out", help="Decisions, one JSON object a line"),  # noqa: B008
    config: Path | None = typer.Option(None, "--config", help="Matching weights and thresholds"),  # noqa: B008
) -> None:
    """Decide takedown / review / none for every listing of a JSON-lines file."""
    from crawler.cli import guarded

    guarded(lambda: run_match(catalog, authorized, listings, out, config))


def run_match(catalog: Path, authorized: Path | None, listings: Path, out: Path,
              config: Path | None, err: Console | None = None) -> dict[str, int]:
    """The command's work; returns the counts per decision (and ``skipped``)."""
    from crawler.matching.engine import ListingError, MatchEngine

    err = err or Console(stderr=True)
    engine = MatchEngine.from_files(catalog, authorized, config)
    # The index lives as long as the command: keep its objects out of the collector's scans
    # (a 50,000-title index otherwise costs a quarter of the throughput in GC passes).
    gc.freeze()
    try:
        source = listings.open("rb")
    except OSError as exc:
        raise ConfigError(f"{listings}: cannot read: {exc.strerror}") from None
    counts = {"takedown": 0, "review": 0, "none": 0, "skipped": 0}
    try:
        sink = out.open("w", encoding="utf-8")
    except OSError as exc:
        source.close()
        raise ConfigError(f"{out}: cannot write: {exc.strerror}") from None
    total = listings.stat().st_size
    progress = _progress(err, total) if err.is_terminal else None
    with source, sink:
        if progress is not None:
            progress.start()
        task = progress.add_task("matching", total=total) if progress is not None else None
        for number, raw in enumerate(source, start=1):
            if progress is not None and task is not None and number % 2000 == 0:
                progress.update(task, completed=source.tell())
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
                decision = engine.match(obj)
            except UnicodeDecodeError:
                _warn(err, number, "not UTF-8")
                counts["skipped"] += 1
                continue
            except json.JSONDecodeError as exc:
                _warn(err, number, f"not valid JSON ({exc.msg} at column {exc.colno})")
                counts["skipped"] += 1
                continue
            except ListingError as exc:
                _warn(err, number, str(exc))
                counts["skipped"] += 1
                continue
            counts[decision.decision] += 1
            sink.write(json.dumps(decision.as_dict(), ensure_ascii=False))
            sink.write("\n")
        if progress is not None:
            progress.stop()
    decided = counts["takedown"] + counts["review"] + counts["none"]
    err.print(
        f"{decided} listings decided: {counts['takedown']} takedown, {counts['review']} review, "
        f"{counts['none']} none; {counts['skipped']} malformed line(s) skipped -> {out}",
        highlight=False, soft_wrap=True,
    )
    return counts


def _warn(err: Console, number: int, problem: str) -> None:
    err.print(f"line {number}: {problem}", highlight=False, markup=False, soft_wrap=True)


def _progress(err: Console, total: int):  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    return Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                    TimeRemainingColumn(), console=err, transient=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(typer.run(match))  # type: ignore[func-returns-value]
