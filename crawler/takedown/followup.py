"""Follow up filed notices: the platform's decisions, removals (time to removal), relistings.

1. **Poll** every submitted complaint (``GET <base>/ip/complaints/<id>``): an accepted listing's
   request becomes ``acknowledged``, a rejected one ``rejected`` (actor ``platform:<name>``,
   the platform's reason kept in ``platform_reason``).
2. **Re-crawl** the listing pages of submitted/acknowledged requests, and of removed ones (to
   notice a return), with ``reelguard crawl listing --urls …`` in a child process (Twisted's
   reactor runs once per process). The listing spider reads each page through the
   marketplace's page classifier (``crawler.pages.get_pages(m).classify``): only a page it
   calls ``removed`` (or a 404) marks the listing removed; a captcha, login wall or rate-limit
   page is a block, retried and never read as "removed".
3. **Removals**: a request whose listing is now ``removed`` becomes ``removed`` with
   ``removed_at`` and ``time_to_removal_s`` (from the notice's submission).
4. **Relistings**: a removed request whose listing is active again, or an active listing of the
   same seller with the same normalised title, opens a fresh request citing the old one (which
   becomes ``relisted``); see ``queue.enqueue_from_match``.

Settings: ``REELGUARD_MARKETPLACE_URLS``, ``REELGUARD_ALLOWED_PRIVATE_HOSTS`` (environment,
passed to the crawl), ``REELGUARD_TAKEDOWN_CONFIG``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crawler.db.models import Listing, utcnow
from crawler.db.models_takedown import NoticeBatch, TakedownRequest
from crawler.db.session import session_scope
from crawler.takedown.config import TakedownConfig
from crawler.takedown.queue import enqueue_from_match, open_request
from crawler.takedown.states import ConcurrentTransition, transition
from crawler.takedown.submit import marketplace_urls

FOLLOWED = ("submitted", "acknowledged")


@dataclass
class FollowupResult:
    accepted: int = 0
    rejected: int = 0
    pending: int = 0
    rechecked: int = 0
    removed: int = 0
    still_up: int = 0
    relisted: int = 0
    crawl_status: str = "not run"
    crawl_exit: int | None = None
    poll_errors: list[str] = field(default_factory=list)
    removal_times: list[float] = field(default_factory=list)


def _get_json(url: str, timeout: float) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"User-Agent": "Reelguard-takedown/1"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


def poll_complaints(
    sessions: sessionmaker[Session], urls: dict[str, str], result: FollowupResult,
    timeout: float = 30.0,
) -> None:
    with session_scope(sessions) as session:
        batches = [(b.id, b.marketplace, b.complaint_id) for b in session.execute(
            select(NoticeBatch).where(NoticeBatch.state == "submitted",
                                      NoticeBatch.complaint_id.is_not(None))
            .order_by(NoticeBatch.id)).scalars()]
    for batch_id, market, complaint in batches:
        base = urls.get(market)
        if base is None:
            result.poll_errors.append(f"{market}: no base URL")
            continue
        try:
            status = _get_json(f"{base}/ip/complaints/{quote(str(complaint), safe='')}", timeout)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            result.poll_errors.append(f"{market} complaint {complaint}: {exc}")
            continue
        decided = {str(x["listing_id"]): x for x in status.get("listings", [])}
        with session_scope(sessions) as session:
            rows = session.execute(
                select(TakedownRequest.id, TakedownRequest.state, Listing.listing_key)
                .join(Listing, Listing.id == TakedownRequest.listing_id)
                .where(TakedownRequest.notice_batch_id == batch_id,
                       TakedownRequest.state.in_(FOLLOWED))
            ).all()
            for request_id, state, key in rows:
                entry = decided.get(str(key))
                verdict = (entry or {}).get("status", "pending")
                reason = (entry or {}).get("reason")
                actor = f"platform:{market}"
                try:
                    if verdict == "accepted":
                        result.accepted += 1
                        if state == "submitted":
                            transition(session, request_id, "acknowledged", actor,
                                       f"accepted: {reason}", expect=state,
                                       values={"platform_status": "accepted",
                                               "platform_reason": reason})
                    elif verdict == "rejected":
                        result.rejected += 1
                        transition(session, request_id, "rejected", actor,
                                   f"rejected by the platform: {reason}", expect=state,
                                   values={"platform_status": "rejected",
                                           "platform_reason": reason})
                    else:
                        result.pending += 1
                except ConcurrentTransition:
                    continue


def recrawl(
    listing_urls: Sequence[str], urls: dict[str, str], database_url: str, *,
    sets: Sequence[str] = (), timeout: float = 600.0, env: dict[str, str] | None = None,
) -> tuple[int, str]:
    """``reelguard crawl listing --urls …`` in a child process; ``(exit code, last lines)``."""
    markets = sorted({m for m, base in urls.items()
                      if any(u.startswith(base + "/") for u in listing_urls)})
    args = [sys.executable, "-m", "crawler.cli", "crawl", "listing", "--db", database_url,
            "--marketplace", ",".join(markets) or "all", "--urls", ",".join(listing_urls)]
    for name in markets:
        args += ["--url", f"{name}={urls[name]}"]
    for s in sets:
        args += ["--set", s]
    child_env = {**os.environ, **(env or {})}
    child_env.setdefault("REELGUARD_ALLOWED_PRIVATE_HOSTS", "")
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=child_env,
                          check=False)
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
    return proc.returncode, tail


def apply_removals(session: Session, result: FollowupResult) -> None:
    now = utcnow()
    rows = session.execute(
        select(TakedownRequest.id, TakedownRequest.state, TakedownRequest.submitted_at,
               Listing.status, Listing.removed_at)
        .join(Listing, Listing.id == TakedownRequest.listing_id)
        .where(TakedownRequest.state.in_(FOLLOWED))
    ).all()
    for request_id, state, submitted_at, status, listing_removed_at in rows:
        if status != "removed":
            result.still_up += 1
            continue
        removed_at = listing_removed_at or now
        ttr = max(0.0, (removed_at - submitted_at).total_seconds()) if submitted_at else None
        try:
            transition(session, request_id, "removed", "system:followup",
                       "listing page shows the listing removed", expect=state,
                       values={"removed_at": removed_at, "time_to_removal_s": ttr})
        except ConcurrentTransition:
            continue
        result.removed += 1
        if ttr is not None:
            result.removal_times.append(ttr)


def detect_relistings(session: Session, config: TakedownConfig, result: FollowupResult) -> None:
    """Open a fresh request (citing the removed one) for every listing that came back."""
    removed = session.execute(
        select(TakedownRequest, Listing)
        .join(Listing, Listing.id == TakedownRequest.listing_id)
        .where(TakedownRequest.state == "removed")
    ).all()
    for req, listing in removed:
        decision = {"decision": req.decision, "score": req.score,
                    "member_catalog_ids": {req.member: list(req.catalog_ids or [])}}
        since = req.removed_at
        candidates: list[int] = []
        if listing.status == "active" and (since is None or listing.last_seen > since):
            candidates.append(listing.id)
        if listing.seller_id is not None and listing.title_norm:
            candidates += session.execute(
                select(Listing.id).where(
                    Listing.id != listing.id,
                    Listing.marketplace_id == listing.marketplace_id,
                    Listing.seller_id == listing.seller_id,
                    Listing.title_norm == listing.title_norm,
                    Listing.status == "active",
                    *([Listing.last_seen > since] if since is not None else []),
                )
            ).scalars().all()
        for candidate in candidates:
            if open_request(session, candidate, req.member) is not None:
                continue
            enqueue_from_match(session, candidate, req.member, decision, config=config,
                               actor="system:followup")
            session.refresh(req)
            if req.state != "removed":
                break


def followup(
    sessions: sessionmaker[Session],
    database_url: str,
    config: TakedownConfig,
    *,
    urls: dict[str, str] | None = None,
    crawl: bool = True,
    crawl_sets: Sequence[str] = (),
    crawl_env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> FollowupResult:
    result = FollowupResult()
    started = utcnow()
    with session_scope(sessions) as session:
        base_urls = marketplace_urls(session, urls)
    poll_complaints(sessions, base_urls, result, timeout)
    if crawl:
        with session_scope(sessions) as session:
            targets = list(dict.fromkeys(session.execute(
                select(Listing.url)
                .join(TakedownRequest, TakedownRequest.listing_id == Listing.id)
                .where(TakedownRequest.state.in_((*FOLLOWED, "removed")))
                .order_by(Listing.id)
            ).scalars()))
        targets = [u for u in targets if any(u.startswith(b + "/") for b in base_urls.values())]
        result.rechecked = len(targets)
        if targets:
            code, tail = recrawl(targets, base_urls, database_url, sets=crawl_sets,
                                 env=crawl_env)
            result.crawl_exit = code
            result.crawl_status = "finished" if code == 0 else f"exit {code}: {tail}"
    with session_scope(sessions) as session:
        apply_removals(session, result)
    with session_scope(sessions) as session:
        detect_relistings(session, config, result)
        # The re-crawl's own queue pipeline may have opened them already: count every fresh
        # request citing an earlier one since this follow-up began.
        result.relisted = session.execute(
            select(func.count()).select_from(TakedownRequest).where(
                TakedownRequest.cites_request_id.is_not(None),
                TakedownRequest.opened_at >= started)
        ).scalar_one()
    return result
