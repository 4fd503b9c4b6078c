"""Licence findings: does each shop that sells discs show a valid publication licence?

:func:`check_sellers` reads every seller's stored licence block (``sellers.licence_*``, as the
storefront crawl last saw it), validates it (:mod:`crawler.licences.parse`), checks it against a
register when one is given (:mod:`crawler.licences.register`), counts the shop's disc listings
(:mod:`crawler.licences.discs`) and upserts one ``licence_findings`` row per seller:

* status, by severity: ``missing`` (no licence block, or none that can be read), ``malformed``
  (number outside the grammar, unreadable dates), ``holder_mismatch`` (the register holds the
  number under another name), ``unregistered`` (not in the register, or revoked/cancelled
  there), ``expired``, ``not_yet_valid``, ``valid``; every problem found is kept in words;
* ``sells_discs``: ``DISC_BUSINESS`` disc listings or more among the shop's stored ones (at
  most ``MAX_LISTINGS_READ`` read), or at least ``min_disc_listings`` making up ``DISC_SHARE``
  of them: one stray "蓝光原盘" among a download shop's sixty listings is not a disc business,
  fifty DVDs in a department store are. Only a shop that sells discs is *flagged* (status other
  than ``valid``); a shop that sells none keeps its finding with ``sells_discs`` false, so the
  listing can say why it is not flagged.

The licence regime is Chinese law: only sellers of marketplaces in ``REELGUARD_LICENCE_MARKETPLACES``
(default taobao, tmall, jd and demomart, the demo modelled on them) are checked. Dates are judged
on today's date in China (UTC+8), the calendar licences are dated in.

Which sellers: those given (their shop page was just read, ``pipelines/licence.py``), else every
seller whose shop page is known to have been read (a licence block stored, or an earlier
finding); a seller seen only in search results is never judged "missing" on a guess.

The finding keeps the evidence of the shop page its licence block was read from
(``evidence``: seller id -> (sha256 of the capture's WARC, URL), from ``pipelines/licence.py``).
A check without new evidence keeps the previous one only while the licence read is unchanged.
A ``seller_events`` row (``licence_flag`` / ``licence_cleared``) is written only when a seller
becomes flagged, changes flagged status, or is cleared: running the check twice writes nothing new.

Data function: takes a session, never commits. Works on SQLite and PostgreSQL.

Settings: ``REELGUARD_LICENCE_MARKETPLACES`` (environment, comma-separated).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crawler.db.models import Listing, Marketplace, Seller, utcnow
from crawler.db.models_sellers import LICENCE_STATUSES, LicenceFinding, SellerEvent
from crawler.db.sql import _table_insert
from crawler.items import Licence
from crawler.licences.discs import is_disc_listing
from crawler.licences.parse import assess, read_licence
from crawler.licences.register import Register
from crawler.licences.text import quote, same_holder

DEFAULT_MARKETPLACES = ("taobao", "tmall", "jd", "demomart")
SEVERITY = (
    "missing",
    "malformed",
    "holder_mismatch",
    "unregistered",
    "expired",
    "not_yet_valid",
    "valid",
)
FLAGGED_STATUSES = frozenset(s for s in LICENCE_STATUSES if s != "valid")
MAX_LISTINGS_READ = 5000  # per seller: enough to know whether a shop sells discs
DISC_BUSINESS = 10  # disc listings that make a shop a disc seller, whatever else it sells
DISC_SHARE = 0.05  # or this share of its listings
BATCH = 200
CHINA = dt.timezone(dt.timedelta(hours=8))
assert set(SEVERITY) == set(LICENCE_STATUSES)


def licence_marketplaces() -> tuple[str, ...]:
    raw = os.environ.get("REELGUARD_LICENCE_MARKETPLACES")
    if raw is None or not raw.strip():
        return DEFAULT_MARKETPLACES
    return tuple(m.strip() for m in raw.split(",") if m.strip())


def china_today() -> dt.date:
    return dt.datetime.now(CHINA).date()


def is_flagged(status: str, sells_discs: bool) -> bool:
    return sells_discs and status in FLAGGED_STATUSES


@dataclass(frozen=True)
class Verdict:
    """What one check concludes about a seller's licence (before it is stored)."""

    status: str
    problems: tuple[str, ...]
    number: str | None
    holder: str | None
    authority: str | None
    valid_from: dt.date | None
    valid_to: dt.date | None
    register_holder: str | None = None

    def read(self) -> tuple[Any, ...]:
        """What was read from the page: evidence of one reading is not evidence of another."""
        return (self.number, self.holder, self.authority, self.valid_from, self.valid_to)


