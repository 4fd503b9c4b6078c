"""The takedown half of ``reelguard demo``: file the approved notices, follow them up, report.

Runs while the demo marketplaces are still served (their intakes keep state in memory): the
monitoring pass filled the queue; this files every approved batch with the demo intakes, polls
the decisions, re-crawls the filed listings (which now show their "removed" pages) and prints
the report, writing the chart to ``var/takedown-report.svg``.

Settings: ``REELGUARD_TAKEDOWN_CONFIG``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.db import repo
from crawler.db.session import session_scope
from crawler.takedown import report
from crawler.takedown.config import TakedownConfig
from crawler.takedown.followup import followup
from crawler.takedown.submit import submit

CHART = Path("var") / "takedown-report.svg"


def after_pass(database: Any, urls: dict[str, str], console: Any) -> None:
    from crawler.takedown.cli import print_followup, print_submit

    config = TakedownConfig.load()
    with session_scope(database.sessions) as session:
        queued = repo.counts(session)["takedown_requests"]
    console.print(f"takedown queue: {queued} requests")
    print_submit(submit(database.sessions, config, urls=urls, worker="demo"))
    result = followup(database.sessions, database.url, config, urls=urls,
                      crawl_env={"REELGUARD_ALLOWED_PRIVATE_HOSTS": "127.0.0.1,localhost"})
    print_followup(result)
    with session_scope(database.sessions) as session:
        rows = report.build(session)
    report.write_chart(rows, CHART)
    console.print(report.table(rows))
    console.print(f"chart: {CHART}", highlight=False)
