"""Commands of distributed crawls: ``reelguard worker`` and ``monitor run --distributed``.

``reelguard worker [--redis URL] [--db URL] [--idle-timeout S]`` joins the crawl under
``REELGUARD_REDIS_PREFIX`` on any machine that reaches Redis, PostgreSQL and the marketplaces.
``reelguard monitor run --distributed [--workers N]`` seeds a monitoring pass (and runs it
with N local workers); see ``crawler.distributed.coordinator``.

Settings: ``REDIS_URL``, ``REELGUARD_REDIS_PREFIX``, ``REELGUARD_DATABASE_URL`` (environment).
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer


def worker(
    redis_url: Annotated[str | None, typer.Option(
        "--redis", help="Redis URL of the shared frontier (default: $REDIS_URL or "
                        "redis://127.0.0.1:6379/0)")] = None,
    db: Annotated[str | None, typer.Option(
        "--db", help="Database URL (default: $REELGUARD_DATABASE_URL)")] = None,
    idle_timeout: Annotated[float, typer.Option(
        help="Seconds to wait for a crawl, and with nothing left to do before exiting")] = 10.0,
    prefix: Annotated[str | None, typer.Option(
        help="Key prefix of the crawl in Redis (default: $REELGUARD_REDIS_PREFIX or "
             "reelguard)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log to the terminal")] = False,
) -> None:
    """Join the distributed crawl in Redis and work on it until it is done."""
    from crawler.cli import _log_settings, guarded, out

    def run() -> None:
        from crawler.distributed.worker import run_worker
        from crawler.exceptions import ConfigError

        if redis_url:
            os.environ["REDIS_URL"] = redis_url
        if prefix:
            os.environ["REELGUARD_REDIS_PREFIX"] = prefix
        if not (db or os.environ.get("REELGUARD_DATABASE_URL")):
            raise ConfigError("a worker needs the shared database: --db URL or "
                              "REELGUARD_DATABASE_URL (postgresql://user@host/db)")
        result = run_worker(database_url=db, idle_timeout=idle_timeout,
                            overrides=_log_settings(verbose))
        if result is None:
            out.print(f"no crawl to join within {idle_timeout:.0f} s; nothing to do")
            return
        out.print(f"worker done: run {result.run_id}, {result.spider}: "
                  f"{result.listings} items stored, "
                  f"{result.acked} requests completed",
                  highlight=False)

    guarded(run)


def distributed_pass(cfg: Any, database: Any, urls: dict[str, str], hosts: list[str],
                     workers: int, verbose: bool) -> None:
    """The body of ``monitor run --distributed`` once the catalogue and sites are ready."""
    from crawler.cli import _judge_exit, _print_summary, out
    from crawler.distributed.connection import RedisConfig
    from crawler.distributed.coordinator import run_distributed_pass

    result = run_distributed_pass(
        job=f"monitor:{cfg.name}", database=database, marketplace_urls=urls,
        storefronts=cfg.storefronts, keyword_strategy=cfg.keyword_strategy,
        keyword_limit=cfg.keyword_limit, min_pages=cfg.min_pages,
        max_blocked_ratio=cfg.max_blocked_ratio,
        overrides={"REELGUARD_ALLOWED_PRIVATE_HOSTS": hosts, "REELGUARD_BROWSER": cfg.browser,
                   **cfg.settings},
        workers=workers, idle_timeout=10.0, verbose=verbose,
        report=lambda m: out.print(m, highlight=False),
    )
    if result is None:
        config = RedisConfig.from_settings()
        out.print(
            "start workers on any machine that reaches Redis, the database and the "
            f"marketplaces:\n  REDIS_URL={config.url} REELGUARD_REDIS_PREFIX={config.prefix} "
            "reelguard worker --db postgresql://USER@HOST/DB"
            + ("\n(they run the search, then the storefronts of the sellers it finds)"
               if cfg.storefronts else ""), highlight=False)
        if cfg.uses_demo:
            out.print("note: `url: demo` sites stop with this command; serve them with "
                      "`reelguard fixtures serve` for remote workers", highlight=False)
        return
    _print_summary(result, f"Distributed monitoring pass {cfg.name}")
    if result.ok:
        from crawler.sellers.refresh import refresh_and_report

        refresh_and_report(database.url, out)
    _judge_exit(result)
