"""Evidence pipeline (450): capture every listing decided ``takedown`` or ``review``.

With ``REELGUARD_EVIDENCE_ALL`` (an investigation, ``reelguard investigate``) every crawled
listing page is captured whatever its decision, including listings not decided at all: fields,
WARC, HTML (the body as received when no browser renders it) and the screenshot if they are on.

Position: after the store pipeline (400), not at STYLE.md's 300, because an evidence entry
names its listing by database id (``evidence.listing_id``, a foreign key) and that id exists
only once the listing is stored; the chain is append-only, so the id cannot be filled in later.
It still runs before the takedown queue (500), which points requests to evidence by hash. A
listing whose capture fails is therefore stored without evidence: the failure is counted
(``reelguard/evidence/failed``), logged with its URL and recorded as a crawl event
(``evidence_failed``), and the item always goes on (never dropped).

Captures run concurrently with the crawl (``async process_item``: the browser work awaits, the
hashing, file writes and chain append run in a thread). Stats: ``reelguard/evidence/captured``,
``.../failed``, ``.../artefacts``, ``.../capture_ms_median`` and ``.../capture_ms_p90``.

Settings: ``REELGUARD_EVIDENCE`` (default True; False switches the pipeline off with
``NotConfigured``), ``REELGUARD_EVIDENCE_DIR`` (default ``var/evidence``),
``REELGUARD_EVIDENCE_SCREENSHOT`` (default True: render and screenshot in a browser page; the
crawl's page pool when it has one), ``REELGUARD_EVIDENCE_ALL`` (default False: only
``takedown``/``review`` decisions), ``REELGUARD_DATABASE_URL``, ``USER_AGENT``.
"""

from __future__ import annotations

import logging
import statistics
from typing import Any

from scrapy.exceptions import NotConfigured

from crawler.evidence.capture import (
    CAPTURED_DECISIONS,
    Renderer,
    acquire_renderer,
    capture_listing,
    release_renderer,
)
from crawler.evidence.store import EvidenceStore
from crawler.items import CrawledListing
from crawler.storage import database_from_settings

logger = logging.getLogger(__name__)


class EvidencePipeline:
    def __init__(self, crawler: Any) -> None:
        settings = crawler.settings
        if not settings.getbool("REELGUARD_EVIDENCE", True):
            raise NotConfigured("evidence capture is off (REELGUARD_EVIDENCE)")
        self.crawler = crawler
        self.store = EvidenceStore(settings.get("REELGUARD_EVIDENCE_DIR"))
        self.screenshots = settings.getbool("REELGUARD_EVIDENCE_SCREENSHOT", True)
        self.capture_all = settings.getbool("REELGUARD_EVIDENCE_ALL", False)
        self.user_agent = settings.get("USER_AGENT")
        self.db: Any = None
        self.renderer: Renderer | None = None
        self.durations_ms: list[float] = []

    @classmethod
    def from_crawler(cls, crawler: Any) -> EvidencePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        self.db = database_from_settings(self.crawler.settings)

    def _renderer(self) -> Renderer | None:
        if self.screenshots and self.renderer is None:
            self.renderer = acquire_renderer(self.crawler)
        return self.renderer

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, CrawledListing):
            return item
        if not self.capture_all and (
            not item.decision or item.decision.get("decision") not in CAPTURED_DECISIONS
        ):
            return item
        stats = self.crawler.stats
        spider = self.crawler.spider
        listing = item.listing
        try:
            result = await capture_listing(
                item, sessions=self.db.sessions, store=self.store, renderer=self._renderer(),
                run_id=getattr(spider, "run_id", None), user_agent=self.user_agent,
                html_as_received=self.capture_all,
            )
        except Exception as exc:
            stats.inc_value("reelguard/evidence/failed")
            logger.error("evidence capture failed for %s (%s): %s", listing.url,
                         listing.marketplace, exc, exc_info=exc)
            event = getattr(spider, "event", None)
            if event is not None:
                event("evidence_failed", listing.url, f"{type(exc).__name__}: {exc}",
                      listing.marketplace)
            return item
        self.durations_ms.append(result.timings_ms.get("total", 0.0))
        stats.inc_value("reelguard/evidence/captured")
        stats.inc_value("reelguard/evidence/artefacts", len(result.records))
        return item

    async def close_spider(self) -> None:
        stats = self.crawler.stats
        if self.durations_ms:
            ordered = sorted(self.durations_ms)
            stats.set_value("reelguard/evidence/capture_ms_median",
                            round(statistics.median(ordered), 1))
            stats.set_value("reelguard/evidence/capture_ms_p90",
                            round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1))
        if self.renderer is not None:
            self.renderer = None
            await release_renderer(self.crawler)
