"""The ``reelguard`` command (Typer + Rich).

Every error a user can cause (bad configuration, an unknown marketplace, an unreachable site or
database, a malformed file) ends as one clear line on stderr and a non-zero exit code, never a
traceback: exit codes are those of ``crawler.exceptions`` (2 configuration, 3 catalogue,
4 storage, 5 unreachable, 6 crawl failed, 7 Redis unreachable for a distributed worker).

Settings: ``REELGUARD_DATABASE_URL``, ``REELGUARD_MARKETPLACE_URLS``,
``REELGUARD_ALLOWED_PRIVATE_HOSTS``, ``REELGUARD_CHROMIUM_PATH`` (environment), plus ``--db``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from crawler import __version__
from crawler.exceptions import ConfigError, CrawlFailed, ReelguardError

app = typer.Typer(
    help="Reelguard: anti-piracy monitoring of online marketplaces.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
fixtures_app = typer.Typer(help="The bundled demo marketplaces.", no_args_is_help=True)
catalog_app = typer.Typer(help="Member catalogues.", no_args_is_help=True)
crawl_app = typer.Typer(help="Run one spider now.", no_args_is_help=True)
monitor_app = typer.Typer(help="Monitoring jobs (monitor.yaml).", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
app.add_typer(fixtures_app, name="fixtures")
app.add_typer(catalog_app, name="catalog")
app.add_typer(crawl_app, name="crawl")
app.add_typer(monitor_app, name="monitor")
app.add_typer(db_app, name="db")

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


# -- crawl ----------------------------------------------------------------------------------
def _crawl(spider: str, marketplace: str, urls: list[str] | None, demo_sites: bool,
           db: str | None, spider_args: dict[str, Any], verbose: bool,
           sets: list[str] | None = None) -> None:
    def run() -> None:
        from crawler.demo.server import DemoServerProcess
        from crawler.extensions.progress import shared_progress
        from crawler.monitor.runner import run_single_crawl

        with ExitStack() as stack:
            base_urls = _parse_urls(urls)
            overrides: dict[str, Any] = {**_parse_sets(sets), **_log_settings(verbose)}
            if demo_sites:
                server = stack.enter_context(DemoServerProcess())
                base_urls = {**server.urls, **base_urls}
                overrides["REELGUARD_ALLOWED_PRIVATE_HOSTS"] = ["127.0.0.1", "localhost"]
            if not base_urls:
                raise ConfigError(
                    "no marketplace URL: pass --url NAME=URL, set REELGUARD_MARKETPLACE_URLS, "
                    "or --demo to crawl the bundled demo marketplaces"
                )
            if not verbose:
                stack.enter_context(shared_progress(err))
            result = run_single_crawl(
                spider, marketplace_urls=base_urls, database_url=db,
                spider_args={"marketplace": marketplace, **spider_args}, overrides=overrides,
            )
        _print_summary(result, f"crawl {spider}")
        if result.ok:
            from crawler.sellers.refresh import refresh_and_report

            refresh_and_report(db, out)
        _judge_exit(result)

    guarded(run)


MarketOpt = Annotated[str, typer.Option("--marketplace", "-m", help="Marketplace(s), comma-separated, or all")]
UrlOpt = Annotated[list[str] | None, typer.Option("--url", help="NAME=BASE_URL of a marketplace (repeatable)")]
DemoOpt = Annotated[bool, typer.Option("--demo", help="Start the bundled demo marketplaces for this crawl")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log to the terminal")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="NAME=VALUE: a Scrapy or REELGUARD_* setting for this crawl (repeatable)")]


@crawl_app.command("search")
def crawl_search(
    marketplace: MarketOpt = "all",
    keywords: Annotated[str | None, typer.Option(help="Comma-separated keywords (default: the catalogue)")] = None,
    strategy: Annotated[str, typer.Option(help="Catalogue keywords: primary or all")] = "primary",
    limit: Annotated[int | None, typer.Option(help="Only the first N catalogue keywords")] = None,
    url: UrlOpt = None, demo_sites: DemoOpt = False, db: DbOption = None, verbose: VerboseOpt = False,
    set_: SetOpt = None,
) -> None:
    """Search marketplaces for catalogue titles or given keywords."""
    args: dict[str, Any] = {"strategy": strategy}
    if keywords:
        args["keywords"] = keywords
    if limit:
        args["limit"] = str(limit)
    _crawl("search", marketplace, url, demo_sites, db, args, verbose, set_)


@crawl_app.command("storefront")
def crawl_storefront(
    seller: Annotated[str, typer.Option(help="Seller id(s), comma-separated")],
    marketplace: MarketOpt = "all",
    url: UrlOpt = None, demo_sites: DemoOpt = False, db: DbOption = None, verbose: VerboseOpt = False,
    set_: SetOpt = None,
) -> None:
    """Crawl whole storefronts of sellers."""
    _crawl("storefront", marketplace, url, demo_sites, db, {"seller": seller}, verbose,
           set_)


@crawl_app.command("listing")
def crawl_listing(
    urls: Annotated[str | None, typer.Option("--urls", help="Listing URLs, comma-separated (default: those due)")] = None,
    due_hours: Annotated[float, typer.Option(help="Re-check listings not seen for N hours")] = 0.0,
    marketplace: MarketOpt = "all",
    url: UrlOpt = None, demo_sites: DemoOpt = False, db: DbOption = None, verbose: VerboseOpt = False,
    set_: SetOpt = None,
) -> None:
    """(Re-)check listing pages: given URLs, or the stored listings that are due."""
    args: dict[str, Any] = {"due_hours": str(due_hours)}
    if urls:
        args["urls"] = urls
    _crawl("listing", marketplace, url, demo_sites, db, args, verbose, set_)


# -- monitor --------------------------------------------------------------------------------
ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="The monitoring job file")]


@monitor_app.command("run")
def monitor_run(config: ConfigOpt = DEMO_CONFIG, db: DbOption = None,
                verbose: VerboseOpt = False,
                distributed: Annotated[bool, typer.Option(
                    help="Seed the pass into Redis for `reelguard worker`s")] = False,
                workers: Annotated[int, typer.Option(
                    help="With --distributed: run N local workers and wait")] = 0) -> None:
    """Run one monitoring pass now."""

    def run() -> None:
        from crawler.catalog.store import import_authorized, import_catalog
        from crawler.config import MonitorConfig
        from crawler.demo.server import DemoServerProcess
        from crawler.extensions.progress import shared_progress
        from crawler.monitor.runner import run_monitor_pass
        from crawler.storage import open_database

        if workers < 0 or (workers and not distributed):
            raise ConfigError("--workers N (N >= 0) goes with --distributed")
        cfg = MonitorConfig.load(config)
        database = open_database(db or cfg.database)
        import_catalog(database, str(cfg.catalog))
        if cfg.authorized:
            import_authorized(database, str(cfg.authorized))
        with ExitStack() as stack:
            urls = {m.name: m.url for m in cfg.marketplaces if m.url != "demo"}
            hosts = list(cfg.allow_private_hosts)
            if cfg.uses_demo:
                server = stack.enter_context(DemoServerProcess())
                urls.update({m.name: server.urls[m.name] for m in cfg.marketplaces
                             if m.url == "demo"})
                hosts += ["127.0.0.1", "localhost"]
            if distributed:
                from crawler.distributed.cli import distributed_pass

                return distributed_pass(cfg, database, urls, hosts, workers, verbose)
            if not verbose and sys.stderr.isatty():
                stack.enter_context(shared_progress(err))
            result = run_monitor_pass(
                marketplace_urls=urls,
                database_url=database.url,
                storefronts=cfg.storefronts,
                keyword_strategy=cfg.keyword_strategy,
                keyword_limit=cfg.keyword_limit,
                min_pages=cfg.min_pages,
                max_blocked_ratio=cfg.max_blocked_ratio,
                overrides={"REELGUARD_ALLOWED_PRIVATE_HOSTS": hosts,
                           "REELGUARD_BROWSER": cfg.browser,
                           **cfg.settings, **_log_settings(verbose)},
                job=f"monitor:{cfg.name}",
            )
        _print_summary(result, f"Monitoring pass {cfg.name}")
        if result.ok:
            from crawler.sellers.refresh import refresh_and_report

            refresh_and_report(database.url, out)
        _judge_exit(result)

    guarded(run)


@monitor_app.command("schedule")
def monitor_schedule(
    config: ConfigOpt = DEMO_CONFIG,
    max_passes: Annotated[int | None, typer.Option(help="Stop after N passes")] = None,
) -> None:
    """Run monitoring passes on the job's cron schedule until stopped (Ctrl-C)."""

    def run() -> None:
        from crawler.config import MonitorConfig
        from crawler.monitor.schedule import run_schedule

        cfg = MonitorConfig.load(config)
        out.print(f"monitoring {cfg.name} on schedule {cfg.schedule!r} (UTC)")
        failed = run_schedule(cfg.path, cfg.schedule, max_passes=max_passes,
                              report=lambda m: out.print(m, highlight=False))
        if failed:
            raise CrawlFailed(f"{failed} pass(es) failed")

    guarded(run)


# -- reading --------------------------------------------------------------------------------
@app.command()
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


@app.command()
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
