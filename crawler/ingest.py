"""``reelguard ingest FILE.html…``: pages a person saved, run through matching, evidence and the queue.

Each file is read as bytes and parsed like ``reelguard parse`` (``crawler.pages.detect``), and a
given marketplace may be any ``parse`` accepts (``crawler.pages.PARSE_MARKETPLACES``: the crawl
targets, parse-only ones such as Rakuten, and ``generic``). A
block page or a page whose layout is not recognised is reported (and recorded as a crawl event
of the run) but nothing of it is stored. Otherwise every listing it holds is stored as a crawl
would store it (``page_kind`` ``"card"`` for search and shop pages, ``"item"`` for an item page),
decided by the engine built from the stored catalogue (``pipelines.match.decide_listing``; with
no catalogue stored, listings are stored unmatched and the result says so once), given one
``matches`` row per member it concerns, and a takedown request per member for ``takedown`` and
``review`` decisions (``enqueue_from_match``: idempotent, so ingesting a file again adds
nothing). The saved bytes are the evidence: each file is captured once, hashed as received,
kind ``saved_page``, note "supplied by a person: <file name>", linked to the first listing of
the file decided ``takedown``/``review`` (else to no listing).

All files share one crawl run, job ``ingest``.

Settings: ``REELGUARD_DATABASE_URL`` (or ``db_url``), ``REELGUARD_EVIDENCE_DIR``,
``REELGUARD_MATCHING_CONFIG``, ``REELGUARD_TAKEDOWN_CONFIG`` (environment).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.exceptions import ConfigError

NOT_EXTRACTED = ("blocked", "unknown")


@dataclass
class FileResult:
    """What one saved file gave."""

    path: str
    marketplace: str | None
    kind: str
    message: str | None = None
    items: int = 0
    listings_created: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    requests_opened: int = 0
    requests_kept: int = 0
    evidence_sha256: str | None = None

    @property
    def extracted(self) -> bool:
        return self.kind not in NOT_EXTRACTED

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "marketplace": self.marketplace, "kind": self.kind,
            "message": self.message, "items": self.items,
            "listings_created": self.listings_created, "decisions": dict(self.decisions),
            "requests_opened": self.requests_opened, "requests_kept": self.requests_kept,
            "evidence_sha256": self.evidence_sha256,
        }


@dataclass
class IngestResult:
    run_id: int
    database: str
    files: list[FileResult] = field(default_factory=list)
    matching_off: bool = False

    @property
    def all_failed(self) -> bool:
        """Every file was a block page or not recognised (nothing extracted)."""
        return bool(self.files) and not any(f.extracted for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "database": self.database,
            "matching": "off" if self.matching_off else "on",
            "files": [f.as_dict() for f in self.files],
        }


def _listing(item: dict[str, Any], marketplace: str, kind: str) -> Any:
    from crawler.items import ListingItem
    from crawler.normalize.fields import clean, normalize_title

    title = clean(item.get("title")) or ""
    seller = clean(item.get("seller"))
    return ListingItem(
        listing_id=str(item["listing_id"]),
        url=item.get("url") or "",
        title=title,
        seller_id=seller,
        seller_name=seller,
        marketplace=marketplace,
        source="ingest",
        page_kind="item" if kind == "item" else "card",
        price=item.get("price"),
        currency=item.get("currency"),
        title_norm=normalize_title(title) if title else None,
    )


def ingest_files(
    paths: Iterable[str | os.PathLike[str]],
    *,
    url: str | None = None,
    marketplace: str | None = None,
    db_url: str | None = None,
    supplied_by: str | None = None,
) -> IngestResult:
    """Ingest the saved pages ``paths`` (see the module docstring)."""
    from crawler.db import repo
    from crawler.db.session import session_scope
    from crawler.evidence.capture import capture_saved_page
    from crawler.evidence.store import EvidenceStore
    from crawler.matching.engine import ListingError
    from crawler.matching.store import engine_from_database, upsert_match
    from crawler.pages import PARSE_MARKETPLACES
    from crawler.pages.detect import analyse_saved_page
    from crawler.storage import open_database
    from crawler.takedown.config import TakedownConfig
    from crawler.takedown.queue import QUEUE_DECISIONS, enqueue_from_match
    from pipelines.match import decide_listing

    # The pages a person saves are read like `reelguard parse` reads them, so the same names are
    # accepted: the crawl targets, the parse-only marketplaces (Rakuten) and "generic".
    if marketplace is not None and marketplace not in PARSE_MARKETPLACES:
        raise ConfigError(f"unknown marketplace {marketplace!r}; known: {', '.join(PARSE_MARKETPLACES)}")
    files = [Path(p) for p in paths]
    if not files:
        raise ConfigError("no file to ingest")
    bodies: list[bytes] = []
    for path in files:
        try:
            bodies.append(path.read_bytes())
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc

    database = open_database(db_url)
    store = EvidenceStore(None)
    takedown_config = TakedownConfig.load(None)
    with session_scope(database.sessions) as session:
        engine, member_of = engine_from_database(
            session, os.environ.get("REELGUARD_MATCHING_CONFIG"))
        run_id = repo.start_run(
            session, "ingest", marketplace or "detected",
            {"files": [str(p) for p in files], "url": url, "marketplace": marketplace},
        )
    result = IngestResult(run_id=run_id, database=database.url, matching_off=engine is None)
    listings_total = 0
    blocked_total = 0
    status = "failed"
    try:
        for path, body in zip(files, bodies, strict=True):
            outcome = analyse_saved_page(body, url=url, marketplace=marketplace)
            fr = FileResult(str(path), outcome.marketplace, outcome.kind, outcome.message,
                            items=len(outcome.items))
            result.files.append(fr)
            if not fr.extracted:
                blocked_total += outcome.kind == "blocked"
                with session_scope(database.sessions) as session:
                    repo.record_event(session, run_id, outcome.kind, outcome.url or str(path),
                                      f"{path.name}: {outcome.message or 'nothing extracted'}",
                                      outcome.marketplace)
                continue
            market = outcome.marketplace or "unknown"
            evidence_listing: int | None = None
            evidence_key: str | None = None
            now = dt.datetime.now(dt.UTC)
            with session_scope(database.sessions) as session:
                market_id = repo.ensure_marketplace(session, market)
                for raw in outcome.items:
                    listing = _listing(raw, market, outcome.kind)
                    if not listing.listing_id or not listing.title:
                        continue
                    seller_db_id = None
                    if listing.seller_id:
                        from crawler.items import SellerItem

                        seller_db_id = repo.upsert_seller(
                            session, market_id,
                            SellerItem(seller_id=listing.seller_id, name=listing.seller_name,
                                       marketplace=market),
                            run_id, now)
                    listing_db_id, created = repo.upsert_listing(
                        session, market_id, listing, seller_db_id, run_id, now)
                    repo.record_observation(session, listing_db_id, run_id, listing, now)
                    listings_total += 1
                    fr.listings_created += created
                    if engine is None:
                        continue
                    try:
                        decision = decide_listing(engine, member_of, listing)
                    except ListingError:
                        fr.decisions["skipped"] = fr.decisions.get("skipped", 0) + 1
                        continue
                    kind = decision["decision"]
                    fr.decisions[kind] = fr.decisions.get(kind, 0) + 1
                    members = sorted(decision["member_catalog_ids"])
                    for member in members:
                        upsert_match(session, listing_db_id, member, decision, run_id, now)
                    if kind in QUEUE_DECISIONS:
                        if evidence_listing is None:
                            evidence_listing, evidence_key = listing_db_id, listing.listing_id
                        for member in members:
                            queued = enqueue_from_match(session, listing_db_id, member, decision,
                                                        config=takedown_config)
                            if queued.created:
                                fr.requests_opened += 1
                            elif queued.request_id is not None:
                                fr.requests_kept += 1
            captured = capture_saved_page(
                body, outcome.url or path.resolve().as_uri(), path.name,
                sessions=database.sessions, store=store,
                media_type=f"text/html; charset={outcome.encoding}" if outcome.encoding
                else "text/html",
                listing_id=evidence_listing, marketplace=market, listing_key=evidence_key,
                supplied_by=supplied_by,
            )
            fr.evidence_sha256 = captured.records[0].sha256 if captured.records else None
        status = "finished"
    finally:
        with session_scope(database.sessions) as session:
            repo.finish_run(
                session, run_id, status, "finished" if status == "finished" else "error",
                {"files": len(result.files)}, pages=len(result.files), listings=listings_total,
                blocked=blocked_total, errors=sum(1 for f in result.files if f.kind == "unknown"),
            )
    return result
