"""Fixtures of the dashboard tests: a populated database (SQLite and PostgreSQL through
``db_url``), its evidence store under ``tmp_path``, the app and signed-in clients.

No settings affect this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from crawler import storage
from crawler.db.session import make_engine, session_factory
from crawler.web.app import create_app
from tests.web.support import SECRET, WebData, build, login


@pytest.fixture
def web_data(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Path, WebData]]:
    engine = make_engine(db_url)
    store_dir = tmp_path / "evidence"
    try:
        data = build(session_factory(engine), store_dir)
    finally:
        engine.dispose()
    yield db_url, store_dir, data
    # The app's cached engine must let go before the PostgreSQL database is dropped.
    cached = storage._open.pop(db_url, None)
    if cached is not None:
        cached.engine.dispose()


@pytest.fixture
def web_app(web_data: tuple[str, Path, WebData]) -> Starlette:
    db_url, store_dir, _ = web_data
    return create_app(db_url, secret=SECRET, evidence_dir=store_dir)


@pytest.fixture
def client_for(web_app: Starlette) -> Iterator[Callable[[str | None], TestClient]]:
    """``client_for("alice")``: a client signed in as alice (None: not signed in)."""
    clients: list[TestClient] = []

    def make(username: str | None) -> TestClient:
        client = TestClient(web_app, base_url="http://127.0.0.1")
        clients.append(client)
        if username is not None:
            response = login(client, username)
            assert response.status_code == 303, response.text
        return client

    yield make
    for client in clients:
        client.close()
