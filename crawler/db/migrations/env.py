"""Alembic environment for Reelguard's schema (``crawler.db.models.Base.metadata``).

The URL comes from the Alembic config's ``sqlalchemy.url`` when a caller set it
(``crawler.db.session.upgrade`` does), otherwise from ``crawler.db.session.database_url()``:
``$REELGUARD_DATABASE_URL`` or the default SQLite file. A caller may also hand over an open
connection in ``config.attributes["connection"]``.

SQLite runs in batch mode (``render_as_batch``) with foreign keys OFF, because batch mode
recreates tables and ``PRAGMA foreign_keys`` cannot change inside a transaction.

Environment: ``REELGUARD_DATABASE_URL``.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from crawler.db.models import Base, Price, UTCDateTime
from crawler.db.session import database_url, make_engine, normalize_url

config = context.config

if config.config_file_name is not None and config.get_section("loggers") is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    configured = config.get_main_option("sqlalchemy.url")
    return database_url(configured or None)


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations must not import the models: render the UTC type as what it stores.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, Price):
        return "sa.Numeric(precision=14, scale=2, asdecimal=False)"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_item,
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``)."""
    context.configure(
        url=normalize_url(_url()),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=normalize_url(_url()).get_backend_name() == "sqlite",
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a live connection."""
    given = config.attributes.get("connection")
    if given is not None:
        _configure(given)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url(), sqlite_foreign_keys=False, sqlite_begin="IMMEDIATE")
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
