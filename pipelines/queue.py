"""Queue pipeline (500): open a takedown request per member for each listing worth one.

For every :class:`~crawler.items.CrawledListing` the match pipeline decided ``takedown`` or
``review`` and the store pipeline stored (``listing_db_id``), one request per member it
concerns (``crawler.takedown.queue.enqueue_from_match``: idempotent, so re-crawls and other
keywords or URL variants of the same listing add nothing). Each item is its own transaction.
Counted as ``reelguard/queue/opened``, ``…/kept`` (already open), ``…/approved`` (auto-approved
on opening), ``…/skipped`` (a person rejected or withdrew it before).

Settings: ``REELGUARD_DATABASE_URL``, ``REELGUARD_TAKEDOWN_CONFIG`` (path of a takedown.yaml;
also read from the environment), ``REELGUARD_TAKEDOWN_QUEUE`` (False switches this stage off).
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.exceptions import NotConfigured

from crawler.db.session import session_scope
from crawler.items import CrawledListing
from crawler.storage import database_from_settings
from crawler.takedown.config import TakedownConfig
from crawler.takedown.queue import QUEUE_DECISIONS, enqueue_from_match

logger = logging.getLogger(__name__)


class QueuePipeline:
    def __init__(self, crawler: Any) -> None:
        if not crawler.settings.getbool("REELGUARD_TAKEDOWN_QUEUE", True):
            raise NotConfigured("REELGUARD_TAKEDOWN_QUEUE is off")
        self.crawler = crawler
        self.db = database_from_settings(crawler.settings)
        self.config = TakedownConfig.load(crawler.settings.get("REELGUARD_TAKEDOWN_CONFIG"))

    @classmethod
    def from_crawler(cls, crawler: Any) -> QueuePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, CrawledListing) or item.listing_db_id is None:
            return item
        decision = item.decision
        if not decision or decision.get("decision") not in QUEUE_DECISIONS or not item.members:
            return item
        stats = self.crawler.stats
        with session_scope(self.db.sessions) as session:
            results = [
                enqueue_from_match(session, item.listing_db_id, member, decision,
                                   config=self.config)
                for member in item.members
            ]
        for result in results:
            if result.created:
                stats.inc_value("reelguard/queue/opened")
                if result.state == "approved":
                    stats.inc_value("reelguard/queue/approved")
                if result.cites_request_id is not None:
                    stats.inc_value("reelguard/queue/relisted")
            elif result.request_id is not None:
                stats.inc_value("reelguard/queue/kept")
            else:
                stats.inc_value("reelguard/queue/skipped")
        return item
