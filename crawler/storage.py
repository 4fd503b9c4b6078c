"""One engine and session factory per database URL per process, migrated once.

Components (pipelines, extensions, the CLI) ask :func:`open_database` for the database the
settings name; the first call runs the Alembic migrations to head, so a fresh SQLite file or an
empty PostgreSQL database is usable at once.

Settings: ``REELGUARD_DATABASE_URL`` (and the environment variable of the same name).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from crawler.db.session import database_url, make_engine, session_factory, upgrade

_lock = threading.Lock()
_open: dict[str, Database] = {}


@dataclass
class Database:
    url: str
    engine: Engine
    sessions: sessionmaker[Session]


def open_database(url: str | None = None, migrate: bool = True) -> Database:
    """The (cached) database at ``url`` (explicit, else env, else the SQLite default)."""
    resolved = database_url(url)
    with _lock:
        db = _open.get(resolved)
        if db is None:
            if migrate:
                upgrade(resolved)
            engine = make_engine(resolved)
            db = Database(url=resolved, engine=engine, sessions=session_factory(engine))
            _open[resolved] = db
        return db


def database_from_settings(settings: Any) -> Database:
    from crawler.config import ReelguardConfig

    return open_database(ReelguardConfig.from_settings(settings).database_url)


def close_all() -> None:
    with _lock:
        for db in _open.values():
            db.engine.dispose()
        _open.clear()
