"""Licence pipeline (455): evidence of each shop page, then the shop's licence finding.

Position: after the store (400), which writes the seller with its licence block, and after the
listing evidence (450); before the takedown queue (500), which it does not touch.

* A :class:`~crawler.items.SellerItem` from a storefront's first page carries its ``response``:
  that page is captured (WARC, HTML, a screenshot when ``REELGUARD_EVIDENCE_SCREENSHOT`` is on,
  the fields read; :mod:`crawler.licences.evidence`). With ``REELGUARD_EVIDENCE_ALL`` (used by
  investigations) the spider also passes every further index page as a
  :class:`~crawler.items.ShopPage`, captured the same way.
* When the crawl closes, the licence of every shop seen is rechecked
  (:func:`crawler.licences.check.check_sellers`, against ``REELGUARD_LICENCE_REGISTER`` when set)
  with the evidence of its first page, so findings are current right after a storefront crawl
  and its listings (stored meanwhile) count towards "sells discs".

A capture that fails is counted (``reelguard/licence/capture_failed``), logged with its URL and
recorded as a crawl event (``evidence_failed``); the item always goes on. A failed check is
logged, counted (``reelguard/licence/check_failed``) and recorded as a ``licence_check_failed``
event. Stats: ``reelguard/licence/captured``, ``.../checked``, ``.../flagged``.

Settings: ``REELGUARD_EVIDENCE`` (False: no capture, the check still runs),
``REELGUARD_EVIDENCE_DIR``, ``REELGUARD_EVIDENCE_SCREENSHOT``, ``REELGUARD_EVIDENCE_ALL``
(read by the spider), ``REELGUARD_LICENCE_REGISTER`` (setting or environment; a malformed
register stops the crawl at start with exit code 3), ``REELGUARD_LICENCE_MARKETPLACES``,
``REELGUARD_DATABASE_URL``, ``USER_AGENT``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select

from crawler.config import _EnvFirst
from crawler.db.models import Marketplace, Seller
from crawler.db.session import session_scope
from crawler.evidence.capture import Renderer, acquire_renderer, release_renderer
from crawler.evidence.store import EvidenceStore
from crawler.items import SellerItem, ShopPage
from crawler.licences.check import check_sellers, is_flagged
from crawler.licences.evidence import capture_shop_page
from crawler.licences.register import Register, load_register, register_in_use
from crawler.storage import database_from_settings

logger = logging.getLogger(__name__)


class LicencePipeline:
    def __init__(self, crawler: Any) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.capture = settings.getbool("REELGUARD_EVIDENCE", True)
        self.store = EvidenceStore(settings.get("REELGUARD_EVIDENCE_DIR")) if self.capture else None
        self.screenshots = settings.getbool("REELGUARD_EVIDENCE_SCREENSHOT", True)
        self.user_agent = settings.get("USER_AGENT")
        path = _EnvFirst(settings).raw("REELGUARD_LICENCE_REGISTER")
        # Loaded once, at start-up: a malformed register stops the crawl before it fetches.
        self.register: Register | None = load_register(path) if path else None
        self.db: Any = None
        self.renderer: Renderer | None = None
        # (marketplace, seller key) -> (sha256, url) of its first page's capture, or None.
        self.seen: dict[tuple[str, str], tuple[str, str | None] | None] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> LicencePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        self.db = database_from_settings(self.crawler.settings)

    def _renderer(self) -> Renderer | None:
        if self.screenshots and self.renderer is None:
            self.renderer = acquire_renderer(self.crawler)
        return self.renderer

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, SellerItem):
            key = (item.marketplace or "unknown", item.seller_id)
            proof = None
            if self.capture and item.response is not None:
                proof = await self._capture(item.response, key, 0, item)
            if proof is not None or key not in self.seen:
                self.seen[key] = proof
        elif isinstance(item, ShopPage) and self.capture:
            await self._capture(
                item.response, (item.marketplace, item.seller_id), item.page_index, None
            )
        return item

    async def _capture(
        self, response: Any, key: tuple[str, str], page_index: int, seller: SellerItem | None
    ) -> tuple[str, str | None] | None:
        stats = self.crawler.stats
        spider = self.crawler.spider
        assert self.store is not None
        try:
            result = await capture_shop_page(
                response,
                marketplace=key[0],
                seller_key=key[1],
                page_index=page_index,
                seller=seller,
                sessions=self.db.sessions,
                store=self.store,
                renderer=self._renderer(),
                run_id=getattr(spider, "run_id", None),
                user_agent=self.user_agent,
            )
        except Exception as exc:
            url = getattr(response, "url", None)
            stats.inc_value("reelguard/licence/capture_failed")
            logger.error(
                "evidence capture of shop page %s (%s) failed: %s", url, key[0], exc, exc_info=exc
            )
            event = getattr(spider, "event", None)
            if event is not None:
                event("evidence_failed", url, f"shop page: {type(exc).__name__}: {exc}", key[0])
            return None
        stats.inc_value("reelguard/licence/captured")
        sha = result.sha256_of("warc")
        return (sha, response.url) if sha else None

    async def close_spider(self) -> None:
        if self.seen and self.db is not None:
            await asyncio.to_thread(self._check)
        if self.renderer is not None:
            self.renderer = None
            await release_renderer(self.crawler)

    def _check(self) -> None:
        stats = self.crawler.stats
        try:
            with session_scope(self.db.sessions) as session:
                ids = _seller_ids(session, list(self.seen))
                if self.register is None:  # the register the last check used, if any
                    path = register_in_use(session)
                    self.register = load_register(path) if path else None
                evidence = {
                    ids[k]: proof
                    for k, proof in self.seen.items()
                    if proof is not None and k in ids
                }
                findings = check_sellers(
                    session, self.register, list(ids.values()), evidence=evidence
                )
                stats.set_value("reelguard/licence/checked", len(findings))
                stats.set_value(
                    "reelguard/licence/flagged",
                    sum(is_flagged(f.status, f.sells_discs) for f in findings),
                )
        except Exception as exc:
            stats.inc_value("reelguard/licence/check_failed")
            logger.error("licence check after the crawl failed: %s", exc, exc_info=exc)
            event = getattr(self.crawler.spider, "event", None)
            if event is not None:
                event("licence_check_failed", "", f"{type(exc).__name__}: {exc}", None)


def _seller_ids(session: Any, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for marketplace in {m for m, _ in keys}:
        wanted = [k for m, k in keys if m == marketplace]
        for start in range(0, len(wanted), 500):
            rows = session.execute(
                select(Seller.seller_key, Seller.id)
                .join(Marketplace, Marketplace.id == Seller.marketplace_id)
                .where(
                    Marketplace.name == marketplace,
                    Seller.seller_key.in_(wanted[start : start + 500]),
                )
            ).all()
            out.update({(marketplace, key): sid for key, sid in rows})
    return out
