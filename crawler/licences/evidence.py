"""Evidence of a shop page (where its licence block is, or is not): captured like a listing.

:func:`capture_shop_page` stores, hashed and content-addressed, and appends to the evidence chain
in one transaction (``crawler.evidence.capture``'s ``store_artefacts`` / ``append_stored``):

* ``warc``        the HTTP exchange of the shop page (request, response, metadata record);
* ``html``        the rendered HTML when a renderer is given or the page came from the browser,
                  else the body as received;
* ``screenshot``  a full-page PNG, when a renderer is given;
* ``fields``      what the page object read: the seller profile and licence block (JSON).

Entries have no listing (``listing_id`` None); the note names the seller and the page index, and
the finding points to the capture by the WARC's SHA-256.

Settings: none directly (see ``pipelines/licence.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from crawler.evidence import chain
from crawler.evidence.capture import (
    ARTEFACT_ORDER,
    Artefact,
    CaptureError,
    CaptureResult,
    Renderer,
    append_stored,
    store_artefacts,
)
from crawler.evidence.store import EvidenceStore
from crawler.evidence.warc import WARC_MEDIA_TYPE, build_warc
from crawler.items import SellerItem


def seller_fields(seller: SellerItem | None, page_index: int, url: str) -> bytes:
    data: dict[str, Any] = {"page_index": page_index, "url": url}
    if seller is not None:
        data["seller"] = dataclasses.asdict(seller)  # ``response`` is not a field
    return chain.canonical_json(data)


async def capture_shop_page(
    response: Any,
    *,
    marketplace: str | None,
    seller_key: str,
    page_index: int,
    seller: SellerItem | None,
    sessions: sessionmaker[Session],
    store: EvidenceStore,
    renderer: Renderer | None,
    run_id: int | None = None,
    user_agent: str | None = None,
) -> CaptureResult:
    """Capture the shop page ``response`` now; raise :class:`CaptureError`."""
    if response is None:
        raise CaptureError(f"no response to capture for shop {seller_key}", marketplace=marketplace)
    url = response.url
    captured_at = datetime.now(UTC)
    capture_id = chain.new_capture_id()
    via_browser = "playwright" in (getattr(response, "flags", None) or [])
    ctype = response.headers.get(b"Content-Type")
    media_type = ctype.decode("latin-1") if ctype else "text/html"
    render_task = None
    if renderer is not None:
        render_task = asyncio.ensure_future(renderer.render(url, want_html=not via_browser))
    try:
        artefacts = [
            Artefact(
                "warc",
                build_warc(
                    response,
                    captured_at=captured_at,
                    marketplace=marketplace,
                    run_id=run_id,
                    user_agent=user_agent,
                    capture_id=capture_id,
                    extra=[("Reelguard-Seller", seller_key), ("Reelguard-Page", str(page_index))],
                ),
                WARC_MEDIA_TYPE,
            ),
            Artefact("fields", seller_fields(seller, page_index, url), "application/json"),
        ]
        if via_browser or render_task is None:
            artefacts.append(Artefact("html", bytes(response.body), media_type))
        if render_task is not None:
            try:
                rendered = await render_task
            except Exception as exc:
                raise CaptureError(
                    f"rendering {url} for evidence failed: {exc}", url=url, marketplace=marketplace
                ) from exc
            if rendered.html is not None:
                artefacts.append(
                    Artefact("html", rendered.html.encode("utf-8"), "text/html; charset=utf-8")
                )
            artefacts.append(Artefact("screenshot", rendered.screenshot, "image/png"))
    finally:
        if render_task is not None and not render_task.done():
            render_task.cancel()
    order = {kind: i for i, kind in enumerate(ARTEFACT_ORDER)}
    artefacts.sort(key=lambda a: order.get(a.kind, len(order)))
    note = f"shop page {page_index + 1} of seller {seller_key} (licence block)"

    def write() -> list[Any]:
        stored = store_artefacts(store, artefacts)
        return append_stored(
            sessions,
            stored,
            captured_at=captured_at,
            capture_id=capture_id,
            marketplace=marketplace,
            url=url,
            run_id=run_id,
            note=note,
        )

    records = await asyncio.to_thread(write)
    return CaptureResult(capture_id, captured_at, records)