def _worse(a: str, b: str) -> str:
    return a if SEVERITY.index(a) <= SEVERITY.index(b) else b


def judge(seller: Seller, register: Register | None, today: dt.date) -> Verdict:
    """The licence verdict for ``seller``'s stored licence block on ``today``. Pure."""
    licence = Licence(
        number=seller.licence_number,
        holder=seller.licence_holder,
        authority=seller.licence_authority,
        valid_from=seller.licence_valid_from,
        valid_to=seller.licence_valid_to,
        raw_text=seller.licence_raw,
    )
    reading = read_licence(licence)
    assessment = assess(reading, today)
    status, problems = assessment.status, list(assessment.problems)
    if seller.has_licence_block and reading.empty:
        problems = ["a licence block is shown but no number, holder or date can be read from it"]
    register_holder = None
    if register is not None and reading.number_ok and reading.number:
        shown = quote(reading.number)
        entry = register.lookup(reading.number)
        if entry is None:
            problems.append(f"number {shown} is not in the register")
            status = _worse(status, "unregistered")
        else:
            register_holder = entry.holder
            if reading.holder is None:
                problems.append(f"no holder is shown; the register names {quote(entry.holder)}")
            elif not same_holder(reading.holder, entry.holder):
                problems.append(
                    f"number {shown} is registered to {quote(entry.holder)}, "
                    f"not {quote(reading.holder)}"
                )
                status = _worse(status, "holder_mismatch")
            if entry.status in ("revoked", "cancelled", "suspended"):
                problems.append(f"the register lists number {shown} as {entry.status}")
                status = _worse(status, "unregistered")
            if entry.valid_to is not None and entry.valid_to < today and status != "expired":
                problems.append(f"the register says it expired on {entry.valid_to.isoformat()}")
                status = _worse(status, "expired")
    return Verdict(
        status,
        tuple(problems),
        reading.number or reading.number_shown,
        reading.holder,
        reading.authority,
        reading.valid_from,
        reading.valid_to,
        register_holder,
    )


def sells_discs(disc_listings: int, listings: int, min_disc_listings: int = 1) -> bool:
    if disc_listings >= DISC_BUSINESS:
        return True
    return disc_listings >= max(1, min_disc_listings) and disc_listings >= DISC_SHARE * listings


