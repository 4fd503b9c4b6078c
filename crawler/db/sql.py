"""Statement helpers shared by the data functions: dialect-specific inserts, upserts built
once per dialect and run on the session's own DBAPI cursor on SQLite, value conversions.

No settings affect this module; the database comes from the session's bind."""


from __future__ import annotations

import dataclasses
import enum
import math
import weakref
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import PurePath
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    case,
    func,
    literal,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import InstrumentedAttribute, Session

# --------------------------------------------------------------------------- helpers


def _insert(session: Session, model: type[Any]) -> Any:
    """A dialect-specific INSERT (with ``on_conflict_do_*``) for the session's database."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"upserts are implemented for SQLite and PostgreSQL, not {dialect}")


def _dialect(session: Session) -> str:
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(
            f"upserts are implemented for SQLite and PostgreSQL, not {dialect}"
        )
    return dialect


def _table_insert(dialect: str, model: type[Any]) -> Any:
    """A Core INSERT (with ``on_conflict_do_*``) on ``model``'s table for ``dialect``."""
    target = cast(Table, model.__table__)
    return postgresql.insert(target) if dialect == "postgresql" else sqlite.insert(target)


def _binds(model: type[Any], names: Iterable[str]) -> dict[str, Any]:
    """``{column: :p_column}``: one typed bind parameter per column (an UPDATE reserves the
    column names themselves)."""
    cols = cast(Table, model.__table__).c
    return {n: bindparam(f"p_{n}", type_=cols[n].type) for n in names}


def _params(values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters for a statement built with ``_binds``."""
    return {f"p_{k}": v for k, v in values.items()}


class _Prepared:
    """A template statement compiled once for a dialect: its SQL text, and for each positional
    parameter the bind name and SQLAlchemy's bind processor (type conversion) for it."""

    __slots__ = ("binds", "fixed", "sql")

    def __init__(self, stmt: Any, dialect: Dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        processors = compiled._bind_processors
        self.sql = compiled.string
        self.binds = [(name, processors.get(name)) for name in compiled.positiontup or ()]
        # Values written into the statement itself (e.g. ``removed_at=None``).
        self.fixed = {
            name: bind.effective_value
            for name, bind in compiled.binds.items()
            if not name.startswith("p_")
        }

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        fixed = self.fixed
        return [
            value if proc is None or value is None else proc(value)
            for name, proc in self.binds
            for value in (params[name] if name in params else fixed[name],)
        ]


_prepared: weakref.WeakKeyDictionary[Dialect, dict[int, _Prepared]] = (
    weakref.WeakKeyDictionary()
)


def _scalar(session: Session, stmt: Any, params: dict[str, Any]) -> Any:
    """Execute a template statement in the session's transaction; its first value or None.

    On SQLite the statement goes straight to the DBAPI cursor: it is compiled once, bound with
    SQLAlchemy's own type processors and run in the transaction the session began, so the SQL
    and the values are the ones ``session.execute`` would send, for a fifth of the time (this
    runs three times per stored listing). Driver errors are wrapped as SQLAlchemy's (e.g.
    ``OperationalError`` with ``.orig``), as ``session.execute`` does. Statements here are not
    echoed and fire no cursor events. Other backends use ``session.execute``.
    """
    conn = session.connection()
    dialect = conn.dialect
    if dialect.name != "sqlite" or dialect.paramstyle != "qmark":
        return session.execute(stmt, params).scalar()
    per_dialect = _prepared.setdefault(dialect, {})
    prepared = per_dialect.get(id(stmt))
    if prepared is None:
        prepared = per_dialect[id(stmt)] = _Prepared(stmt, dialect)
    args = prepared.args(params)
    dbapi_error = dialect.loaded_dbapi.Error
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(prepared.sql, args)
        row = cursor.fetchone()
    except dbapi_error as err:
        raise sa_exc.DBAPIError.instance(
            prepared.sql, args, err, dbapi_error, dialect=dialect
        ) from err
    finally:
        cursor.close()
    return None if row is None else row[0]


def _scalar_one(session: Session, stmt: Any, params: dict[str, Any]) -> Any:
    value = _scalar(session, stmt, params)
    if value is None:
        raise sa_exc.NoResultFound("No row was found when one was required")
    return value


# The hot upserts (one of each per stored listing) are built once per dialect and variant as
# statements with bind parameters: building and cache-keying a fresh statement per row cost
# more than the database work. Each statement does what the per-row one it replaced did; a
# value that is None binds NULL, so ``COALESCE(:value, column)`` keeps the stored value.


def _text(value: str | None) -> str | None:
    """Strip; empty strings become None (an empty field is a missing field, not a value)."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def _require_aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value


def _later(column: Any, value: Any) -> ColumnElement[datetime]:
    """``max(column, value)``, portable (no GREATEST on SQLite)."""
    return case((value > column, value), else_=column)


def _keep_or_fill(column: InstrumentedAttribute[Any], value: Any) -> ColumnElement[Any]:
    """``COALESCE(column, value)``: keep what is stored, fill it only if empty."""
    return func.coalesce(column, literal(value, column.type))


def json_safe(value: Any) -> Any:
    """``value`` with only JSON types: datetimes/dates as ISO strings, sets as lists, etc."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_safe(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((json_safe(v) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return str(value)


