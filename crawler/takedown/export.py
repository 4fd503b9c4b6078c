"""Export notices as JSON (one object per notice) or CSV (one row per listing).

Filed and prepared batches are exported with their stored payload (what was or will be sent,
with its SHA-256); approved requests not batched yet are exported as draft notices built the
same way. CSV cells that a spreadsheet would read as a formula (starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return) are prefixed with ``'``: listing titles and seller
names are written by strangers.

No settings affect this module.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.db.models_takedown import NoticeBatch, TakedownRequest
from crawler.takedown.config import TakedownConfig
from crawler.takedown.notices import canonical_json, group_notices, request_rows, sha256_hex

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "notice", "status", "complaint_id", "member", "marketplace", "rights_holder", "agent_name",
    "agent_email", "agent_address", "agent_phone", "request_id", "listing_id", "url", "title",
    "seller_id", "works", "evidence_sha256", "cites_complaint_id", "signature", "payload_sha256",
)


def neutralise(value: Any) -> str:
    """A CSV cell that no spreadsheet evaluates."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def collect(session: Session, config: TakedownConfig,
            allow_without_evidence: bool = True) -> list[dict[str, Any]]:
    """Every notice: stored batches (with state and complaint id), then drafts."""
    out: list[dict[str, Any]] = []
    for batch in session.execute(select(NoticeBatch).order_by(NoticeBatch.id)).scalars():
        out.append({"notice": f"batch-{batch.id}", "status": batch.state,
                    "complaint_id": batch.complaint_id, "payload_sha256": batch.payload_sha256,
                    "payload": batch.payload})
    pending = session.execute(
        select(TakedownRequest.id).where(TakedownRequest.state == "approved",
                                         TakedownRequest.notice_batch_id.is_(None))
    ).scalars().all()
    notices, _refused = group_notices(session, config, request_rows(session, pending),
                                      allow_without_evidence=allow_without_evidence)
    for i, (_rows, notice) in enumerate(notices, 1):
        out.append({"notice": f"draft-{i}", "status": "draft", "complaint_id": None,
                    "payload_sha256": sha256_hex(canonical_json(notice)), "payload": notice})
    return out


def csv_rows(notices: list[dict[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for n in notices:
        p = n["payload"]
        for entry in p.get("listings", []):
            cites = entry.get("cites") or {}
            rows.append({k: neutralise(v) for k, v in {
                "notice": n["notice"], "status": n["status"], "complaint_id": n["complaint_id"],
                "member": p.get("member"), "marketplace": p.get("marketplace"),
                "rights_holder": p["rights_holder"].get("name"),
                "agent_name": p["agent"].get("name"), "agent_email": p["agent"].get("email"),
                "agent_address": p["agent"].get("address"),
                "agent_phone": p["agent"].get("phone"),
                "request_id": entry.get("request_id"), "listing_id": entry.get("listing_id"),
                "url": entry.get("url"), "title": entry.get("title"),
                "seller_id": entry.get("seller_id"), "works": "|".join(entry.get("works", [])),
                "evidence_sha256": "|".join(e["sha256"] for e in entry.get("evidence", [])),
                "cites_complaint_id": cites.get("complaint_id"),
                "signature": p["signature"].get("text"), "payload_sha256": n["payload_sha256"],
            }.items()})
    return rows


def to_csv(notices: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(notices))
    return buffer.getvalue()


def to_json(notices: list[dict[str, Any]]) -> str:
    return json.dumps({"notices": notices}, ensure_ascii=False, indent=2, default=str) + "\n"


def write(notices: list[dict[str, Any]], fmt: str, out: Path) -> int:
    """Write ``notices`` to ``out`` as ``json`` or ``csv``; return the number of listings."""
    if fmt not in ("json", "csv"):
        raise ValueError(f"format must be json or csv, not {fmt!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    text = to_json(notices) if fmt == "json" else to_csv(notices)
    out.write_text(text, encoding="utf-8", newline="")
    return sum(len(n["payload"].get("listings", [])) for n in notices)
