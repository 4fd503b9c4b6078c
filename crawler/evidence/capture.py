"""Capture evidence: a crawled listing, or a saved page supplied by a person.

:func:`capture_listing` turns a :class:`~crawler.items.CrawledListing` (with the Scrapy
``response`` it came from, its match ``decision`` and ``listing_db_id``) into artefacts:

* ``warc``        the request/response/metadata WARC (``crawler.evidence.warc``)
* ``html``        the rendered HTML after JavaScript: the response body itself when the crawl
                  fetched the page with the browser (it *is* the rendered DOM), else
                  ``page.content()`` of a browser page that opened the URL
* ``screenshot``  a full-page PNG of that browser page (its top ``MAX_SCREENSHOT_HEIGHT``
                  pixels when it is taller)
* ``fields``      the listing's extracted fields, canonical JSON
* ``decision``    the matching decision and the members it concerns, canonical JSON

Each artefact is hashed (SHA-256) and stored content-addressed (``crawler.evidence.store``), and
all of a capture's entries are appended to the chain in one transaction with one UTC capture
time. :func:`capture_saved_page` records bytes a person saved (``reelguard ingest``, issue 6):
hashed exactly as received, kind ``saved_page``, with the person's note; no HTTP exchange.

Rendering uses a :class:`Renderer`: :class:`PooledRenderer` borrows a page from the crawl's
``PagePoolPlaywrightHandler`` (same browser, same pool); :class:`DedicatedRenderer` launches its
own chromium (``crawler.browser.launch``) when the crawl has no such handler or outside a crawl.

Settings: none directly (see ``pipelines/evidence.py``); ``REELGUARD_CHROMIUM_PATH``
for the dedicated browser.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from crawler.db.models_evidence import EvidenceRecord
from crawler.db.session import session_scope
from crawler.evidence import chain
from crawler.evidence.store import EvidenceStore, StoredArtefact
from crawler.evidence.warc import WARC_MEDIA_TYPE, build_warc
from crawler.items import CrawledListing

logger = logging.getLogger(__name__)

CAPTURED_DECISIONS = frozenset({"takedown", "review"})
# The order of one capture's entries in the chain.
ARTEFACT_ORDER = ("warc", "html", "screenshot", "fields", "decision", "saved_page")
RENDER_TIMEOUT_MS = 20_000
MAX_SCREENSHOT_HEIGHT = 12_000  # pixels: taller pages are captured from the top down to this
SAVED_PAGE_NOTE_PREFIX = "supplied by a person"


class CaptureError(Exception):
    """A capture that could not be completed (kept with its URL and marketplace)."""

    def __init__(self, message: str, *, url: str | None = None,
                 marketplace: str | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.marketplace = marketplace


@dataclass
class Artefact:
    kind: str
    data: bytes
    media_type: str


@dataclass
class Rendered:
    html: str | None
    screenshot: bytes


@dataclass
class CaptureResult:
    capture_id: str
    captured_at: datetime
    records: list[EvidenceRecord]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def sha256_of(self, kind: str) -> str | None:
        return next((r.sha256 for r in self.records if r.kind == kind), None)


class Renderer(Protocol):
    async def render(self, url: str, *, want_html: bool = True) -> Rendered: ...

    async def close(self) -> None: ...


async def _render_on(page: Any, url: str, want_html: bool) -> Rendered:
    await page.goto(url, wait_until="load", timeout=RENDER_TIMEOUT_MS)
    shot = page.screenshot(full_page=True, type="png", timeout=RENDER_TIMEOUT_MS,
                           clip=await _tall_page_clip(page))
    if want_html:
        html, png = await asyncio.gather(page.content(), shot)
        return Rendered(html=html, screenshot=png)
    return Rendered(html=None, screenshot=await shot)


async def _tall_page_clip(page: Any) -> dict[str, float] | None:
    """The top ``MAX_SCREENSHOT_HEIGHT`` pixels of a page taller than that, else ``None``.

    Chromium cannot capture a page hundreds of thousands of pixels tall (a listing padded with a
    megabyte of text): it fails after the timeout and the listing would have no screenshot.
    The top of the page is what shows the listing; the HTML artefact keeps all of it.
    """
    height = await page.evaluate(
        "Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)")
    if not isinstance(height, int | float) or height <= MAX_SCREENSHOT_HEIGHT:
        return None
    width = await page.evaluate("document.documentElement.scrollWidth")
    logger.info("screenshot of %s cut at %d of %d pixels", page.url, MAX_SCREENSHOT_HEIGHT, height)
    return {"x": 0, "y": 0, "width": max(1, min(float(width or 1280), 4096.0)),
            "height": float(MAX_SCREENSHOT_HEIGHT)}


class PooledRenderer:
    """Render on a page borrowed from the crawl's :class:`PagePoolPlaywrightHandler`."""

    def __init__(self, handler: Any, spider: Any) -> None:
        self.handler = handler
        self.spider = spider

    async def render(self, url: str, *, want_html: bool = True) -> Rendered:
        from scrapy import Request

        await self.handler._ensure_launched()
        # The crawl's own context: PLAYWRIGHT_MAX_CONTEXTS would make a second one wait.
        request = Request(url, meta={"playwright": True, "playwright_context": "default"})
        page = await self.handler._acquire(request, self.spider)
        ok = False
        try:
            rendered = await _render_on(page, url, want_html)
            ok = True
            return rendered
        finally:
            await self.handler._release(request, page, reusable=ok)

    async def close(self) -> None:
        return None  # the handler owns its browser


