"""File prepared notice batches with each marketplace's IP-complaint intake, exactly once.

For each batch this worker claims (``queue.claim_batches``) the row is marked ``submitting`` and
**committed before** the POST; the POST carries ``Idempotency-Key: <the batch's key>`` and the
stored payload bytes; the answer's complaint id is written with the batch ``submitted`` and its
requests ``approved -> submitted`` in one transaction. A crash between the POST and that commit
leaves the batch ``submitting``: the next run (after the lease, ``lease_s``) re-POSTs the same
key and the intake answers the complaint it already opened, so nothing is filed twice and
nothing is lost. Transient failures (connection errors, 429, 5xx) are retried with exponential
backoff, honouring ``Retry-After`` (capped); a 4xx refusal marks the batch ``failed`` with the
intake's message (``--retry-failed`` puts failed batches back).

Intake URL: ``<marketplace base URL>/ip/complaints``; base URLs come from ``--url``, else
``REELGUARD_MARKETPLACE_URLS``, else the ``marketplaces.base_url`` the crawls stored.

Settings: ``REELGUARD_MARKETPLACE_URLS`` (environment).
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from crawler.config import parse_marketplace_urls
from crawler.db.models import Marketplace, utcnow
from crawler.db.models_takedown import NoticeBatch, TakedownRequest
from crawler.db.session import session_scope
from crawler.takedown.config import TakedownConfig
from crawler.takedown.notices import PrepareResult, canonical_json, prepare_batches
from crawler.takedown.queue import claim_batches
from crawler.takedown.states import TakedownError, transition

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 30.0


class IntakeRefused(TakedownError):
    """The intake refused the notice for good (4xx): fix it, do not retry as is."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class IntakeUnavailable(TakedownError):
    """The intake could not be reached or kept failing after every retry."""

    exit_code = 5


def marketplace_urls(session: Session, explicit: dict[str, str] | None = None) -> dict[str, str]:
    """Base URL per marketplace: stored by the crawls < ``$REELGUARD_MARKETPLACE_URLS`` < explicit."""
    urls = {name: url.rstrip("/") for name, url in session.execute(
        select(Marketplace.name, Marketplace.base_url).where(Marketplace.base_url.is_not(None))
    ).all() if url}
    urls.update(parse_marketplace_urls(os.environ.get("REELGUARD_MARKETPLACE_URLS")))
    urls.update(explicit or {})
    return urls


def _retry_after(headers: Any, default: float) -> float:
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(raw))) if raw is not None else default
    except ValueError:
        return default


def post_notice(
    url: str,
    body: bytes,
    key: str,
    *,
    attempts: int = 5,
    backoff: float = 0.5,
    timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[dict[str, Any], int]:
    """POST ``body`` to ``url`` with the idempotency key; ``(JSON answer, tries used)``."""
    last = ""
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            url, data=body, method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": key,
                     "User-Agent": "Reelguard-takedown/1"},
        )
        delay = backoff * 2 ** (attempt - 1)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read().decode("utf-8")), attempt
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")[:500]
            if exc.code not in RETRY_STATUSES:
                raise IntakeRefused(exc.code, text) from exc
            last = f"HTTP {exc.code}: {text}"
            delay = _retry_after(exc.headers, delay)
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        if attempt < attempts:
            logger.info("intake %s: %s; retry %d in %.1fs", url, last, attempt, delay)
            sleep(delay)
    raise IntakeUnavailable(f"{url}: {last} (after {attempts} tries)")


@dataclass
class SubmitResult:
    prepared: PrepareResult = field(default_factory=PrepareResult)
    filed: list[tuple[int, str, int]] = field(default_factory=list)  # batch, complaint, listings
    failed: list[tuple[int, str]] = field(default_factory=list)
    posts: int = 0
    seconds: float = 0.0


def submit(
    sessions: sessionmaker[Session],
    config: TakedownConfig,
    *,
    urls: dict[str, str] | None = None,
    worker: str = "submit",
    member: str | None = None,
    marketplace: str | None = None,
    allow_without_evidence: bool = False,
    lease_s: float = 120.0,
    attempts: int = 5,
    backoff: float = 0.5,
    timeout: float = 30.0,
    retry_failed: bool = False,
    after_post: Callable[[int, dict[str, Any]], None] | None = None,
) -> SubmitResult:
    """Prepare batches from approved requests, then file every batch this worker can claim.

    ``after_post(batch_id, answer)`` runs between the POST and the commit that records it
    (fault-injection tests raise there to simulate a crash).
    """
    started = time.monotonic()
    result = SubmitResult()
    with session_scope(sessions) as session:
        if retry_failed:
            session.execute(update(NoticeBatch).where(NoticeBatch.state == "failed")
                            .values(state="prepared", claimed_by=None, claimed_at=None))
        result.prepared = prepare_batches(
            session, config, worker, member=member, marketplace=marketplace,
            allow_without_evidence=allow_without_evidence,
        )
        base_urls = marketplace_urls(session, urls)
    tried: set[int] = set()
    while True:
        with session_scope(sessions) as session:
            ids = [i for i in claim_batches(session, worker, member=member,
                                            marketplace=marketplace, limit=1, lease_s=lease_s)
                   if i not in tried]
            if not ids:
                break
            batch = session.get(NoticeBatch, ids[0])
            assert batch is not None
            batch_id, key, market = batch.id, batch.idempotency_key, batch.marketplace
            body = canonical_json(batch.payload)
        # The "submitting" mark is committed: from here a crash is recoverable by key.
        tried.add(batch_id)
        base = base_urls.get(market)
        try:
            if base is None:
                raise IntakeUnavailable(
                    f"no base URL for marketplace {market!r}: pass --url {market}=URL")
            answer, tries = post_notice(f"{base}/ip/complaints", body, key, attempts=attempts,
                                        backoff=backoff, timeout=timeout)
            result.posts += tries
        except (IntakeRefused, IntakeUnavailable) as exc:
            with session_scope(sessions) as session:
                values: dict[str, Any] = {"last_error": str(exc), "claimed_by": None,
                                          "claimed_at": None}
                if isinstance(exc, IntakeRefused):
                    values["state"] = "failed"
                session.execute(update(NoticeBatch).where(NoticeBatch.id == batch_id)
                                .values(values))
            result.failed.append((batch_id, str(exc)))
            continue
        if after_post is not None:
            after_post(batch_id, answer)
        complaint = str(answer["complaint_id"])
        with session_scope(sessions) as session:
            record_filed(session, batch_id, complaint, worker)
        result.filed.append((batch_id, complaint, int(answer.get("received", 0))))
    result.seconds = time.monotonic() - started
    return result


def record_filed(session: Session, batch_id: int, complaint_id: str, worker: str) -> None:
    """The batch is filed as ``complaint_id``: batch ``submitted``, its requests ``submitted``."""
    now = utcnow()
    batch = session.get(NoticeBatch, batch_id)
    assert batch is not None
    batch.state = "submitted"
    batch.complaint_id = complaint_id
    batch.submitted_at = batch.submitted_at or now
    batch.claimed_by = batch.claimed_at = None
    batch.last_error = None
    session.flush()
    request_ids = session.execute(
        select(TakedownRequest.id).where(TakedownRequest.notice_batch_id == batch_id,
                                         TakedownRequest.state == "approved")
    ).scalars().all()
    for request_id in request_ids:
        transition(session, request_id, "submitted", f"system:submit:{worker}",
                   f"filed with {batch.marketplace} as complaint {complaint_id}",
                   expect="approved",
                   values={"complaint_id": complaint_id, "submitted_at": batch.submitted_at},
                   at=now)
