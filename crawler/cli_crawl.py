"""``reelguard crawl search|storefront|listing`` and ``reelguard monitor run|schedule``.

One spider now (``crawl``), or a monitoring pass over ``monitor.yaml`` (``monitor``), each with
a progress bar on a terminal, a summary table, and the exit code of ``crawler.cli_common``.

Settings: ``REELGUARD_*`` overrides through ``--set``; ``REELGUARD_MARKETPLACE_URLS``.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from crawler.cli_common import (
    DEMO_CONFIG,
    DbOption,
    _judge_exit,
    _log_settings,
    _parse_sets,
    _parse_urls,
    _print_summary,
    err,
    guarded,
    out,
)
from crawler.exceptions import ConfigError, CrawlFailed

crawl_app = typer.Typer(help="Run one spider now.", no_args_is_help=True)
monitor_app = typer.Typer(help="Monitoring jobs (monitor.yaml).", no_args_is_help=True)


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
