"""The sellers half of ``reelguard demo``: strikes, levels, licences and linked accounts.

Runs after the takedown half (the accepted removals are the strikes): refreshes the seller
facts against the bundled licence register, then prints who stands where and why, the shops
flagged for their publication licence, the linked-account clusters, and the commands that show
the whole story (``reelguard sellers``, ``licences``, ``links``, ``investigate``).

Settings: ``REELGUARD_SELLER_POLICY`` (the policy used for the summary).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from crawler.db.session import session_scope
from crawler.sellers.refresh import refresh_sellers

DEMO_REGISTER = (
    Path(__file__).resolve().parents[2] / "fixtures" / "catalogs" / "licence_register.csv"
)
TOP = 8


def _plain(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isprintable())


def after_pass(database: Any, console: Any) -> None:
    from crawler.licences.cli import finding_rows
    from crawler.linking.cli import clusters_report
    from crawler.sellers.escalate import evaluate_all
    from crawler.sellers.policy import load_policy

    result = refresh_sellers(database, register=str(DEMO_REGISTER))
    console.print(
        f"{result.strikes_added} strikes from accepted removals; "
        f"{len(result.escalations)} level changes written to the audit log",
        highlight=False,
    )
    policy = load_policy(None)
    with session_scope(database.sessions) as session:
        standings = evaluate_all(session, policy, record=False)
        licences = finding_rows(session, None, include_all=False)
        clusters = clusters_report(session)
    levels = Counter(s.level_words for s in standings if s.level)
    console.print(
        f"policy [bold]{policy.name}[/]: "
        + (", ".join(f"{n} {lvl}" for lvl, n in levels.most_common()) or "no seller has a level"),
        highlight=False,
    )
    table = Table(title=f"Sellers by level (top {TOP})", title_justify="left")
    for col in ("marketplace", "seller", "level", "why"):
        table.add_column(col, overflow="fold")
    for s in [s for s in standings if s.level][:TOP]:
        table.add_row(
            s.marketplace,
            Text(_plain(s.name or s.seller_key)),
            s.level_words,
            Text(_plain(s.reason)),
        )
    console.print(table)
    statuses = Counter(r["status"] for r in licences)
    console.print(
        "publication licences flagged: "
        + (", ".join(f"{n} {st.replace('_', ' ')}" for st, n in statuses.most_common()) or "none"),
        highlight=False,
    )
    for c in clusters:
        names = ", ".join(_plain(s["name"] or s["seller_key"]) for s in c["sellers"])
        kinds = sorted({link["kind"] for link in c["links"]})
        console.print(Text(f"linked accounts: {names} (shared {', '.join(kinds)})"))
    if standings:
        top = standings[0]
        console.print(
            "details: reelguard sellers | reelguard sellers show "
            f"{_plain(top.seller_key)} | reelguard licences | reelguard links\n"
            f"case file: reelguard investigate --demo --marketplace {top.marketplace} "
            f"--seller {_plain(top.seller_key)} --linked",
            highlight=False,
        )
