"""A live progress bar for long crawls (Rich), on stderr.

The bar's total is the number of requests scheduled so far and grows as the crawl discovers
pages; it completes as responses and failures come back. Listings, blocked pages and errors are
shown beside it. A monitoring pass shares one bar across its spiders (:func:`shared_progress`).

Settings: ``REELGUARD_PROGRESS`` (off by default; the CLI turns it on for a terminal).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler import signals as rg_signals

if TYPE_CHECKING:
    from collections.abc import Iterator

    from scrapy import Spider
    from scrapy.crawler import Crawler

_shared: Progress | None = None


def make_progress(console: Console | None = None) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=16),
        MofNCompleteColumn(),
        TextColumn("pages · {task.fields[items]} listings · {task.fields[blocked]} blocked · "
                   "{task.fields[errors]} errors"),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        transient=False,
        refresh_per_second=4,
    )


@contextmanager
def shared_progress(console: Console | None = None) -> Iterator[Progress]:
    """Show one progress display for every crawl started inside the block."""
    global _shared
    progress = make_progress(console)
    _shared = progress
    try:
        with progress:
            yield progress
    finally:
        _shared = None


class ProgressReporter:
    def __init__(self, crawler: Crawler, progress: Progress, owned: bool) -> None:
        self.crawler = crawler
        self.progress = progress
        self.owned = owned
        self.task: Any = None
        self.scheduled = 0
        self.done = 0
        self.counts = {"items": 0, "blocked": 0, "errors": 0}
        for handler, signal in (
            (self.opened, signals.spider_opened),
            (self.closed, signals.spider_closed),
            (self.scheduled_one, signals.request_scheduled),
            (self.done_one, signals.response_received),
            (self.dropped, signals.request_dropped),
            (self.item, signals.item_scraped),
            (self.event, rg_signals.crawl_event),
        ):
            crawler.signals.connect(handler, signal=signal)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressReporter:
        if _shared is not None:
            return cls(crawler, _shared, owned=False)
        if not crawler.settings.getbool("REELGUARD_PROGRESS"):
            raise NotConfigured
        return cls(crawler, make_progress(), owned=True)

    def _update(self) -> None:
        if self.task is not None:
            self.progress.update(
                self.task, total=max(self.scheduled, 1), completed=self.done,
                items=self.counts["items"], blocked=self.counts["blocked"],
                errors=self.counts["errors"],
            )

    def opened(self, spider: Spider) -> None:
        if self.owned:
            self.progress.start()
        self.task = self.progress.add_task(
            f"{spider.name:<10}", total=None, items=0, blocked=0, errors=0
        )

    def closed(self, spider: Spider) -> None:
        self.done = self.scheduled  # failures and give-ups finish their requests too
        self._update()
        if self.owned:
            self.progress.stop()

    def scheduled_one(self, **_: Any) -> None:
        self.scheduled += 1
        self._update()

    def done_one(self, request: Any = None, **_: Any) -> None:
        if request is not None and request.meta.get("reelguard_side_fetch"):
            return  # fetched by a pipeline (engine.download), never scheduled: not a page
        self.done += 1
        self._update()

    def dropped(self, **_: Any) -> None:
        self.scheduled = max(self.done, self.scheduled - 1)
        self._update()

    def item(self, item: Any, **_: Any) -> None:
        if type(item).__name__ in ("ListingItem", "CrawledListing"):
            self.counts["items"] += 1
            self._update()

    def event(self, kind: str, **_: Any) -> None:
        if kind == "blocked":
            self.counts["blocked"] += 1
        elif kind in ("error", "refused"):
            self.counts["errors"] += 1
        self._update()
