"""Fault 11: a process killed with SIGKILL, then run again.

The crawl half (every listing stored, none twice, after ``kill -9`` and a re-run) is
``tests/test_crawl_interrupt.py::test_kill_9_mid_crawl_then_rerun_gives_the_full_set``, which
carries the ``faults`` marker too. Here: ``reelguard takedown submit`` killed with SIGKILL by the
marketplace's intake itself, right after it opened a complaint and before the answer reached the
submitter (the worst moment: filed on the platform, not yet recorded here). The next run must
re-send that batch under the same idempotency key, file the rest, and no listing may be filed
twice or left out.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crawler.db.models_takedown import NoticeBatch, TakedownRequest
from crawler.db.session import make_engine, session_factory, session_scope, upgrade
from crawler.demo.server import ServerThread, build_app
from crawler.takedown.queue import enqueue_from_match
from tests.crawl_support import PRIVATE_OK, child_env, cli_cmd, run_cli, sqlite_url
from tests.takedown_support import MEMBER, TAKEDOWN, add_listings, config

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

N_LISTINGS = 650  # three notice batches (an intake takes at most 300 listings per complaint)


def _approved_requests(db: str) -> None:
    upgrade(db)
    engine = make_engine(db)
    try:
        sessions = session_factory(engine)
        lids = add_listings(sessions, N_LISTINGS)
        with session_scope(sessions) as session:
            for lid in lids:  # MEMBER's takedown decisions are approved automatically
                enqueue_from_match(session, lid, MEMBER, TAKEDOWN, config=config())
    finally:
        engine.dispose()


def _batches_and_requests(db: str) -> tuple[list[Any], list[Any]]:
    engine = make_engine(db)
    try:
        with session_scope(session_factory(engine)) as session:
            batches = [(b.id, b.state, b.idempotency_key, b.complaint_id)
                       for b in session.execute(select(NoticeBatch)).scalars()]
            requests = [(r.state, r.notice_batch_id, r.complaint_id)
                        for r in session.execute(select(TakedownRequest)).scalars()]
    finally:
        engine.dispose()
    return batches, requests


def test_submit_killed_between_filing_and_recording_files_nothing_twice(tmp_path: Path) -> None:
    db = sqlite_url(tmp_path)
    _approved_requests(db)
    app = build_app("demobay")
    intake = app.state.site.intake
    victim: dict[str, int] = {}
    original_file = intake.file

    def file_then_kill(key: str, notice: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        answer = original_file(key, notice)
        if intake.complaint_count == 2 and "pid" in victim:  # filed here, not yet recorded there
            os.kill(victim.pop("pid"), signal.SIGKILL)
        return answer

    intake.file = file_then_kill
    with ServerThread(app) as server:
        args = ("takedown", "submit", "--db", db, "--url", f"demobay={server.url}",
                "--allow-without-evidence")
        proc = subprocess.Popen(cli_cmd(*args, "--worker", "first"), cwd=tmp_path,
                                env=child_env(**PRIVATE_OK), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        victim["pid"] = proc.pid
        try:
            _out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == -signal.SIGKILL, (proc.returncode, err[-2000:])
        assert intake.complaint_count == 2
        batches, _ = _batches_and_requests(db)
        assert sorted(state for _id, state, _k, _c in batches) == [
            "prepared", "submitted", "submitting"]

        again = run_cli(*args, "--worker", "second", "--lease", "0", cwd=tmp_path,
                        env=child_env(**PRIVATE_OK))
        assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
        assert "Traceback" not in again.stdout + again.stderr

    assert intake.complaint_count == 3  # three batches, three complaints: the replay reused one
    batches, requests = _batches_and_requests(db)
    assert {state for _id, state, _k, _c in batches} == {"submitted"}
    assert {key: cid for _id, _s, key, cid in batches} == intake.keys
    assert len(requests) == N_LISTINGS and {s for s, _b, _c in requests} == {"submitted"}
    complaint_of = {bid: cid for bid, _s, _k, cid in batches}
    assert all(cid == complaint_of[bid] for _s, bid, cid in requests)
    filed = [lid for c in intake.complaints.values() for lid in c["listings"]]
    assert len(filed) == len(set(filed)) == N_LISTINGS  # nothing twice, nothing lost
