"""The IP-complaint intake both demo marketplaces serve (what ``reelguard takedown submit`` hits).

* ``POST /ip/complaints`` with a JSON notice and an ``Idempotency-Key`` header: at most 300
  listings (more: 413), the notice's required elements present (else 422 naming them), the key
  required (else 400). Answers ``{"complaint_id", "received": n}``; the same key again answers
  the same complaint id (``"replayed": true``) and never opens a second complaint.
* ``GET /ip/complaints/{id}``: per listing ``accepted`` | ``rejected`` | ``pending`` with a
  reason. Decisions are deterministic from the site's data: a listing that exists, is still up,
  is not sold by an official store and whose ground truth says ``infringing`` is accepted; the
  rest are rejected with the reason. A complaint stays ``pending`` for
  ``SiteOptions.intake_delay`` seconds after it was received.
* An accepted listing is taken down: the site serves its "removed" page from then on
  (``Intake.taken_down``; :meth:`Intake.relist` puts one back, for relisting tests).

State lives in memory, and in ``<state_dir>/<site>-intake.json`` when ``SiteOptions.state_dir``
is set (so a restarted demo server remembers its complaints). ``SiteOptions.intake_flaky=N``
answers the first N POSTs with 503 and ``Retry-After: 0`` (retry tests).

Settings: none; options come from ``crawler.demo.server.SiteOptions``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MAX_LISTINGS = 300
REQUIRED = (
    ("rights_holder", "name"), ("agent", "name"), ("agent", "email"), ("agent", "address"),
    ("agent", "phone"), ("statements", "good_faith"), ("statements", "accuracy"),
    ("signature", "text"),
)


class Intake:
    """Complaints received by one demo site, and the listings taken down because of them."""

    def __init__(
        self,
        site: str,
        judge: Callable[[str], tuple[bool, str]],
        *,
        delay: float = 0.0,
        flaky: int = 0,
        state_dir: str | None = None,
    ) -> None:
        self.site = site
        self.judge = judge  # listing id -> (accept?, reason)
        self.delay = delay
        self.flaky = flaky
        self.path = Path(state_dir) / f"{site}-intake.json" if state_dir else None
        self.lock = threading.Lock()
        self.complaints: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, str] = {}
        self.taken_down: set[str] = set()
        self.posts = 0  # every POST received, replays included
        self._load()

    # -- persistence -----------------------------------------------------------------------
    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        state = json.loads(self.path.read_text(encoding="utf-8"))
        self.complaints = state.get("complaints", {})
        self.keys = state.get("keys", {})
        self.taken_down = set(state.get("taken_down", []))

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"complaints": self.complaints, "keys": self.keys,
                                   "taken_down": sorted(self.taken_down)}), encoding="utf-8")
        tmp.replace(self.path)

    # -- operations --------------------------------------------------------------------------
    @property
    def complaint_count(self) -> int:
        return len(self.complaints)

    def file(self, key: str, notice: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Handle one POST: ``(HTTP status, JSON body)``."""
        with self.lock:
            self.posts += 1
            if self.flaky > 0:
                self.flaky -= 1
                return 503, {"error": "intake busy, retry"}
            if not key:
                return 400, {"error": "Idempotency-Key header required"}
            if key in self.keys:
                cid = self.keys[key]
                return 200, {"complaint_id": cid, "received": len(self.complaints[cid]["listings"]),
                             "replayed": True}
            listings = notice.get("listings")
            if not isinstance(listings, list) or not listings:
                return 422, {"error": "no listings", "missing": ["listings"]}
            if len(listings) > MAX_LISTINGS:
                return 413, {"error": f"{len(listings)} listings; at most {MAX_LISTINGS} per complaint"}
            missing = [f"{a}.{b}" for a, b in REQUIRED
                       if not str((notice.get(a) or {}).get(b) or "").strip()]
            missing += [f"listings[{i}].{f}" for i, x in enumerate(listings)
                        for f in ("listing_id", "url") if not str(x.get(f) or "").strip()]
            if missing:
                return 422, {"error": "incomplete notice", "missing": missing}
            prefix = {"demomart": "DM", "demobay": "DB"}.get(self.site, self.site[:2].upper())
            cid = f"{prefix}-IP-{len(self.complaints) + 1:06d}"
            self.keys[key] = cid
            self.complaints[cid] = {
                "received_at": time.time(),
                "member": (notice.get("rights_holder") or {}).get("name"),
                "listings": [str(x["listing_id"]) for x in listings],
                "decisions": {},
            }
            self._save()
            return 201, {"complaint_id": cid, "received": len(listings), "replayed": False}

    def status(self, cid: str) -> dict[str, Any] | None:
        with self.lock:
            complaint = self.complaints.get(cid)
            if complaint is None:
                return None
            pending = time.time() - complaint["received_at"] < self.delay
            results = []
            changed = False
            for lid in complaint["listings"]:
                decided = complaint["decisions"].get(lid)
                if decided is None and not pending:
                    accept, reason = self.judge(lid)
                    decided = {"status": "accepted" if accept else "rejected", "reason": reason,
                               "decided_at": time.time()}
                    complaint["decisions"][lid] = decided
                    if accept:
                        self.taken_down.add(lid)
                    changed = True
                results.append({"listing_id": lid, **(decided or {"status": "pending",
                                                                  "reason": "under review"})})
            if changed:
                self._save()
            return {"complaint_id": cid, "listings": results}

    def relist(self, listing_id: str) -> None:
        """The seller put the listing back up (demo and tests)."""
        with self.lock:
            self.taken_down.discard(listing_id)
            self._save()


def routes(intake: Intake) -> list[Route]:
    async def post(request: Request) -> Response:
        try:
            notice = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not isinstance(notice, dict):
            return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
        status, body = intake.file(request.headers.get("idempotency-key", "").strip(), notice)
        headers = {"Retry-After": "0"} if status == 503 else None
        return JSONResponse(body, status_code=status, headers=headers)

    async def get(request: Request) -> Response:
        found = intake.status(request.path_params["complaint_id"])
        if found is None:
            return JSONResponse({"error": "no such complaint"}, status_code=404)
        return JSONResponse(found)

    return [
        Route("/ip/complaints", post, methods=["POST"]),
        Route("/ip/complaints/{complaint_id}", get, methods=["GET"]),
    ]
