"""Fixtures of the fault suite: the fault-injection server, and real crawls run against it.

``fault_server`` is a :class:`tests.faults.server.FaultServer` on 127.0.0.1 (ephemeral port)
with a few listings, stopped at teardown. :func:`crawl` runs ``python -m crawler.cli crawl ...``
in a child process (its own session, killed whole if it outlives its bound) against a fresh
SQLite file (or a given PostgreSQL database) and measures its duration and its peak resident
memory (``VmHWM``); :func:`wait_until` polls for what a test waits on instead of sleeping.

No settings affect this module; children get a clean ``REELGUARD_*`` environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.crawl_support import PRIVATE_OK, child_env, cli_cmd, events, runs, sqlite_url
from tests.faults.server import FaultServer, Item

ITEMS = [
    Item("L1", "盗梦空间 蓝光 BD50 高清收藏版", "25.00"),
    Item("L2", "黑暗骑士 DVD 盒装", "18.50"),
    Item("L3", "星际穿越 4K UHD", "39.90"),
    Item("L4", "致命魔术 高清 网盘", "5.00"),
]
# Quick, deterministic retries: exponential backoff of 0.1 s, 0.2 s, 0.4 s.
FAST = ("--set", "REELGUARD_RETRY_BACKOFF_BASE=0.1")


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    with FaultServer(items=list(ITEMS)) as server:
        yield server


@dataclass
class CrawlResult:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float  # the child's VmHWM at its last sample
    db: str
    log: str  # the crawl's log (var/log/crawl.log under the test's directory)

    @property
    def output(self) -> str:
        """What to show when an assertion fails: the end of the log and of the output."""
        return f"{self.log[-5000:]}\n--- stdout/stderr ---\n{(self.stdout + self.stderr)[-3000:]}"


def _vm_hwm_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def crawl(tmp_path: Path, server_url: str, spider: str, *args: str, timeout: float = 120,
          db_name: str = "faults.db", env: dict[str, str] | None = None,
          allow: str = "127.0.0.1", base_url: str | None = None,
          meanwhile: Callable[[int], None] | None = None, db: str | None = None) -> CrawlResult:
    """``reelguard crawl SPIDER -m demomart --url demomart=SERVER ARGS`` as a child process.

    The child and anything it starts (chromium) run in a session of their own, killed whole
    when the crawl outlives ``timeout``; the test then fails with what it printed.
    ``meanwhile(pid)`` runs in a thread while the crawl does (to break things under it).
    ``db`` is a database URL (PostgreSQL); by default the SQLite file ``db_name``.
    """
    db = db or sqlite_url(tmp_path, db_name)
    cmd = cli_cmd("crawl", spider, "-m", "demomart", "--db", db,
                  "--url", f"demomart={base_url or server_url}", *args)
    child = child_env(**{**PRIVATE_OK, "REELGUARD_ALLOWED_PRIVATE_HOSTS": allow}, **(env or {}))
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=child, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            kb = _vm_hwm_kb(proc.pid)
            if kb is not None:
                peak[0] = max(peak[0], kb)
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if meanwhile is not None:
        threading.Thread(target=meanwhile, args=(proc.pid,), daemon=True).start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        done.set()
        raise AssertionError(
            f"the crawl did not end within {timeout} s:\n{(out + err)[-6000:]}"
        ) from None
    finally:
        done.set()
        sampler.join()
        with _suppress_lookup():
            os.killpg(proc.pid, signal.SIGKILL)  # a chromium left behind, if any
    seconds = time.monotonic() - started
    log_file = tmp_path / "var" / "log" / "crawl.log"
    log = log_file.read_text(errors="replace") if log_file.exists() else ""
    return CrawlResult(proc.returncode, out, err, seconds, peak[0] / 1024, db, log)


def wait_until(check: Callable[[], bool], timeout: float = 30, every: float = 0.02) -> bool:
    """Poll ``check`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return check()


class _suppress_lookup:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, ProcessLookupError | PermissionError)


def the_run(result: CrawlResult):  # type: ignore[no-untyped-def]
    """The crawl run the crawl recorded (exactly one)."""
    recorded = runs(result.db)
    assert len(recorded) == 1, [r.id for r in recorded]
    return recorded[0]


def reasons(result: CrawlResult, kind: str) -> dict[str, list[str]]:
    """URL -> reasons of the run's events of ``kind``."""
    out: dict[str, list[str]] = {}
    for e in events(result.db, kind):
        out.setdefault(e.url or "", []).append(e.reason or "")
    return out


def no_traceback(result: CrawlResult) -> None:
    """The command's own output (not the crawl log) has no traceback."""
    assert "Traceback" not in result.stdout + result.stderr, result.output


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command name) of every process under ``pid``, read from /proc."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        parents[int(entry)] = ppid
        names[int(entry)] = name
    out: list[tuple[int, str]] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent:
                out.append((child, names[child]))
                frontier.append(child)
    return out


def rss_mb(pids: list[int]) -> float:
    """The summed resident memory of ``pids`` (those still running)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024