class DedicatedRenderer:
    """A chromium of its own (Debian's, by path) with a small pool of pages."""

    def __init__(self, max_pages: int = 4, user_agent: str | None = None,
                 launch: dict[str, Any] | None = None) -> None:
        self.max_pages = max_pages
        self.user_agent = user_agent
        self.launch = launch
        self._pw: Any = None
        self._browser: Any = None
        self._context: Any = None
        self._idle: list[Any] = []
        self._slots = asyncio.Semaphore(max_pages)
        self._lock = asyncio.Lock()

    async def _start(self) -> None:
        async with self._lock:
            if self._context is not None:
                return
            from playwright.async_api import async_playwright

            from crawler.browser.launch import launch_options

            self._pw = await async_playwright().start()
            self._browser = await self._pw.chromium.launch(**(self.launch or launch_options()))
            kwargs = {"user_agent": self.user_agent} if self.user_agent else {}
            self._context = await self._browser.new_context(**kwargs)

    async def render(self, url: str, *, want_html: bool = True) -> Rendered:
        await self._start()
        async with self._slots:
            page = self._idle.pop() if self._idle else await self._context.new_page()
            ok = False
            try:
                rendered = await _render_on(page, url, want_html)
                ok = True
                return rendered
            finally:
                if ok and not page.is_closed():
                    self._idle.append(page)
                else:
                    try:
                        await page.close()
                    except Exception:
                        logger.debug("closing a failed evidence page", exc_info=True)

    async def close(self) -> None:
        self._idle.clear()
        if self._browser is not None:
            await self._browser.close()
        if self._pw is not None:
            await self._pw.stop()
        self._pw = self._browser = self._context = None


def renderer_for_crawler(crawler: Any) -> Renderer:
    """The crawl's page pool when its http(s) handler has one, else a dedicated browser."""
    from crawler.browser.handler import PagePoolPlaywrightHandler

    handlers = getattr(getattr(getattr(crawler, "engine", None), "downloader", None),
                       "handlers", None)
    for scheme in ("http", "https"):
        handler = None
        if handlers is not None:
            try:
                # Scrapy 2.19 loads download handlers lazily, per scheme, on first use.
                handler = handlers._get_handler(scheme)
            except Exception:  # noqa: BLE001 - no handler for this scheme: try the next
                handler = None
        if isinstance(handler, PagePoolPlaywrightHandler):
            return PooledRenderer(handler, crawler.spider)
    return DedicatedRenderer(
        max_pages=crawler.settings.getint("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT", 4),
        user_agent=crawler.settings.get("USER_AGENT"),
        launch=crawler.settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS") or None,
    )


