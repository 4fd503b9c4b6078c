"""Engines, sessions and migrations: how the rest of Reelguard opens its database.

* ``database_url()`` picks the URL: an explicit one (``--database-url``, the Scrapy setting
  ``REELGUARD_DATABASE_URL``) beats the environment variable of the same name, which beats
  ``DEFAULT_DATABASE_URL`` (a SQLite file under ``var/`` in the current directory).
* ``make_engine()`` applies the per-backend settings crawls rely on: for SQLite, WAL,
  ``busy_timeout`` (30 s, or ``$REELGUARD_SQLITE_BUSY_TIMEOUT`` seconds), ``foreign_keys=ON``, ``synchronous=NORMAL`` and ``BEGIN IMMEDIATE``
  transactions (so two writers queue on the lock instead of failing with "database is locked"
  when a read-then-write transaction loses its snapshot); for PostgreSQL, the psycopg 3 driver
  and ``pool_pre_ping``.
* ``session_scope()`` is the only place that commits: data functions in ``crawler.db.repo``
  take a session and never commit (STYLE.md principle 6).
* ``upgrade()`` / ``current_revision()`` run the Alembic chain shipped in
  ``crawler/db/migrations`` without needing ``alembic.ini``.

Environment: ``REELGUARD_DATABASE_URL``, ``REELGUARD_SQLITE_BUSY_TIMEOUT`` (seconds a SQLite
write waits for another writer's lock before ``DatabaseLocked``; default 30).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from crawler.db.errors import DatabaseLocked, DatabaseUnreachable, InvalidDatabaseURL

DEFAULT_DATABASE_URL = "sqlite:///var/reelguard.db"
ENV_VAR = "REELGUARD_DATABASE_URL"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

SQLITE_BUSY_TIMEOUT_MS = 30000
BUSY_TIMEOUT_ENV_VAR = "REELGUARD_SQLITE_BUSY_TIMEOUT"


def sqlite_busy_timeout_ms() -> int:
    """How long a SQLite write waits for a lock: ``$REELGUARD_SQLITE_BUSY_TIMEOUT`` s, else 30 s."""
    raw = os.environ.get(BUSY_TIMEOUT_ENV_VAR, "").strip()
    if not raw:
        return SQLITE_BUSY_TIMEOUT_MS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        from crawler.exceptions import ConfigError

        raise ConfigError(f"{BUSY_TIMEOUT_ENV_VAR}={raw!r}: expected a number of seconds >= 0")
    return int(seconds * 1000)


def database_url(explicit: str | None = None) -> str:
    """The database URL to use: ``explicit`` > ``$REELGUARD_DATABASE_URL`` > the default."""
    if explicit:
        return explicit
    from_env = os.environ.get(ENV_VAR, "").strip()
    if from_env:
        return from_env
    return DEFAULT_DATABASE_URL


def _safe(url: str | URL) -> str:
    """The URL as a string without its password, for messages."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "<unparseable database URL>"


def normalize_url(url: str) -> URL:
    """Parse ``url``, mapping bare ``postgresql://``/``postgres://`` to psycopg 3.

    Raises ``InvalidDatabaseURL`` with a one-line message when the URL cannot be parsed.
    """
    raw = url.strip()
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    try:
        parsed = make_url(raw)
    except exc.ArgumentError as err:
        raise InvalidDatabaseURL(f"malformed database URL {raw!r}: {err}", url=None) from err
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for in-memory / URI-mode databases."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _prepare_sqlite_file(url: URL) -> None:
    path = _sqlite_path(url)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatabaseUnreachable(
            f"cannot create the directory for SQLite database {path}: {err}", url=_safe(url)
        ) from err


