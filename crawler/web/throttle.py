"""Failed sign-ins are limited, so passwords cannot be guessed at the speed of the server.

Two counts, each a window of ``WINDOW_S`` seconds, both kept in the database (table
``sign_in_limits``) so that every worker and process of the server shares them:

* per (client address, user name): ``MAX_PER_ADDRESS`` attempts. One guesser locks only itself
  out of that name; another user at the same address (everyone behind one proxy) is untouched.
* per user name, from every address: ``MAX_PER_NAME`` attempts, against guessing spread over
  many addresses. It is larger than the first, so one address cannot lock a name out for
  everyone.

An attempt is *counted before the password is checked*: :meth:`SignInLimit.admit` takes a slot
in both counts in one transaction with a conditional upsert (``INSERT … ON CONFLICT DO UPDATE
… WHERE attempts < limit RETURNING``), which the database applies one at a time per row; when
either count is full nothing is taken and the attempt is refused (429) whatever the password,
so a guesser neither learns that it found it nor gets more checks by sending in parallel. A
successful sign-in clears both counts of that name and address. The client address is the
peer's, or the one a configured proxy forwarded (``crawler.web.proxies``).

No settings affect this module.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, select
from sqlalchemy.orm import Session, sessionmaker

from crawler.db.models import utcnow
from crawler.db.models_web import SignInLimit as Row
from crawler.db.session import session_scope
from crawler.db.sql import _insert

MAX_PER_ADDRESS = 5
MAX_PER_NAME = 20
WINDOW_S = 15 * 60.0
CLEANUP_BATCH = 200  # expired rows removed per attempt (random names must not pile up)


class _Full(Exception):
    """A count is full: the attempt is refused (raised to roll the other count back)."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s


def _name(username: str) -> str:
    return username.strip().lower()[:100]


class SignInLimit:
    """The two counts of the module docstring over the database behind ``sessions``."""

    def __init__(self, sessions: sessionmaker[Session], *,
                 max_per_address: int = MAX_PER_ADDRESS, max_per_name: int = MAX_PER_NAME,
                 window_s: float = WINDOW_S) -> None:
        self.sessions = sessions
        self.max_per_address = max_per_address
        self.max_per_name = max_per_name
        self.window = timedelta(seconds=window_s)

    def keys(self, username: str, address: str | None) -> list[tuple[str, int]]:
        """``(key, limit)`` of each count an attempt takes, the narrower first."""
        name = _name(username)
        return [(f"pair:{(address or '-')[:64]}|{name}", self.max_per_address),
                (f"name:{name}", self.max_per_name)]

    def admit(self, username: str, address: str | None, now: datetime | None = None) -> float:
        """Count one attempt; 0 when admitted, else the seconds until one would be."""
        now = now or utcnow()
        try:
            with session_scope(self.sessions) as session:
                for key, limit in self.keys(username, address):
                    if not self._take(session, key, limit, now):
                        raise _Full(self._wait_s(session, key, now))
                self._cleanup(session, now)
        except _Full as full:
            return full.wait_s
        return 0.0

    def succeeded(self, username: str, address: str | None) -> None:
        with session_scope(self.sessions) as session:
            session.execute(delete(Row).where(
                Row.key.in_([key for key, _ in self.keys(username, address)])))

    def _take(self, session: Session, key: str, limit: int, now: datetime) -> bool:
        """One slot of ``key``'s count, atomically; False when the count is full."""
        cutoff = now - self.window
        stmt: Any = _insert(session, Row).values(key=key, attempts=1, window_start=now)
        expired = Row.window_start <= cutoff
        stmt = stmt.on_conflict_do_update(
            index_elements=[Row.key],
            set_={
                # A window that has passed starts again with this attempt.
                "attempts": case((expired, 1), else_=Row.attempts + 1),
                "window_start": case((expired, stmt.excluded.window_start),
                                     else_=Row.window_start),
            },
            where=expired | (Row.attempts < limit),
        ).returning(Row.attempts)
        return session.execute(stmt).first() is not None

    def _wait_s(self, session: Session, key: str, now: datetime) -> float:
        start = session.execute(select(Row.window_start).where(Row.key == key)).scalar_one()
        return max(1.0, (start + self.window - now).total_seconds())

    def _cleanup(self, session: Session, now: datetime) -> None:
        # SKIP LOCKED (PostgreSQL): never wait for a row another attempt is counting on, so
        # the cleanup cannot deadlock with it; SQLite has one writer at a time anyway.
        expired = (select(Row.key).where(Row.window_start <= now - self.window)
                   .limit(CLEANUP_BATCH).with_for_update(skip_locked=True))
        session.execute(delete(Row).where(Row.key.in_(expired)))
