"""The case's timeline and summary, derived from its facts (``crawler.investigate.facts``).

The timeline puts in time order what happened to the accounts: sightings (one line per crawl
run: how many listings it saw and how many for the first time), takedown requests opened,
removals, relistings and rejections by the platform, listings seen removed without a request,
strikes, level changes and other audit-log events, licence checks. Every line names the account
and, where there is one, the listing and the request.

Pure functions over the facts dict; no settings affect this module.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

# What the platform did to a request, in words (other moves are the queue's own business).
PLATFORM_MOVES = {
    "removed": "removal",
    "relisted": "relisting",
    "rejected": "rejection",
}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _line(at: str | None, kind: str, text: str, **ids: Any) -> dict[str, Any] | None:
    if not at:
        return None
    return {
        "at": at,
        "kind": kind,
        "text": text,
        "seller_id": ids.get("seller_id"),
        "listing_id": ids.get("listing_id"),
        "request_id": ids.get("request_id"),
    }


def build_timeline(facts: dict[str, Any]) -> list[dict[str, Any]]:
    lines: list[dict[str, Any] | None] = []
    seller_of = {x["listing_id"]: x["seller_id"] for x in facts["listings"]}

    # Sightings, one line per crawl run (and account): a listing's first run counts it as new.
    first_run: dict[str, int] = {}
    for s in facts["sightings"]:
        first_run.setdefault(s["listing_id"], s["run_id"])
    per_run: dict[tuple[int, str | None], dict[str, Any]] = {}
    for s in facts["sightings"]:
        key = (s["run_id"], seller_of.get(s["listing_id"]))
        row = per_run.setdefault(
            key, {"at": s["at"], "job": s["job"], "seen": set(), "new": 0, "removed": 0}
        )
        if s["listing_id"] not in row["seen"]:
            row["seen"].add(s["listing_id"])
            row["new"] += first_run[s["listing_id"]] == s["run_id"]
            row["removed"] += s.get("status") == "removed"
    for (run_id, seller), row in per_run.items():
        n = len(row["seen"])
        extra = f", {row['new']} for the first time" if row["new"] else ""
        gone = f", {row['removed']} removed" if row["removed"] else ""
        lines.append(
            _line(
                row["at"],
                "sighting",
                f"crawl run {run_id} ({row['job']}): {n} listing(s) seen{extra}{gone}",
                seller_id=seller,
            )
        )

    removed_by_request = set()
    for r in facts["requests"]:
        seller = seller_of.get(r["listing_id"])
        cites = f", citing request #{r['cites_request_id']}" if r["cites_request_id"] else ""
        lines.append(
            _line(
                r["opened_at"],
                "request",
                f"takedown request #{r['id']} opened for {r['member']} ({r['decision']}){cites}: "
                f"{r['title']}",
                seller_id=seller,
                listing_id=r["listing_id"],
                request_id=r["id"],
            )
        )
        for ev in r["events"]:
            word = PLATFORM_MOVES.get(ev["to"])
            if word is None:
                continue
            if ev["to"] == "removed":
                removed_by_request.add(r["listing_id"])
            why = f": {ev['reason']}" if ev["reason"] else ""
            lines.append(
                _line(
                    ev["at"],
                    ev["to"],
                    f"{word} of listing {r['listing_id']} (request #{r['id']}, {ev['actor']}){why}",
                    seller_id=seller,
                    listing_id=r["listing_id"],
                    request_id=r["id"],
                )
            )
    for x in facts["listings"]:
        if x["status"] == "removed" and x["listing_id"] not in removed_by_request:
            lines.append(
                _line(
                    x["removed_at"] or x["last_seen"],
                    "removed",
                    f"listing {x['listing_id']} seen removed (no request of ours "
                    "recorded the removal)",
                    seller_id=x["seller_id"],
                    listing_id=x["listing_id"],
                )
            )
    for s in facts["strikes"]:
        lines.append(
            _line(
                s["struck_at"],
                "strike",
                f"strike ({s['offence']}) for {s['work'] or s['catalog_id'] or '?'}, "
                f"request #{s['request_id']} of {s['member']}",
                seller_id=s["seller_id"],
                listing_id=s["listing_id"],
                request_id=s["request_id"],
            )
        )
    for e in facts["seller_events"]:
        if e["kind"] == "escalation":
            text = f"level {e['from_level'] or 'none'} → {e['to_level'] or 'none'}"
        else:
            text = e["kind"].replace("_", " ")
        if e["reason"]:
            text += f": {e['reason']}"
        lines.append(_line(e["at"], e["kind"], text, seller_id=e["seller_id"]))
    for f in facts["licence_findings"]:
        problems = f"; {'; '.join(f['problems'])}" if f["problems"] else ""
        lines.append(
            _line(
                f["checked_at"],
                "licence",
                f"publication licence checked: {f['status']}{problems}",
                seller_id=f["seller_id"],
            )
        )
    out = [line for line in lines if line is not None]
    out.sort(key=lambda line: parse_time(line["at"]))
    return out


def summary(facts: dict[str, Any]) -> dict[str, Any]:
    seller = facts["seller"]
    level = seller.get("level") or {}
    licence = next(
        (f for f in facts["licence_findings"] if f["seller_id"] == seller["seller_id"]), None
    )
    requests = facts["requests"]
    moves: dict[int, set[str]] = defaultdict(set)
    for r in requests:
        moves[r["id"]] = {ev["to"] for ev in r["events"]} | {r["state"]}
    times = [line["at"] for line in facts["timeline"]]
    times += [p["captured_at"] for p in facts["pages"]]
    ordered = sorted(times, key=parse_time)
    statuses = Counter(x["status"] for x in facts["listings"])
    return {
        "seller_id": seller["seller_id"],
        "marketplace": seller["marketplace"],
        "name": seller.get("shop_name") or seller.get("name"),
        "level": level.get("level"),
        "level_reason": level.get("reason"),
        "level_since": level.get("since"),
        "strikes": seller.get("strikes", 0),
        "licence_status": licence["status"] if licence else None,
        "licence_problems": licence["problems"] if licence else [],
        "linked_accounts": [
            {"seller_id": a["seller_id"], "marketplace": a["marketplace"]}
            for a in facts["accounts"]
            if a["role"] != "investigated"
        ],
        "listings": len(facts["listings"]),
        "listings_active": statuses.get("active", 0),
        "listings_removed": statuses.get("removed", 0),
        "matches": sum(
            1 for x in facts["listings"] if {"takedown", "review"} & set(x["decisions"].values())
        ),
        "works": len({(w["member"], w["catalog_id"]) for w in facts["works"]}),
        "requests": len(requests),
        "removals": sum(1 for m in moves.values() if m & {"removed", "relisted"}),
        # A relisting closes the old request (relisted) and opens one citing it: count the
        # old requests once, whichever side of the pair this case holds.
        "relistings": len(
            {r["id"] for r in requests if "relisted" in moves[r["id"]]}
            | {r["cites_request_id"] for r in requests if r["cites_request_id"]}
        ),
        "pages_captured": len(facts["pages"]),
        "artefacts": len(facts["artefacts"]),
        "from": ordered[0] if ordered else None,
        "to": ordered[-1] if ordered else None,
    }
