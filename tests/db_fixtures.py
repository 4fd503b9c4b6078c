"""Database fixtures: every test that asks for them runs on SQLite *and* PostgreSQL.

Loaded from ``tests/conftest.py`` with ``pytest_plugins = ["tests.db_fixtures"]``.

* ``db_backend`` is parametrized ``sqlite`` / ``postgres`` (the latter marked
  ``pytest.mark.postgres``, so ``-m "not postgres"`` deselects it).
* ``empty_db_url`` is a fresh, un-migrated database: a SQLite file under ``tmp_path``, or a
  PostgreSQL database ``rg_test_<hex>`` created on the server and dropped ``WITH (FORCE)`` at
  teardown.
* ``db_url`` is the same database migrated to head; ``db_engine`` / ``db_sessions`` open it.

Environment: ``REELGUARD_TEST_POSTGRES_URL`` (admin URL of a database to connect to for
``CREATE DATABASE``; default ``postgresql://postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from crawler.db.session import make_engine, session_factory, upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "REELGUARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@contextmanager
def postgres_database(admin_url: str = POSTGRES_ADMIN_URL) -> Iterator[str]:
    """Create a throw-away database ``rg_test_<hex>``; yield its URL; drop it afterwards."""
    name = f"rg_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def db_backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgres"``: each dependent test runs once per backend."""
    return str(request.param)


@pytest.fixture
def empty_db_url(db_backend: str, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh database with no tables (not migrated)."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'reelguard.db'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """URL of a fresh database migrated to head."""
    upgrade(empty_db_url)
    return empty_db_url


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """An engine on the migrated test database, disposed before the database is dropped."""
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def db_sessions(db_engine: Engine) -> sessionmaker[Session]:
    """A session factory for ``crawler.db.session.session_scope``."""
    return session_factory(db_engine)
