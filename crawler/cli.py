"""The ``reelguard`` command (Typer + Rich).

Every error a user can cause (bad configuration, an unknown marketplace, an unreachable site or
database, a malformed file) ends as one clear line on stderr and a non-zero exit code, never a
traceback: exit codes are those of ``crawler.exceptions`` (2 configuration, 3 catalogue,
4 storage, 5 unreachable, 6 crawl failed, 7 Redis unreachable for a distributed worker).

Settings: ``REELGUARD_DATABASE_URL``, ``REELGUARD_MARKETPLACE_URLS``,
``REELGUARD_ALLOWED_PRIVATE_HOSTS``, ``REELGUARD_CHROMIUM_PATH`` (environment), plus ``--db``.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from crawler import __version__
from crawler.cli_common import (  # noqa: F401 - re-exported: module CLIs import them from here
    DEMO_AUTHORIZED,
    DEMO_CATALOG,
    DEMO_CONFIG,
    LOG_DIR,
    REPO_ROOT,
    DbOption,
    _fail,
    _judge_exit,
    _log_settings,
    _parse_sets,
    _parse_urls,
    _print_summary,
    err,
    guarded,
    out,
)
from crawler.cli_crawl import crawl_app, monitor_app
from crawler.cli_data import db_app, listings, stats
from crawler.exceptions import ConfigError

app = typer.Typer(
    help="Reelguard: anti-piracy monitoring of online marketplaces.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
fixtures_app = typer.Typer(help="The bundled demo marketplaces.", no_args_is_help=True)
catalog_app = typer.Typer(help="Member catalogues.", no_args_is_help=True)
app.add_typer(fixtures_app, name="fixtures")
app.add_typer(catalog_app, name="catalog")
app.add_typer(crawl_app, name="crawl")
app.add_typer(monitor_app, name="monitor")
app.add_typer(db_app, name="db")


@app.callback(invoke_without_command=True)
def main_callback(
    version: Annotated[bool, typer.Option("--version", help="Show the version.")] = False,
) -> None:
    if version:
        out.print(f"reelguard {__version__}")
        raise typer.Exit(0)


# -- demo -----------------------------------------------------------------------------------
@app.command()
def demo(
    db: DbOption = None,
    port: Annotated[int, typer.Option(help="First port of the demo sites (0: ephemeral)")] = 0,
    rate_limit: Annotated[
        float, typer.Option(help="Requests/s per client before a demo site blocks (0: off)")
    ] = 40.0,
    storefronts: Annotated[bool, typer.Option(help="Crawl the storefronts found")] = True,
    limit: Annotated[int | None, typer.Option(help="Search only the first N titles")] = None,
    screenshots: Annotated[
        bool, typer.Option(help="Also render a full-page screenshot of every flagged listing")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log to the terminal")] = False,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="NAME=VALUE: a Scrapy or REELGUARD_* setting (repeatable)")] = None,
) -> None:
    """Serve the demo marketplaces, import the sample catalogue and run one monitoring pass."""

    def run() -> None:
        extra = _parse_sets(set_)
        from crawler.catalog.store import import_authorized, import_catalog
        from crawler.demo.server import DemoServerProcess, SiteOptions
        from crawler.extensions.progress import shared_progress
        from crawler.monitor.runner import run_monitor_pass
        from crawler.storage import open_database

        database = open_database(db)
        created, updated = import_catalog(database, str(DEMO_CATALOG))
        n_auth = import_authorized(database, str(DEMO_AUTHORIZED))
        out.print(f"catalogue: {created} titles added, {updated} updated; "
                  f"{n_auth} authorised sellers")
        with ExitStack() as stack:
            server = stack.enter_context(
                DemoServerProcess(port=port, options=SiteOptions(rate_limit=rate_limit))
            )
            for name, url in server.urls.items():
                out.print(f"demo marketplace [bold]{name}[/] at {url}")
            progress = None if verbose else stack.enter_context(shared_progress(err))
            result = run_monitor_pass(
                marketplace_urls=server.urls,
                database_url=database.url,
                storefronts=storefronts,
                keyword_limit=limit,
                overrides={
                    "REELGUARD_ALLOWED_PRIVATE_HOSTS": ["127.0.0.1", "localhost"],
                    # A demo pass flags ~2,000 listings: a screenshot of each adds minutes, so
                    # it is opt-in here; WARC, fields and decision evidence are always captured.
                    "REELGUARD_EVIDENCE_SCREENSHOT": screenshots,
                    **extra,
                    **_log_settings(verbose),
                },
                job="demo",
            )
            if progress is not None:
                progress.stop()
            _print_summary(result, "Demo monitoring pass")
            if result.ok:  # the takedown queue: file, follow up, report (sites still up)
                from crawler.takedown.demo import after_pass

                out.rule("Takedown queue")
                after_pass(database, server.urls, out)
                from crawler.sellers.demo import after_pass as sellers_after_pass

                out.rule("Sellers, licences and linked accounts")
                sellers_after_pass(database, out)
                from crawler.web.demo import after_demo

                out.rule("Review dashboard")
                after_demo(database, out)
        _judge_exit(result)

    guarded(run)


# -- fixtures -------------------------------------------------------------------------------
@fixtures_app.command("serve")
def fixtures_serve(
    port: Annotated[int, typer.Option(help="Port of the first site, the next on port+1 (0: ephemeral)")] = 0,
    site: Annotated[list[str] | None, typer.Option(help="Which site(s) to serve")] = None,
    rate_limit: Annotated[float, typer.Option(help="Requests/s per client before blocking (0: off)")] = 0.0,
    burst: Annotated[int, typer.Option(help="Requests a client may make at once")] = 40,
) -> None:
    """Serve the demo marketplaces on 127.0.0.1 until interrupted."""

    def run() -> None:
        from crawler.demo.server import SITES, SiteOptions, serve_forever

        sites = tuple(site or SITES)
        unknown = [s for s in sites if s not in SITES]
        if unknown:
            raise ConfigError(f"unknown demo site(s) {', '.join(unknown)}; known: {', '.join(SITES)}")

        def announce(urls: dict[str, str]) -> None:
            for name, url in urls.items():
                out.print(f"{name}: {url}")
            out.print("export REELGUARD_MARKETPLACE_URLS=" +
                      ",".join(f"{k}={v}" for k, v in urls.items()), highlight=False)
            out.print("Ctrl-C to stop.")

        try:
            serve_forever(sites, port=port, options=SiteOptions(rate_limit=rate_limit, burst=burst),
                          announce=announce)
        except OSError as exc:
            raise ConfigError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc

    guarded(run)


# -- catalogue ------------------------------------------------------------------------------
@catalog_app.command("import")
def catalog_import(
    file: Annotated[Path, typer.Argument(help="Catalogue file, CSV or JSON (UTF-8)")],
    member: Annotated[str | None, typer.Option(help="The rights holder every row belongs to")] = None,
    authorized: Annotated[Path | None, typer.Option(help="Authorised sellers: marketplace,seller,member")] = None,
    db: DbOption = None,
) -> None:
    """Import (or update) a member catalogue; a malformed file is refused as a whole."""

    def run() -> None:
        from crawler.catalog.importer import load_authorized, load_catalog
        from crawler.catalog.store import import_authorized, import_catalog
        from crawler.storage import open_database

        # Validate both files before writing either.
        load_catalog(file, member=member)
        if authorized is not None:
            load_authorized(authorized)
        database = open_database(db)
        created, updated = import_catalog(database, str(file), member=member)
        out.print(f"{file}: {created} titles added, {updated} updated")
        if authorized is not None:
            n = import_authorized(database, str(authorized))
            out.print(f"{authorized}: {n} authorised sellers")

    guarded(run)



def _register_module_commands() -> None:
    """Commands whose code lives beside what they drive (imported lazily by Typer's call)."""
    from crawler.distributed.cli import worker as worker_command
    from crawler.evidence.cli import evidence_app
    from crawler.ingest_cli import ingest as ingest_command
    from crawler.investigate.cli import case_app, investigate
    from crawler.licences.cli import licences as licences_command
    from crawler.linking.cli import links as links_command
    from crawler.matching.cli import match as match_command
    from crawler.pages.cli_parse import parse as parse_command
    from crawler.sellers.cli import sellers_app
    from crawler.takedown.cli import takedown_app
    from crawler.web.cli import serve as serve_command
    from crawler.web.cli import users_app

    app.command()(listings)
    app.command()(stats)
    app.command("match")(match_command)
    app.command("parse")(parse_command)
    app.command("ingest")(ingest_command)
    app.command("links")(links_command)
    app.add_typer(takedown_app, name="takedown")
    app.add_typer(evidence_app, name="evidence")
    app.command("investigate")(investigate)
    app.add_typer(case_app, name="case")
    app.add_typer(sellers_app, name="sellers")
    app.command("licences")(licences_command)
    app.add_typer(users_app, name="users")
    app.command("serve")(serve_command)
    app.command("worker")(worker_command)


_register_module_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
