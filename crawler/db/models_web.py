"""Storage models of the review dashboard (issue 7); see crawler/db/models.py for the rules.

``users``: who may sign in to ``reelguard serve``. A user belongs to one member (rights holder,
the ``member`` of ``takedown_requests``/``matches``) and sees and acts on that member's work
only, or is an administrator (``member`` NULL, ``is_admin`` true) who sees every member's.
``password_hash`` is an argon2id hash (``crawler.web.passwords``); a ``disabled`` user cannot
sign in and an existing session of theirs stops working at its next request.

Every decision a user takes is written to ``takedown_events`` with ``actor = "user:<name>"``,
so this table needs no audit columns of its own.

``sign_in_limits`` (issue 14): the sign-in attempts counted per user name and per (address,
user name), shared by every process of the server (``crawler.web.throttle``).

No settings affect this module.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crawler.db.models import Base, UTCDateTime, utcnow


class User(Base):
    """A person who signs in to the dashboard (see the module docstring)."""

    __tablename__ = "users"
    __table_args__ = (
        # A member user is never an admin and an admin belongs to no member: one rule, enforced
        # by the database so that no code path can make a user who sees everything by accident.
        CheckConstraint(
            "(is_admin AND member IS NULL) OR (NOT is_admin AND member IS NOT NULL)",
            name="member_or_admin",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    member: Mapped[str | None] = mapped_column(String(64))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class SignInLimit(Base):
    """Sign-in attempts counted per key within a window (``crawler.web.throttle``).

    ``key`` is ``name:<user name>`` or ``pair:<address>|<user name>``; ``attempts`` counts the
    attempts admitted since ``window_start``. One row per key, changed only by a conditional
    upsert, so parallel attempts in any number of server processes share one count.
    """

    __tablename__ = "sign_in_limits"
    __table_args__ = (Index(None, "window_start"),)

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
