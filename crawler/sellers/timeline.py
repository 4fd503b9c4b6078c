"""A seller's timeline: sightings, takedown steps, strikes and seller events in time order.

Each :class:`TimelineEntry` has ``at`` (UTC), ``kind`` (``sighting``: a listing first seen;
``takedown``: a request opened or moved, by whom and why, relistings named; ``strike``: an
accepted removal and whether it counts; ``seller_event``: escalations, licence flags, links...),
``detail`` in words, and the listing, request, strike and evidence hash it refers to. Entries
at the same moment keep that order. Built for ``crawler.sellers.history.ledger_for`` and the
investigation case file.

No settings affect this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crawler.db.models_takedown import TakedownEvent, TakedownRequest


@dataclass
class TimelineEntry:
    at: datetime
    kind: str
    detail: str
    listing_id: int | None = None
    request_id: int | None = None
    strike_id: int | None = None
    sha256: str | None = None


def build_timeline(
    sightings: Sequence[Any],
    requests: Sequence[TakedownRequest],
    events: Sequence[TakedownEvent],
    strikes: Sequence[Any],
    seller_events: Sequence[dict[str, Any]],
) -> list[TimelineEntry]:
    """Sightings (``first_seen, listing_key, title, listing_id``), the requests' state changes
    (``takedown_events``), strikes (``crawler.sellers.history.LedgerStrike``) and seller events
    (dicts of ``seller_events`` columns) merged in time order."""
    listing_of = {r.id: r.listing_id for r in requests}
    cites = {r.id: r.cites_request_id for r in requests}
    out = [
        TimelineEntry(
            s.first_seen,
            "sighting",
            f"listing {s.listing_key} first seen: {s.title}",
            listing_id=s.listing_id,
        )
        for s in sightings
    ]
    for e in events:
        moved = f"{e.from_state} -> {e.to_state}" if e.from_state else f"opened ({e.to_state})"
        extra = ""
        if e.from_state is None and cites.get(e.request_id):
            extra = f", relisting of request {cites[e.request_id]}"
        out.append(
            TimelineEntry(
                e.at,
                "takedown",
                f"request {e.request_id}: {moved}{extra} by {e.actor}"
                + (f": {e.reason}" if e.reason else ""),
                listing_id=listing_of.get(e.request_id),
                request_id=e.request_id,
            )
        )
    for s in strikes:
        state = "counted" if s.counted else "not counted: no evidence"
        out.append(
            TimelineEntry(
                s.struck_at,
                "strike",
                f"strike {s.id}: {s.offence} removal of {s.work or '?'} "
                f"({s.member}){', relisting' if s.relisting else ''}, {state}",
                listing_id=s.listing_id,
                request_id=s.request_id,
                strike_id=s.id,
                sha256=s.evidence_sha256,
            )
        )
    for ev in seller_events:
        change = (
            f"{ev['from_level'] or 'none'} -> {ev['to_level'] or 'none'}"
            if ev["kind"] in ("escalation", "deescalation")
            else ev["kind"]
        )
        out.append(
            TimelineEntry(
                ev["at"],
                "seller_event",
                f"{ev['kind']}: {change}: {ev['reason'] or ''}".rstrip(": "),
            )
        )
    order = {"sighting": 0, "takedown": 1, "strike": 2, "seller_event": 3}
    out.sort(key=lambda t: (t.at, order.get(t.kind, 9)))
    return out