def make_engine(
    url: str | None = None,
    *,
    sqlite_foreign_keys: bool = True,
    sqlite_begin: str = "IMMEDIATE",
    **engine_kwargs: Any,
) -> Engine:
    """Create an engine for ``url`` (see ``database_url``) with Reelguard's backend settings.

    ``sqlite_foreign_keys=False`` is for migrations only: Alembic's batch mode recreates
    tables, which with foreign keys on would cascade-delete referencing rows.
    ``sqlite_begin`` is the SQLite transaction mode ("IMMEDIATE" or "DEFERRED").
    The engine connects lazily; call ``ping()`` to fail early on an unreachable database.
    """
    parsed = normalize_url(database_url(url))
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = dict(engine_kwargs)
    if backend == "sqlite":
        _prepare_sqlite_file(parsed)
    elif backend == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        if "connect_timeout" not in parsed.query:
            kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", 10)
    try:
        engine = create_engine(parsed, **kwargs)
    except exc.NoSuchModuleError as err:
        raise InvalidDatabaseURL(
            f"unknown database dialect in {_safe(parsed)}: {err}", url=_safe(parsed)
        ) from err
    except ImportError as err:
        raise InvalidDatabaseURL(
            f"database driver for {_safe(parsed)} is not installed: {err}", url=_safe(parsed)
        ) from err
    except (exc.ArgumentError, TypeError) as err:
        raise InvalidDatabaseURL(f"bad database URL {_safe(parsed)}: {err}") from err
    if backend == "sqlite":
        _configure_sqlite(engine, foreign_keys=sqlite_foreign_keys, begin=sqlite_begin)
    return engine


def _configure_sqlite(engine: Engine, *, foreign_keys: bool, begin: str) -> None:
    begin_sql = f"BEGIN {begin.upper()}"
    if begin.upper() not in {"IMMEDIATE", "DEFERRED", "EXCLUSIVE"}:
        raise ValueError(f"sqlite_begin must be IMMEDIATE, DEFERRED or EXCLUSIVE, not {begin!r}")
    busy_ms = sqlite_busy_timeout_ms()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # sqlite3's legacy transaction control would emit its own deferred BEGIN; take over.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin_sql)


def ping(engine: Engine) -> None:
    """Open and close one connection; raise ``DatabaseUnreachable`` with one line if it fails."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except exc.DBAPIError as err:
        raise DatabaseUnreachable(
            f"cannot reach the database at {_safe(engine.url)}: {_first_line(err.orig)}",
            url=_safe(engine.url),
        ) from err


def _first_line(err: BaseException | None) -> str:
    text = str(err).strip() if err is not None else ""
    return text.splitlines()[0] if text else type(err).__name__


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that is committed if the block succeeds and rolled back if it raises.

    A SQLite lock held past ``busy_timeout`` becomes ``DatabaseLocked`` and a dropped
    connection ``DatabaseUnreachable`` (both keep the driver error as ``__cause__``).
    """
    session = factory()
    try:
        yield session
        session.commit()
    except exc.OperationalError as err:
        session.rollback()
        url = _safe(session.get_bind().engine.url)
        if "database is locked" in str(err.orig):
            raise DatabaseLocked(
                f"SQLite database {url} stayed locked for more than "
                f"{sqlite_busy_timeout_ms() / 1000:g}s (another writer holds it)",
                url=url,
            ) from err
        if err.connection_invalidated:
            raise DatabaseUnreachable(
                f"lost the connection to the database at {url}: {_first_line(err.orig)}", url=url
            ) from err
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` for the packaged migrations, pointed at ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    rendered = normalize_url(database_url(url)).render_as_string(hide_password=False)
    # ConfigParser interpolation: a literal "%" (URL-encoded passwords) must be doubled.
    cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Run ``alembic upgrade <revision>`` on ``url`` (creates the SQLite file if needed)."""
    engine = make_engine(url)
    try:
        ping(engine)
    finally:
        engine.dispose()
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str | None = None) -> str | None:
    """The revision the database at ``url`` is at (None for an empty database)."""
    engine = make_engine(url)
    try:
        ping(engine)
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision shipped with this package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg).get_current_head()
