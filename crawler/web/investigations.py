"""Launching ``reelguard investigate`` from the seller page, and finding its case file.

The investigation runs as a separate ``python -m crawler.cli investigate`` process (its own
Scrapy reactor and browser, which cannot share the web server's event loop), detached from
the request, with its output in ``var/log/investigate-<seller db id>-<UTC time>.log``. It
creates its ``investigations`` row itself; the seller page lists the rows for the seller and
links to the case report once the state is ``done``.

Scraped values (the seller key) go to the child as single ``--seller=VALUE`` arguments, never
through a shell and never where they could be read as an option. A demo marketplace with no
configured URL (``REELGUARD_MARKETPLACE_URLS`` or its profile) gets ``--demo``, so the demo's
sellers can be investigated after ``make demo`` without a running site.

The request is written to the seller's audit log (``seller_events``, kind
``investigation_requested``) with the user as actor.

Settings: ``REELGUARD_MARKETPLACE_URLS`` (environment), ``REELGUARD_EVIDENCE_DIR``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.db.models import utcnow
from crawler.db.models_sellers import Investigation, SellerEvent
from crawler.exceptions import ReelguardError
from crawler.web.users import Principal

LOG_DIR = Path("var") / "log"
RUNNING_FOR = timedelta(hours=2)  # after this a "running" row is taken as abandoned
CASE_FILE = re.compile(r"^(report\.html|artefacts/[A-Za-z0-9][A-Za-z0-9._-]{0,200})$")


class InvestigationRefused(ReelguardError):
    """An investigation that is not started (one is already running for this seller)."""


def _configured(marketplace: str) -> bool:
    from crawler.config import parse_marketplace_urls
    from crawler.profiles import load_profiles, profiles_path

    if marketplace in parse_marketplace_urls(os.environ.get("REELGUARD_MARKETPLACE_URLS")):
        return True
    profile = load_profiles(profiles_path()).get(marketplace)
    return bool(profile and profile.base_url and "127.0.0.1" not in profile.base_url)


def command(db_url: str, marketplace: str, seller_key: str) -> list[str]:
    """The child's argv (see the module docstring)."""
    from crawler.demo.server import SITES

    argv = [sys.executable, "-m", "crawler.cli", "investigate", f"--marketplace={marketplace}",
            f"--seller={seller_key}", f"--db={db_url}", "--json"]
    if marketplace in SITES and not _configured(marketplace):
        argv.append("--demo")
    return argv


def running(session: Session, marketplace: str, seller_key: str) -> Investigation | None:
    since = utcnow() - RUNNING_FOR
    return session.execute(
        select(Investigation).where(
            Investigation.marketplace == marketplace, Investigation.seller_key == seller_key,
            Investigation.state == "running", Investigation.started_at >= since,
        ).order_by(Investigation.id.desc()).limit(1)
    ).scalar_one_or_none()


def launch(
    session: Session, principal: Principal, db_url: str, seller_id: int, marketplace: str,
    seller_key: str, argv: list[str] | None = None, log_dir: Path | None = None,
) -> Path:
    """Start the investigation process; return its log file. The caller checked the scope."""
    if running(session, marketplace, seller_key) is not None:
        raise InvestigationRefused("an investigation of this seller is already running")
    folder = log_dir or LOG_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_path = folder / f"investigate-{seller_id}-{stamp}.log"
    with log_path.open("ab") as log:
        child = subprocess.Popen(
            argv or command(db_url, marketplace, seller_key),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )
    # Reap the child when it ends (no zombie left behind by a long-running server).
    threading.Thread(target=child.wait, name=f"investigation-{seller_id}", daemon=True).start()
    session.add(SellerEvent(
        seller_id=seller_id, kind="investigation_requested", actor=principal.actor,
        reason=f"investigation requested from the dashboard (log {log_path.name})",
    ))
    return log_path


def case_file(investigation: Investigation, name: str) -> Path | None:
    """A file of the investigation's case folder by its name in the folder, or None.

    Only ``report.html`` and ``artefacts/<file>`` are served, and only when the resolved path
    stays inside the folder.
    """
    if not investigation.case_path or not CASE_FILE.match(name):
        return None
    folder = Path(investigation.case_path).resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        return None
    return path