_SHARED = "_reelguard_renderer"  # crawler attribute: [renderer, users]


def acquire_renderer(crawler: Any) -> Renderer:
    """The crawl's one renderer, shared by every pipeline that captures pages.

    Chosen at first use (download handlers are loaded on first use); each caller gives it back
    with :func:`release_renderer`, and the last one closes it, so a crawl without a page pool
    launches one dedicated browser however many pipelines capture evidence.
    """
    shared = getattr(crawler, _SHARED, None)
    if shared is None:
        shared = [renderer_for_crawler(crawler), 0]
        setattr(crawler, _SHARED, shared)
    shared[1] += 1
    return shared[0]  # type: ignore[no-any-return]


async def release_renderer(crawler: Any) -> None:
    """Give back a renderer from :func:`acquire_renderer`; the last user closes it."""
    shared = getattr(crawler, _SHARED, None)
    if shared is None:
        return
    shared[1] -= 1
    if shared[1] <= 0:
        delattr(crawler, _SHARED)
        await shared[0].close()


def listing_fields(crawled: CrawledListing) -> bytes:
    return chain.canonical_json(dataclasses.asdict(crawled.listing))


def decision_json(crawled: CrawledListing) -> bytes:
    return chain.canonical_json({"decision": crawled.decision, "members": list(crawled.members)})


def _media_type_of(response: Any) -> str:
    ctype = response.headers.get(b"Content-Type") if response is not None else None
    return ctype.decode("latin-1") if ctype else "text/html"


def store_artefacts(store: EvidenceStore, artefacts: list[Artefact]) -> list[StoredPair]:
    """Hash and store ``artefacts`` (write-once); return each with where it went."""
    return [(artefact, store.put(artefact.data)) for artefact in artefacts]


StoredPair = tuple[Artefact, StoredArtefact]


def append_stored(
    sessions: sessionmaker[Session],
    stored: list[StoredPair],
    *,
    captured_at: datetime,
    capture_id: str,
    listing_id: int | None = None,
    marketplace: str | None = None,
    listing_key: str | None = None,
    url: str | None = None,
    run_id: int | None = None,
    note: str | None = None,
) -> list[EvidenceRecord]:
    """Append already stored artefacts to the chain, in one transaction."""
    entries = [
        chain.NewEntry(
            kind=artefact.kind, sha256=where.sha256, size=where.size,
            media_type=artefact.media_type, captured_at=captured_at, capture_id=capture_id,
            listing_id=listing_id, marketplace=marketplace, listing_key=listing_key, url=url,
            run_id=run_id, note=note,
        )
        for artefact, where in stored
    ]
    with session_scope(sessions) as session:
        return chain.append(session, entries)


def record_artefacts(
    sessions: sessionmaker[Session],
    store: EvidenceStore,
    artefacts: list[Artefact],
    *,
    captured_at: datetime,
    capture_id: str | None = None,
    **entry: Any,
) -> list[EvidenceRecord]:
    """Store ``artefacts`` (hashed as given) and append them to the chain in one transaction.

    ``entry``: ``listing_id``, ``marketplace``, ``listing_key``, ``url``, ``run_id``, ``note``.
    """
    stored = store_artefacts(store, artefacts)
    return append_stored(sessions, stored, captured_at=captured_at,
                         capture_id=capture_id or chain.new_capture_id(), **entry)


