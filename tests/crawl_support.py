"""What the crawl and CLI tests share: demo servers on loopback, crawls as subprocesses, the data.

Twisted's reactor runs once per process, so every crawl is a child process (``python -m
crawler.cli ...`` or ``scrapy crawl ...`` from the repo root) against demo marketplaces served
by :class:`crawler.demo.server.ServerThread` in the test process; tests then read the SQLite
(or PostgreSQL) database the crawl wrote.

No settings affect this module; children get a clean ``REELGUARD_*`` environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from crawler.db.models import CrawlEvent, CrawlRun, Listing, Marketplace, Observation, Seller
from crawler.db.session import normalize_url
from crawler.demo.demobay import SiteData
from crawler.demo.demomart import DemomartSite
from crawler.demo.server import SITES_DIR, ServerThread, SiteOptions, build_app

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PRIVATE_OK = {"REELGUARD_ALLOWED_PRIVATE_HOSTS": "127.0.0.1"}


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment without any REELGUARD_* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REELGUARD_", "SCRAPY_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def cli_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", *args]


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``reelguard ARGS`` in a child process; stdout and stderr captured as text."""
    return subprocess.run(
        cli_cmd(*args), cwd=cwd, env=env if env is not None else child_env(),
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """The command failed with ``code``, printed an ``error:`` line and no traceback."""
    both = proc.stdout + proc.stderr
    assert proc.returncode == code, (proc.returncode, both[-3000:])
    assert "Traceback" not in both, both[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


# -- demo servers ---------------------------------------------------------------------------
@contextmanager
def serve(site: str, options: SiteOptions | None = None) -> Iterator[str]:
    with ServerThread(build_app(site, options)) as server:
        yield server.url


@contextmanager
def serve_both(options: SiteOptions | None = None) -> Iterator[dict[str, str]]:
    with serve("demomart", options) as mart, serve("demobay", options) as bay:
        yield {"demomart": mart, "demobay": bay}


def url_args(urls: dict[str, str]) -> list[str]:
    out: list[str] = []
    for name, url in urls.items():
        out += ["--url", f"{name}={url}"]
    return out


# -- the demo data (ground truth) -------------------------------------------------------------
@cache
def mart() -> DemomartSite:
    return DemomartSite(SITES_DIR / "demomart", SiteOptions())


@cache
def bay() -> SiteData:
    return SiteData.load(SITES_DIR / "demobay")


def expected_search(marketplace: str, keyword: str, max_pages: int = 20) -> list[str]:
    """Listing ids the site returns for ``keyword`` over its first ``max_pages`` pages."""
    if marketplace == "demomart":
        return mart().ranked(keyword)[: 44 * max_pages]
    return [x.id for x in bay().search(keyword)][: bay().page_size * max_pages]


def listing_data(marketplace: str, listing_id: str) -> dict[str, Any]:
    if marketplace == "demomart":
        return mart().listings[listing_id]
    return bay().listings[listing_id].raw


def seller_data(marketplace: str, seller_id: str) -> dict[str, Any]:
    return (mart().sellers if marketplace == "demomart" else bay().sellers)[seller_id]


def removed_ids(marketplace: str) -> set[str]:
    if marketplace == "demomart":
        return {k for k, v in mart().listings.items() if v["status"] != "active"}
    return {k for k, v in bay().listings.items() if not v.active}


# -- the database a crawl wrote ---------------------------------------------------------------
def sqlite_url(tmp: Path, name: str = "x.db") -> str:
    return f"sqlite:///{tmp / name}"


@contextmanager
def opened(url: str) -> Iterator[Session]:
    engine: Engine = create_engine(normalize_url(url))
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


@dataclass(frozen=True)
class StoredListing:
    marketplace: str
    listing_id: str
    title: str
    price: float | None
    currency: str | None
    seller: str | None
    status: str
    url: str


def stored_listings(url: str) -> list[StoredListing]:
    with opened(url) as s:
        rows = s.execute(
            select(Marketplace.name, Listing.listing_key, Listing.title, Listing.price,
                   Listing.currency, Seller.seller_key, Listing.status, Listing.url)
            .select_from(Listing)
            .join(Marketplace, Marketplace.id == Listing.marketplace_id)
            .outerjoin(Seller, Seller.id == Listing.seller_id)
            .order_by(Listing.id)
        ).all()
    return [StoredListing(*r) for r in rows]


def count(url: str, model: type) -> int:
    with opened(url) as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def runs(url: str) -> list[CrawlRun]:
    with opened(url) as s:
        out = list(s.execute(select(CrawlRun).order_by(CrawlRun.id)).scalars())
        s.expunge_all()
        return out


def events(url: str, kind: str | None = None) -> list[CrawlEvent]:
    with opened(url) as s:
        stmt = select(CrawlEvent).order_by(CrawlEvent.id)
        if kind is not None:
            stmt = stmt.where(CrawlEvent.kind == kind)
        out = list(s.execute(stmt).scalars())
        s.expunge_all()
        return out


def observations(url: str) -> list[tuple[int, int, str | None, str | None]]:
    """(listing id, run id, fetched_via, source) of every observation."""
    with opened(url) as s:
        return [tuple(r) for r in s.execute(  # type: ignore[misc]
            select(Observation.listing_id, Observation.run_id, Observation.fetched_via,
                   Observation.source).order_by(Observation.id)
        ).all()]


def sellers(url: str) -> dict[tuple[str, str], Seller]:
    with opened(url) as s:
        rows = s.execute(
            select(Marketplace.name, Seller).join(Marketplace, Marketplace.id == Seller.marketplace_id)
        ).all()
        s.expunge_all()
        return {(m, seller.seller_key): seller for m, seller in rows}


def stats_of(run: CrawlRun) -> dict[str, Any]:
    return dict(run.stats or {})


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)[:3000]
