"""Run monitoring passes on a cron schedule until stopped.

Each pass runs as a child process (``reelguard monitor run``): Twisted's reactor cannot be
restarted in one process, and a pass that crashes must not take the scheduler with it. A pass
still running when the next tick comes is not doubled: the tick is skipped and logged.

Settings: ``monitor.yaml``'s ``schedule`` (a cron expression, evaluated in UTC).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from croniter import croniter


def next_tick(expression: str, after: dt.datetime) -> dt.datetime:
    return croniter(expression, after).get_next(dt.datetime)


def run_schedule(
    config_path: Path,
    expression: str,
    *,
    max_passes: int | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    sleep: Callable[[float], None] = time.sleep,
    report: Callable[[str], None] = print,
    extra_args: list[str] | None = None,
) -> int:
    """Run passes at every tick; return the number of passes that failed."""
    failures = 0
    passes = 0
    while max_passes is None or passes < max_passes:
        tick = next_tick(expression, now())
        report(f"next pass at {tick.isoformat(timespec='seconds')}")
        while (wait := (tick - now()).total_seconds()) > 0:
            sleep(min(wait, 30.0))
        cmd = [sys.executable, "-m", "crawler.cli", "monitor", "run", "--config",
               str(config_path), *(extra_args or [])]
        report(f"pass {passes + 1} started at {now().isoformat(timespec='seconds')}")
        code = subprocess.call(cmd)
        passes += 1
        if code != 0:
            failures += 1
        report(f"pass {passes} ended with exit code {code}")
    return failures
