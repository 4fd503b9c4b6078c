"""The overview page's query: detections per day, requests by state, and per marketplace and
member the acceptance rate, median time to removal and relisting rate, all over the user's
scope (the rates are ``crawler.takedown.report.ReportRow``'s, so the page and ``reelguard
takedown report`` agree).

No settings affect this module. Data functions take a session and never commit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.db.models_takedown import TAKEDOWN_STATES, TakedownRequest
from crawler.takedown.report import ReportRow
from crawler.web.scope import member_clause
from crawler.web.users import Principal


@dataclass
class Overview:
    per_day: list[tuple[date, int]]
    by_state: list[tuple[str, int]]
    rows: list[ReportRow]
    total: int
    accepted: int
    decided: int


def overview(session: Session, principal: Principal) -> Overview:
    rows: dict[tuple[str, str], ReportRow] = {}
    per_day: Counter[date] = Counter()
    states: Counter[str] = Counter()
    for member, market, state, platform, ttr, opened in session.execute(
        select(TakedownRequest.member, TakedownRequest.marketplace, TakedownRequest.state,
               TakedownRequest.platform_status, TakedownRequest.time_to_removal_s,
               TakedownRequest.opened_at)
        .where(member_clause(principal, TakedownRequest.member))
    ).all():
        rows.setdefault((member, market), ReportRow(member, market)).count(state, platform, ttr)
        per_day[opened.date()] += 1
        states[state] += 1
    report = [rows[k] for k in sorted(rows)]
    return Overview(
        per_day=sorted(per_day.items()),
        by_state=[(s, states[s]) for s in TAKEDOWN_STATES if states[s]],
        rows=report, total=sum(states.values()),
        accepted=sum(r.accepted for r in report), decided=sum(r.decided for r in report),
    )
