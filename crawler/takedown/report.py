"""The takedown report: per member and marketplace, how requests fare.

Requests by state, acceptance rate (accepted / decided by the platform), median time to
removal, relisting rate (relisted / taken down), and our own rejection rate (rejected by the
platform / decided) against a platform's good-faith threshold: a filer stays in good standing
while more than 90% of its notices are accepted. Shown as a Rich table and written as a chart
(SVG, drawn by hand: no plotting dependency).

No settings affect this module.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.db.models_takedown import TAKEDOWN_STATES, TakedownRequest

GOOD_FAITH_ACCEPTANCE = 0.90


@dataclass
class ReportRow:
    member: str
    marketplace: str
    states: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    platform_rejected: int = 0
    removal_times: list[float] = field(default_factory=list)

    def count(self, state: str, platform_status: str | None, time_to_removal_s: float | None
              ) -> None:
        """Add one request of this member and marketplace."""
        self.states[state] = self.states.get(state, 0) + 1
        if platform_status == "accepted":
            self.accepted += 1
        elif platform_status == "rejected":
            self.platform_rejected += 1
        if time_to_removal_s is not None:
            self.removal_times.append(float(time_to_removal_s))

    @property
    def total(self) -> int:
        return sum(self.states.values())

    @property
    def decided(self) -> int:
        return self.accepted + self.platform_rejected

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.decided if self.decided else None

    @property
    def rejection_rate(self) -> float | None:
        return self.platform_rejected / self.decided if self.decided else None

    @property
    def good_standing(self) -> bool | None:
        rate = self.acceptance_rate
        return None if rate is None else rate > GOOD_FAITH_ACCEPTANCE

    @property
    def median_removal_s(self) -> float | None:
        return statistics.median(self.removal_times) if self.removal_times else None

    @property
    def relisting_rate(self) -> float | None:
        down = self.states.get("removed", 0) + self.states.get("relisted", 0)
        return self.states.get("relisted", 0) / down if down else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "member": self.member, "marketplace": self.marketplace, "total": self.total,
            "states": self.states, "accepted": self.accepted,
            "platform_rejected": self.platform_rejected,
            "acceptance_rate": self.acceptance_rate, "rejection_rate": self.rejection_rate,
            "good_standing": self.good_standing, "median_removal_s": self.median_removal_s,
            "relisting_rate": self.relisting_rate,
        }


def build(session: Session) -> list[ReportRow]:
    rows: dict[tuple[str, str], ReportRow] = {}
    for member, market, state, platform, ttr in session.execute(
        select(TakedownRequest.member, TakedownRequest.marketplace, TakedownRequest.state,
               TakedownRequest.platform_status, TakedownRequest.time_to_removal_s)
    ).all():
        rows.setdefault((member, market), ReportRow(member, market)).count(state, platform, ttr)
    return [rows[k] for k in sorted(rows)]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


_SHORT = {"pending_review": "review", "acknowledged": "ack'd", "submitted": "filed"}


def table(rows: list[ReportRow]) -> Table:
    """Requests by state, acceptance, median time to removal, relisting and our own rejection
    rate against the platform's good-faith threshold, per member and marketplace."""
    t = Table(title="Takedown requests", title_justify="left", box=box.SIMPLE_HEAD)
    # Only the states some request is in: eight mostly-zero columns do not fit a terminal.
    states = [s for s in TAKEDOWN_STATES if any(r.states.get(s) for r in rows)]
    t.add_column("member", no_wrap=True, max_width=20, overflow="ellipsis")
    t.add_column("site", no_wrap=True, min_width=8)
    for col in ("total", *(_SHORT.get(s, s) for s in states), "accepted", "median",
                "relisted", "own rej."):
        t.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    for r in rows:
        standing = r.good_standing
        rate = Text(_pct(r.rejection_rate),
                    style="" if standing is None else ("green" if standing else "bold red"))
        t.add_row(Text(r.member), Text(r.marketplace), str(r.total),
                  *(str(r.states.get(s, 0)) for s in states),
                  _pct(r.acceptance_rate), _duration(r.median_removal_s),
                  _pct(r.relisting_rate), rate)
    return t


_COLOURS = {
    "pending_review": "#9e9e9e", "approved": "#64b5f6", "submitted": "#1976d2",
    "acknowledged": "#7e57c2", "removed": "#43a047", "rejected": "#e53935",
    "relisted": "#fb8c00", "withdrawn": "#6d4c41",
}


def svg(rows: list[ReportRow]) -> str:
    """Stacked bars of requests by state per member/marketplace, with the acceptance rate
    against the 90% good-faith line on a second panel."""
    bar_h, gap, left, width = 22, 10, 330, 420
    top = 60
    height = top + max(1, len(rows)) * (bar_h + gap) + 90
    total_w = left + width * 2 + 80
    most = max([r.total for r in rows] or [1]) or 1
    out = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{height}" '
        f'font-family="sans-serif" font-size="12">'),
        '<rect width="100%" height="100%" fill="white"/>',
        '<text x="10" y="22" font-size="16" font-weight="bold">Takedown requests by state</text>',
        (f'<text x="{left + width + 40}" y="22" font-size="16" font-weight="bold">'
        "Acceptance rate (good faith: &gt; 90%)</text>"),
    ]
    for i, r in enumerate(rows):
        y = top + i * (bar_h + gap)
        out.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">'
                   f"{escape(r.member)} / {escape(r.marketplace)}</text>")
        x = float(left)
        for state in TAKEDOWN_STATES:
            n = r.states.get(state, 0)
            if not n:
                continue
            w = width * n / most
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                       f'fill="{_COLOURS[state]}"><title>{state}: {n}</title></rect>')
            x += w
        out.append(f'<text x="{x + 4:.1f}" y="{y + 15}">{r.total}</text>')
        ax = left + width + 40
        rate = r.acceptance_rate
        out.append(f'<rect x="{ax}" y="{y}" width="{width}" height="{bar_h}" fill="#eeeeee"/>')
        if rate is not None:
            colour = "#43a047" if rate > GOOD_FAITH_ACCEPTANCE else "#e53935"
            out.append(f'<rect x="{ax}" y="{y}" width="{width * rate:.1f}" height="{bar_h}" '
                       f'fill="{colour}"/>')
        out.append(f'<text x="{ax + 4}" y="{y + 15}">{_pct(rate)}</text>')
    line_x = left + width + 40 + width * GOOD_FAITH_ACCEPTANCE
    bottom = top + len(rows) * (bar_h + gap)
    out.append(f'<line x1="{line_x:.1f}" y1="{top - 6}" x2="{line_x:.1f}" y2="{bottom}" '
               'stroke="black" stroke-dasharray="4 3"/>')
    lx = 10
    for state in TAKEDOWN_STATES:
        out.append(f'<rect x="{lx}" y="{bottom + 20}" width="12" height="12" '
                   f'fill="{_COLOURS[state]}"/>')
        out.append(f'<text x="{lx + 16}" y="{bottom + 30}">{state}</text>')
        lx += 30 + 7 * len(state)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_chart(rows: list[ReportRow], path: Path) -> None:
    if path.suffix.lower() != ".svg":
        raise ValueError(f"chart {path}: only SVG is written (name it .svg)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(svg(rows), encoding="utf-8")
