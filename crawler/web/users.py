"""Dashboard users: create, list, authenticate (data functions; they take a session and never
commit, STYLE.md principle 6).

A user belongs to exactly one member (sees that member's requests only) or is an administrator
(sees every member's); the ``users`` table enforces the either-or with a check constraint.

No settings affect this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crawler.db.models import CatalogTitle
from crawler.db.models_takedown import TakedownRequest
from crawler.db.models_web import User
from crawler.exceptions import ConfigError
from crawler.web.passwords import MIN_LENGTH, hash_password, needs_rehash, verify_password

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")


class UserError(ConfigError):
    """A user that cannot be created as asked (one line, exit 2)."""


@dataclass(frozen=True)
class Principal:
    """Who is signed in: what every scoped query is given (never a template decision)."""

    user_id: int
    username: str
    member: str | None
    is_admin: bool

    @property
    def actor(self) -> str:
        """The ``takedown_events.actor`` of this user's decisions."""
        return f"user:{self.username}"


def principal_of(user: User) -> Principal:
    return Principal(user.id, user.username, user.member, bool(user.is_admin))


def known_members(session: Session) -> list[str]:
    """Members that have a catalogue or a request: a new member user must name one of them."""
    names = set(session.execute(select(CatalogTitle.member).distinct()).scalars())
    names |= set(session.execute(select(TakedownRequest.member).distinct()).scalars())
    return sorted(names)


def add_user(
    session: Session, username: str, password: str, *, member: str | None = None,
    admin: bool = False, allow_unknown_member: bool = False,
) -> User:
    """Create a user; refuse a bad name, a short password, a taken name, or an unknown member."""
    if not USERNAME.match(username):
        raise UserError(
            f"user name {username!r}: 2-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    if admin == (member is not None):
        raise UserError("give exactly one of --member NAME or --admin")
    if len(password) < MIN_LENGTH:
        raise UserError(f"password too short: at least {MIN_LENGTH} characters")
    if member is not None and not allow_unknown_member:
        members = known_members(session)
        if member not in members:
            shown = ", ".join(members) or "none yet (import a catalogue first)"
            raise UserError(f"unknown member {member!r}; members: {shown}")
    taken = session.execute(
        select(func.count()).select_from(User).where(User.username == username)
    ).scalar_one()
    if taken:
        raise UserError(f"user {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), member=member,
                is_admin=admin, disabled=False)
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.username)).scalars())


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The enabled user with this name and password, else None (same cost either way)."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def active_user(session: Session, user_id: int) -> User | None:
    """The user behind a session, if it still exists and is not disabled."""
    user = session.get(User, user_id)
    if user is None or user.disabled:
        return None
    return user
