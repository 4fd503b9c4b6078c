"""Record each crawl as a crawl run: its arguments, events (blocked, errors, refused) and stats.

On ``spider_opened`` a ``crawl_runs`` row is created (or, when the spider was given
``run_id``, the crawl joins that run: a monitoring pass is one run over several spiders). Every
``crawler.signals.crawl_event`` is written at once, so a killed crawl keeps what it recorded.
On ``spider_closed`` the run gets its status, reason and Scrapy stats. A write that meets a
locked or dropped database is tried again a few times (``REELGUARD_DB_RETRY_TIMES``, as the
store pipeline), then logged as lost.

Settings: ``REELGUARD_DATABASE_URL``, ``REELGUARD_DB_RETRY_TIMES``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scrapy import signals
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from crawler import signals as rg_signals
from crawler.db import repo
from crawler.db.errors import DatabaseLocked, DatabaseUnreachable
from crawler.db.session import session_scope
from crawler.storage import database_from_settings

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

INTERRUPTED = {"shutdown", "cancelled"}
# The close reason of a crawl whose database stayed locked or unreachable (pipelines/store.py):
# the run fails and the command exits 4 (crawler.monitor.runner).
DATABASE_UNAVAILABLE = "database_unavailable"


def run_status(reason: str) -> str:
    if reason == "finished":
        return "finished"
    if reason in INTERRUPTED:
        return "interrupted"
    return "failed"


def json_stats(stats: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in stats.items():
        if isinstance(value, (dt.datetime, dt.date)):
            out[key] = value.isoformat()
        elif isinstance(value, (int, float, str, bool)) or value is None:
            out[key] = value
        else:
            out[key] = str(value)
    return out


class CrawlRunRecorder:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.db = database_from_settings(crawler.settings)
        self.run_id: int | None = None
        self.owns_run = True
        self.retry_times = crawler.settings.getint("REELGUARD_DB_RETRY_TIMES", 5)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.crawl_event, signal=rg_signals.crawl_event)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlRunRecorder:
        return cls(crawler)

    def _write(self, write: Callable[[Session], None]) -> None:
        """``write(session)`` in a transaction of its own, retried while the database is busy."""
        for attempt in range(self.retry_times + 1):
            try:
                with session_scope(self.db.sessions) as session:
                    write(session)
                return
            except (DatabaseLocked, DatabaseUnreachable, OperationalError):
                if attempt >= self.retry_times:
                    raise
                time.sleep(min(5.0, 0.2 * 2**attempt))

    def spider_opened(self, spider: Spider) -> None:
        given = getattr(spider, "run_id", None)
        if given:
            self.run_id = int(given)
            self.owns_run = False
        else:
            args = {k: v for k, v in getattr(spider, "run_args", {}).items()}
            with session_scope(self.db.sessions) as session:
                self.run_id = repo.start_run(
                    session,
                    job=spider.name,
                    marketplaces=",".join(getattr(spider, "marketplaces", []) or []),
                    args=args,
                )
            spider.run_id = self.run_id  # type: ignore[attr-defined]
        assert self.crawler.stats is not None
        self.crawler.stats.set_value("reelguard/run_id", self.run_id)

    def crawl_event(
        self, kind: str, url: str, reason: str, marketplace: str | None = None, **_: Any
    ) -> None:
        if self.run_id is None:
            return
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"reelguard/events/{kind}")
        run_id = self.run_id
        self._write(lambda session: repo.record_event(
            session, run_id, kind=kind, url=url[:2000], reason=str(reason)[:2000],
            marketplace=marketplace,
        ))

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.run_id is None:
            return
        assert self.crawler.stats is not None
        stats = json_stats(self.crawler.stats.get_stats())
        if not self.owns_run:
            # The monitoring pass that owns the run merges and closes it.
            spider.final_stats = stats  # type: ignore[attr-defined]
            spider.close_reason = reason  # type: ignore[attr-defined]
            return
        run_id = self.run_id
        self._write(lambda session: repo.finish_run(
            session, run_id, status=run_status(reason), exit_reason=reason, stats=stats
        ))
