"""``reelguard worker``'s user errors: one line and a distinct exit code, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.crawl_support import assert_one_line_error, run_cli
from tests.distributed.conftest import MACHINE_REDIS, env_for, free_port

pytestmark = pytest.mark.distributed


@pytest.mark.timeout(60)
def test_worker_without_a_database_is_a_configuration_error(tmp_path: Path) -> None:
    proc = run_cli("worker", cwd=tmp_path, env=env_for(MACHINE_REDIS, "rgtest:none"))
    assert_one_line_error(proc, 2, "--db")


@pytest.mark.timeout(60)
def test_worker_with_redis_unreachable_exits_7_within_the_wait(tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    env = env_for(dead, "rgtest:none", REELGUARD_REDIS_WAIT="2")
    started = time.monotonic()
    proc = run_cli("worker", "--db", f"sqlite:///{tmp_path / 'x.db'}", cwd=tmp_path, env=env)
    assert_one_line_error(proc, 7, "unreachable for 2 s", "REELGUARD_REDIS_WAIT")
    assert time.monotonic() - started < 30


@pytest.mark.timeout(60)
def test_worker_with_no_crawl_to_join_exits_0(tmp_path: Path, redis_prefix: str) -> None:
    proc = run_cli("worker", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--idle-timeout", "1",
                   cwd=tmp_path, env=env_for(MACHINE_REDIS, redis_prefix))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no crawl to join" in proc.stdout