def _disc_counts(session: Session, seller_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    counts: dict[int, int] = dict.fromkeys(seller_ids, 0)
    read: dict[int, int] = dict.fromkeys(seller_ids, 0)
    rows = session.execute(
        select(Listing.seller_id, Listing.title)
        .where(Listing.seller_id.in_(seller_ids))
        .order_by(Listing.seller_id, Listing.last_seen.desc())
        .execution_options(yield_per=2000)
    )
    for seller_id, title in rows:
        if seller_id is None or read[seller_id] >= MAX_LISTINGS_READ:
            continue
        read[seller_id] += 1
        counts[seller_id] += is_disc_listing(title)
    return {sid: (counts[sid], read[sid]) for sid in seller_ids}


def check_sellers(
    session: Session,
    register: Register | None = None,
    seller_ids: Iterable[int] | None = None,
    *,
    today: dt.date | None = None,
    evidence: Mapping[int, tuple[str, str | None]] | None = None,
    marketplaces: Sequence[str] | None = None,
    min_disc_listings: int = 1,
) -> list[LicenceFinding]:
    """Check and store the licence finding of sellers in scope; see the module docstring.

    ``seller_ids``: these sellers, whose shop page the caller has read. Default: every seller
    whose shop page is known to have been read: one with a licence block, or with a finding
    from an earlier check. A seller only ever seen on search results or listing pages is not
    judged: nobody has looked for its licence yet, so "missing" would be a guess.
    """
    today = today or china_today()
    scope = tuple(marketplaces) if marketplaces is not None else licence_marketplaces()
    stmt = (
        select(Seller, Marketplace.name)
        .join(Marketplace, Marketplace.id == Seller.marketplace_id)
        .where(Marketplace.name.in_(scope))
        .order_by(Seller.id)
    )
    wanted = sorted(set(seller_ids)) if seller_ids is not None else None
    if wanted is None:
        stmt = stmt.where(
            or_(
                Seller.has_licence_block.is_(True),
                Seller.id.in_(select(LicenceFinding.seller_id)),
            )
        )
    chunks = (
        [wanted[i : i + BATCH] for i in range(0, len(wanted), BATCH)]
        if wanted is not None
        else [None]
    )
    done: list[int] = []
    for chunk in chunks:
        query = stmt if chunk is None else stmt.where(Seller.id.in_(chunk))
        rows = list(session.execute(query).all())
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            done.extend(
                _check_batch(session, batch, register, today, evidence or {}, min_disc_listings)
            )
    if not done:
        return []
    session.flush()
    found: list[LicenceFinding] = []
    for start in range(0, len(done), BATCH):
        found.extend(
            session.execute(
                select(LicenceFinding)
                .where(LicenceFinding.seller_id.in_(done[start : start + BATCH]))
                .order_by(LicenceFinding.seller_id)
                # The upserts above bypass the identity map: read the rows as stored.
                .execution_options(populate_existing=True)
            ).scalars()
        )
    return found


def _check_batch(
    session: Session,
    batch: list[Any],
    register: Register | None,
    today: dt.date,
    evidence: Mapping[int, tuple[str, str | None]],
    min_disc_listings: int,
) -> list[int]:
    ids = [seller.id for seller, _ in batch]
    counted = _disc_counts(session, ids)
    discs = {sid: disc for sid, (disc, _total) in counted.items()}
    f = LicenceFinding
    previous = {
        row[0]: (row[1], row[2], row[3], row[4], tuple(row[5:]))
        for row in session.execute(
            select(
                f.seller_id,
                f.status,
                f.sells_discs,
                f.evidence_sha256,
                f.evidence_url,
                f.number,
                f.holder,
                f.authority,
                f.valid_from,
                f.valid_to,
            ).where(f.seller_id.in_(ids))
        )
    }
    now = utcnow()
    for seller, marketplace in batch:
        verdict = judge(seller, register, today)
        sells = sells_discs(*counted[seller.id], min_disc_listings)
        before = previous.get(seller.id)
        sha, url = evidence.get(seller.id, (None, None))
        if sha is None and before is not None and before[4] == verdict.read():
            sha, url = before[2], before[3]
        _upsert(
            session,
            {
                "seller_id": seller.id,
                "marketplace": marketplace,
                "status": verdict.status,
                "sells_discs": sells,
                "disc_listings": discs[seller.id],
                "number": verdict.number,
                "holder": verdict.holder,
                "authority": verdict.authority,
                "valid_from": verdict.valid_from,
                "valid_to": verdict.valid_to,
                "problems": list(verdict.problems) or None,
                "register": register.path if register is not None else None,
                "register_holder": verdict.register_holder,
                "evidence_sha256": sha,
                "evidence_url": url,
                "checked_at": now,
            },
        )
        was = is_flagged(before[0], before[1]) if before is not None else False
        flagged = is_flagged(verdict.status, sells)
        if flagged and (not was or (before is not None and before[0] != verdict.status)):
            _event(
                session,
                seller.id,
                "licence_flag",
                before[0] if before else None,
                verdict,
                discs[seller.id],
                sha,
                url,
                now,
            )
        elif was and not flagged:
            _event(
                session,
                seller.id,
                "licence_cleared",
                before[0] if before else None,
                verdict,
                discs[seller.id],
                sha,
                url,
                now,
            )
    return ids


def _upsert(session: Session, values: dict[str, Any]) -> None:
    dialect = session.get_bind().dialect.name
    stmt = _table_insert(dialect, LicenceFinding).values(**values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["seller_id"],
            set_={k: stmt.excluded[k] for k in values if k != "seller_id"},
        )
    )


def reason(verdict: Verdict, disc_listings: int) -> str:
    words = "; ".join(verdict.problems) or "licence valid"
    return f"{verdict.status}: {words} ({disc_listings} disc listing(s))"


def _event(
    session: Session,
    seller_id: int,
    kind: str,
    from_status: str | None,
    verdict: Verdict,
    disc_listings: int,
    sha: str | None,
    url: str | None,
    now: dt.datetime,
) -> None:
    proof = [{"kind": "shop_page", "sha256": sha, "url": url}] if sha else None
    session.add(
        SellerEvent(
            seller_id=seller_id,
            at=now,
            kind=kind,
            from_level=from_status,
            to_level=verdict.status,
            reason=reason(verdict, disc_listings),
            evidence=proof,
            actor="reelguard",
        )
    )
