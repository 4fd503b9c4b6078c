"""SSRF guard: private and link-local addresses are refused unless allow-listed; no file:// fetch.

The demo site counts the requests it receives, so "nothing fetched" is checked at the server.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from crawler.db.models import Listing
from crawler.demo.server import ServerThread, build_app
from tests.crawl_support import (
    PRIVATE_OK,
    assert_one_line_error,
    child_env,
    count,
    events,
    run_cli,
    runs,
    sqlite_url,
)


class Counting:
    """ASGI wrapper that counts the HTTP requests the site receives."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.paths: list[str] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            with self.lock:
                self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture
def counted_mart():
    app = Counting(build_app("demomart"))
    with ServerThread(app) as server:
        yield server.url, app


def _search(tmp_path: Path, db: str, base: str, env: dict[str, str]):
    return run_cli("crawl", "search", "-m", "demomart", "--keywords", "黑暗骑士", "--db", db,
                   "--url", f"demomart={base}", cwd=tmp_path, env=env)


@pytest.mark.timeout(60)
def test_loopback_marketplace_not_allow_listed_is_refused(tmp_path: Path, counted_mart) -> None:
    url, app = counted_mart
    db = sqlite_url(tmp_path)
    proc = _search(tmp_path, db, url, child_env())
    assert_one_line_error(proc, 6, "refused", "REELGUARD_ALLOWED_PRIVATE_HOSTS")
    assert app.paths == []
    refused = events(db, "refused")
    assert refused and all("non-public address 127.0.0.1" in (e.reason or "") for e in refused)
    assert any("/search?" in (e.url or "") for e in refused)
    assert count(db, Listing) == 0
    [run] = runs(db)
    assert run.status == "failed"

    # The same crawl allow-listed fetches (the refusal was the allow-list, not the site).
    proc = _search(tmp_path, db, url, child_env(**PRIVATE_OK))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "/search" in app.paths and count(db, Listing) > 0


@pytest.mark.timeout(60)
def test_link_local_metadata_address_is_refused(tmp_path: Path) -> None:
    db = sqlite_url(tmp_path)
    # Even with loopback allow-listed, 169.254.169.254 (cloud metadata) is not.
    proc = _search(tmp_path, db, "http://169.254.169.254", child_env(**PRIVATE_OK))
    assert_one_line_error(proc, 6, "169.254.169.254")
    refused = events(db, "refused")
    assert refused and all("169.254.169.254" in (e.reason or "") for e in refused)
    assert not events(db, "error")  # refused before any connection was tried


@pytest.mark.timeout(60)
def test_file_urls_are_never_fetched(tmp_path: Path, counted_mart) -> None:
    url, app = counted_mart
    db = sqlite_url(tmp_path)
    proc = _search(tmp_path, db, "file:///etc", child_env(**PRIVATE_OK))
    assert_one_line_error(proc, 2, "file:///etc", "http(s)")
    proc = run_cli("crawl", "listing", "-m", "demomart", "--urls", "file:///etc/passwd",
                   "--db", db, "--url", f"demomart={url}", cwd=tmp_path,
                   env=child_env(**PRIVATE_OK))
    assert_one_line_error(proc, 2, "file:///etc/passwd")
    assert app.paths == []
    assert "root:" not in proc.stdout + proc.stderr