async def capture_listing(
    crawled: CrawledListing,
    *,
    sessions: sessionmaker[Session],
    store: EvidenceStore,
    renderer: Renderer | None,
    run_id: int | None = None,
    user_agent: str | None = None,
    note: str | None = None,
    html_as_received: bool = False,
) -> CaptureResult:
    """Capture ``crawled`` now (see the module docstring); raise :class:`CaptureError`.

    ``html_as_received``: with no renderer, still keep an ``html`` artefact, the response body
    as received (an HTTP fetch has no rendered DOM to offer; the bytes are in the WARC too, but
    a reader wants the page on its own). Investigations capture every page this way.
    """
    listing = crawled.listing
    response = crawled.response
    url = response.url if response is not None else listing.url
    if response is None:
        raise CaptureError("no response to capture (the spider did not attach it)",
                           url=url, marketplace=listing.marketplace)
    captured_at = datetime.now(UTC)
    capture_id = chain.new_capture_id()
    timings: dict[str, float] = {}
    start = time.perf_counter()

    via_browser = "playwright" in (getattr(response, "flags", None) or [])
    render_task = None
    if renderer is not None:
        render_task = asyncio.ensure_future(renderer.render(url, want_html=not via_browser))
    try:
        # What needs no browser is built and stored while the browser renders.
        first = [
            Artefact("warc", build_warc(
                response, captured_at=captured_at, marketplace=listing.marketplace,
                run_id=run_id, user_agent=user_agent, listing_key=listing.listing_id,
                capture_id=capture_id,
            ), WARC_MEDIA_TYPE),
            Artefact("fields", listing_fields(crawled), "application/json"),
            Artefact("decision", decision_json(crawled), "application/json"),
        ]
        if via_browser or (html_as_received and renderer is None):
            first.insert(1, Artefact("html", response.body, _media_type_of(response)))
        stored = await asyncio.to_thread(store_artefacts, store, first)
        timings["store_first"] = (time.perf_counter() - start) * 1000
        later: list[Artefact] = []
        if render_task is not None:
            try:
                rendered = await render_task
            except Exception as exc:
                raise CaptureError(f"rendering {url} for evidence failed: {exc}", url=url,
                                   marketplace=listing.marketplace) from exc
            timings["render"] = (time.perf_counter() - start) * 1000
            if rendered.html is not None:
                later.append(Artefact("html", rendered.html.encode("utf-8"),
                                      "text/html; charset=utf-8"))
            later.append(Artefact("screenshot", rendered.screenshot, "image/png"))
    finally:
        if render_task is not None and not render_task.done():
            render_task.cancel()
    t_write = time.perf_counter()

    def finish() -> list[EvidenceRecord]:
        done = stored + store_artefacts(store, later)
        order = {kind: i for i, kind in enumerate(ARTEFACT_ORDER)}
        done.sort(key=lambda pair: order.get(pair[0].kind, len(order)))
        return append_stored(
            sessions, done, captured_at=captured_at, capture_id=capture_id,
            listing_id=crawled.listing_db_id, marketplace=listing.marketplace,
            listing_key=listing.listing_id, url=url, run_id=run_id, note=note,
        )

    records = await asyncio.to_thread(finish)
    timings["write"] = (time.perf_counter() - t_write) * 1000
    timings["total"] = (time.perf_counter() - start) * 1000
    return CaptureResult(capture_id, captured_at, records, timings)


def capture_saved_page(
    data: bytes,
    url: str,
    note: str,
    *,
    sessions: sessionmaker[Session],
    store: EvidenceStore,
    media_type: str = "text/html",
    listing_id: int | None = None,
    marketplace: str | None = None,
    listing_key: str | None = None,
    supplied_by: str | None = None,
    received_at: datetime | None = None,
) -> CaptureResult:
    """Record a page a person saved: ``data`` hashed exactly as received, kind ``saved_page``.

    There is no HTTP exchange and no rendering; the entry's note starts with "supplied by a
    person" so nobody mistakes it for a crawl capture.
    """
    if not note or not note.strip():
        raise ValueError("a person-supplied page needs a note (who supplied it, and how)")
    who = f" ({supplied_by})" if supplied_by else ""
    full_note = f"{SAVED_PAGE_NOTE_PREFIX}{who}: {note.strip()}"
    captured_at = (received_at or datetime.now(UTC)).astimezone(UTC)
    capture_id = chain.new_capture_id()
    records = record_artefacts(
        sessions, store, [Artefact("saved_page", data, media_type)], captured_at=captured_at,
        capture_id=capture_id, listing_id=listing_id, marketplace=marketplace,
        listing_key=listing_key, url=url, note=full_note,
    )
    return CaptureResult(capture_id, captured_at, records)
