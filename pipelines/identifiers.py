"""Identifiers pipeline (470): the contacts and product photos that link seller accounts.

For every stored listing (``listing_db_id`` set by the store pipeline, 400) whose seller is
known, the contact identifiers in its title and description (``crawler.linking.identifiers``:
phones, WeChat and QQ ids, emails, return addresses) are upserted as ``seller_identifiers``
rows. Each keeps the capture that proves it, a WARC of the page that shows it:

* the evidence pipeline's WARC (450) when it captured this listing in this crawl;
* else a WARC of ``item.response`` captured here (the HTTP exchange only, no browser), only
  when the page shows an identifier the seller has no proof of yet, at most once per listing
  per crawl.

For listings decided ``takedown`` or ``review``, the first image is fetched through Scrapy's
downloader (so the private-address guard, robots.txt, retries, block detection and the
marketplace's download slot all apply), stored as evidence kind ``image``, and its pHash
(``crawler.linking.images``) upserted as an ``image`` identifier (value: the hash, shown: the
image URL). At most one image per listing; each URL is fetched once per crawl.

A failure never drops the item: it is counted (``reelguard/linking/failed``,
``reelguard/linking/image_failed``), logged with its URL and recorded as a crawl event
(``linking_failed``, ``image_failed``). Stats: ``reelguard/linking/identifiers``,
``.../captured`` (WARCs taken here), ``.../reused`` (the evidence pipeline's), ``.../images``.
Clusters are recomputed after the crawl (``crawler.sellers.refresh``), not here.

Settings: ``REELGUARD_LINKING`` (default True; False switches this stage off with
``NotConfigured``), ``REELGUARD_LINKING_IMAGES`` (default True), ``REELGUARD_EVIDENCE_DIR``,
``REELGUARD_DATABASE_URL``, ``USER_AGENT``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scrapy import Request
from scrapy.exceptions import NotConfigured

from crawler.db.session import session_scope
from crawler.evidence import chain
from crawler.evidence.capture import CAPTURED_DECISIONS, Artefact, record_artefacts
from crawler.evidence.store import EvidenceStore
from crawler.evidence.warc import WARC_MEDIA_TYPE, build_warc
from crawler.items import CrawledListing
from crawler.linking import store as idstore
from crawler.linking.identifiers import Hit, extract
from crawler.linking.images import MAX_IMAGE_BYTES, ImageRefused, image_phash
from crawler.storage import database_from_settings

logger = logging.getLogger(__name__)

WARC_NOTE = "captured for the contact identifiers the page shows (linked accounts)"


class ImageFetchFailed(Exception):
    """The image URL did not answer with an image (with the reason)."""


@dataclass(frozen=True)
class _Image:
    phash: str
    sha256: str


class IdentifierPipeline:
    def __init__(self, crawler: Any) -> None:
        settings = crawler.settings
        if not settings.getbool("REELGUARD_LINKING", True):
            raise NotConfigured("linked-account identifiers are off (REELGUARD_LINKING)")
        self.crawler = crawler
        self.store = EvidenceStore(settings.get("REELGUARD_EVIDENCE_DIR"))
        self.images = settings.getbool("REELGUARD_LINKING_IMAGES", True)
        self.user_agent = settings.get("USER_AGENT")
        self.db: Any = None
        self.opened_at = datetime.now(UTC)
        self._warcs: dict[int, str] = {}  # listing row id -> the WARC proving it, this crawl
        self._pages: dict[str, str] = {}  # page URL -> the WARC captured of it, this crawl
        self._imaged: set[int] = set()
        self._image_tasks: dict[str, asyncio.Task[_Image]] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> IdentifierPipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        self.db = database_from_settings(self.crawler.settings)
        self.opened_at = datetime.now(UTC)

    def _fail(self, what: str, url: str, marketplace: str | None, exc: BaseException) -> None:
        self.crawler.stats.inc_value(f"reelguard/linking/{what}")
        logger.error(
            "%s for %s (%s): %s",
            what.replace("_", " "),
            url,
            marketplace,
            exc,
            exc_info=exc if not isinstance(exc, ImageRefused) else None,
        )
        event = getattr(self.crawler.spider, "event", None)
        if event is not None:
            kind = "image_failed" if what == "image_failed" else "linking_failed"
            event(kind, url, f"{type(exc).__name__}: {exc}"[:1000], marketplace)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, CrawledListing) or item.listing_db_id is None:
            return item
        listing = item.listing
        try:
            # The store pipeline knows it when the page named the seller: no query then.
            seller_id = item.seller_db_id or await asyncio.to_thread(
                self._seller_of, item.listing_db_id)
        except Exception as exc:  # noqa: BLE001 - recorded by _fail; the item always goes on
            self._fail("failed", listing.url, listing.marketplace, exc)
            return item
        if seller_id is None:
            return item
        try:
            await self._identifiers(item, seller_id)
        except Exception as exc:  # noqa: BLE001 - recorded by _fail; the item always goes on
            self._fail("failed", listing.url, listing.marketplace, exc)
        decision = (item.decision or {}).get("decision")
        if self.images and decision in CAPTURED_DECISIONS and listing.image_urls:
            try:
                await self._image(item, seller_id)
            except Exception as exc:  # noqa: BLE001 - recorded by _fail; the item goes on
                self._fail("image_failed", listing.image_urls[0], listing.marketplace, exc)
        return item

    def _seller_of(self, listing_id: int) -> int | None:
        with session_scope(self.db.sessions) as session:
            return idstore.seller_of_listing(session, listing_id)

    # -- contact identifiers ---------------------------------------------------------------
    async def _identifiers(self, item: CrawledListing, seller_id: int) -> None:
        listing = item.listing
        hits = await asyncio.to_thread(extract, listing.title, listing.description)
        if not hits:
            return
        self.crawler.stats.inc_value("reelguard/linking/identifiers", len(hits))
        await asyncio.to_thread(self._record_hits, item, seller_id, hits)

    def _record_hits(self, item: CrawledListing, seller_id: int, hits: list[Hit]) -> None:
        assert item.listing_db_id is not None
        listing_id = item.listing_db_id
        with session_scope(self.db.sessions) as session:
            proven = idstore.proven_values(session, seller_id)
            new = [h for h in hits if (h.kind, h.value) not in proven]
            page = item.response.url if item.response is not None else None
            # Cards of one search or shop page share that page's capture.
            sha = self._warcs.get(listing_id) or (self._pages.get(page) if page else None)
            if new and sha is None:
                sha = idstore.newest_capture(session, listing_id, since=self.opened_at)
                if sha is not None:
                    self.crawler.stats.inc_value("reelguard/linking/reused")
        if new and sha is None:
            sha = self._capture_warc(item)
        if sha is not None:
            self._warcs[listing_id] = sha
            if page is not None:
                self._pages.setdefault(page, sha)
        now = datetime.now(UTC)
        with session_scope(self.db.sessions) as session:
            for hit in hits:
                idstore.upsert_identifier(
                    session,
                    seller_id=seller_id,
                    kind=hit.kind,
                    value=hit.value,
                    seen_at=now,
                    shown=hit.shown,
                    listing_id=listing_id,
                    url=item.listing.url,
                    evidence_sha256=sha,
                )

    def _capture_warc(self, item: CrawledListing) -> str | None:
        response = item.response
        listing = item.listing
        if response is None:
            return None
        captured_at = datetime.now(UTC)
        capture_id = chain.new_capture_id()
        run_id = getattr(self.crawler.spider, "run_id", None)
        data = build_warc(
            response,
            captured_at=captured_at,
            marketplace=listing.marketplace,
            run_id=run_id,
            user_agent=self.user_agent,
            listing_key=listing.listing_id,
            capture_id=capture_id,
        )
        records = record_artefacts(
            self.db.sessions,
            self.store,
            [Artefact("warc", data, WARC_MEDIA_TYPE)],
            captured_at=captured_at,
            capture_id=capture_id,
            listing_id=item.listing_db_id,
            marketplace=listing.marketplace,
            listing_key=listing.listing_id,
            url=response.url,
            run_id=run_id,
            note=WARC_NOTE,
        )
        self.crawler.stats.inc_value("reelguard/linking/captured")
        return records[0].sha256

    # -- product images ----------------------------------------------------------------------
    async def _image(self, item: CrawledListing, seller_id: int) -> None:
        assert item.listing_db_id is not None
        if item.listing_db_id in self._imaged:
            return
        self._imaged.add(item.listing_db_id)
        url = item.listing.image_urls[0]
        task = self._image_tasks.get(url)
        if task is None:
            task = asyncio.ensure_future(self._fetch_image(url, item))
            self._image_tasks[url] = task
        image = await task
        now = datetime.now(UTC)

        def record() -> None:
            with session_scope(self.db.sessions) as session:
                idstore.upsert_identifier(
                    session,
                    seller_id=seller_id,
                    kind="image",
                    value=image.phash,
                    seen_at=now,
                    shown=url,
                    listing_id=item.listing_db_id,
                    url=item.listing.url,
                    evidence_sha256=image.sha256,
                )

        await asyncio.to_thread(record)

    async def _fetch_image(self, url: str, item: CrawledListing) -> _Image:
        listing = item.listing
        marketplace = listing.marketplace or ""
        request = Request(
            url,
            meta={
                "marketplace": marketplace,
                # The marketplace's slot: its politeness (delay, concurrency) covers images too.
                "download_slot": marketplace,
                "fetched_via": "http",
                "download_maxsize": MAX_IMAGE_BYTES,
                # Not a page of the crawl: the progress bar does not count it.
                "reelguard_side_fetch": True,
            },
            headers={"Referer": listing.url},
            dont_filter=True,
        )
        response = await self.crawler.engine.download_async(request)
        if response.status != 200:
            raise ImageFetchFailed(f"HTTP {response.status} for the image")
        data = response.body
        hashed = await asyncio.to_thread(image_phash, data)
        captured_at = datetime.now(UTC)

        def record() -> str:
            records = record_artefacts(
                self.db.sessions,
                self.store,
                [Artefact("image", data, hashed.media_type)],
                captured_at=captured_at,
                listing_id=item.listing_db_id,
                marketplace=listing.marketplace,
                listing_key=listing.listing_id,
                url=response.url,
                run_id=getattr(self.crawler.spider, "run_id", None),
                note=f"first product image of the listing, pHash {hashed.phash}",
            )
            return records[0].sha256

        sha = await asyncio.to_thread(record)
        self.crawler.stats.inc_value("reelguard/linking/images")
        return _Image(phash=hashed.phash, sha256=sha)
