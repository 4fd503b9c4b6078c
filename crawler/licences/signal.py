"""The ``shop_licence`` signal: a flagged licence finding, shown on every listing of its shop.

A shop that sells discs without a valid publication licence is a fact about the seller, not
about one listing; the match pipeline (``pipelines/match.py``) adds it to the decision of each
listing of that shop that *matched a catalogue work*, so a reviewer sees it beside the title
match. It is information, never a reason: weight 0, the decision and the score are unchanged,
and a listing that matched no work gets nothing (the signal never creates a match).

:class:`ShopLicenceSignals` looks the finding up once per seller per crawl (cached, including
"no finding"), so a crawl of thousands of listings asks the database once per shop. The finding
is the one stored when the seller is first met in the crawl: a storefront crawl rechecks
licences at its end (``pipelines/licence.py``), so a first crawl of a shop shows its signal
from the next crawl on.

Settings: none (the caller passes the session factory).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawler.db.models import Marketplace, Seller
from crawler.db.models_sellers import LicenceFinding
from crawler.db.session import session_scope
from crawler.licences.check import is_flagged

SIGNAL = "shop_licence"
MAX_EVIDENCE = 600  # characters of the signal's text


def signal_for(finding: Any, shop: str | None = None) -> dict[str, Any] | None:
    """The signal for a finding row (or None when the finding is not a flag)."""
    if finding is None or not is_flagged(finding.status, bool(finding.sells_discs)):
        return None
    problems = "; ".join(finding.problems or []) or finding.status
    who = f"shop {shop}: " if shop else ""
    proof = f" (shop page sha256 {finding.evidence_sha256})" if finding.evidence_sha256 else ""
    text = (
        f"{who}publication licence {finding.status}: {problems}; "
        f"{finding.disc_listings} disc listing(s){proof}"
    )
    if len(text) > MAX_EVIDENCE:
        text = text[: MAX_EVIDENCE - 1] + "…"
    return {"name": SIGNAL, "weight": 0.0, "evidence": text}


def add_to_decision(decision: dict[str, Any], signal: dict[str, Any] | None) -> dict[str, Any]:
    """Append ``signal`` to a matched decision; a decision without a work is left alone."""
    if signal is None or not decision.get("catalog_id"):
        return decision
    signals = decision.setdefault("signals", [])
    if not any(s.get("name") == SIGNAL for s in signals):
        signals.append(dict(signal))
    return decision


class ShopLicenceSignals:
    """Per-crawl cache of the ``shop_licence`` signal of each (marketplace, seller)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._cache: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.lookups = 0

    def signal(self, marketplace: str | None, seller_key: str | None) -> dict[str, Any] | None:
        if not marketplace or not seller_key:
            return None
        key = (marketplace, seller_key)
        if key not in self._cache:
            self.lookups += 1
            with session_scope(self.sessions) as session:
                row = session.execute(
                    select(LicenceFinding, Seller.shop_name, Seller.name)
                    .join(Seller, Seller.id == LicenceFinding.seller_id)
                    .join(Marketplace, Marketplace.id == Seller.marketplace_id)
                    .where(Marketplace.name == marketplace, Seller.seller_key == seller_key)
                ).first()
                self._cache[key] = (
                    signal_for(row[0], row[1] or row[2] or seller_key) if row is not None else None
                )
        return self._cache[key]
