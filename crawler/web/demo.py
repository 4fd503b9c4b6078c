"""The end of ``make demo``: dashboard accounts and where to open it.

Creates (idempotently) an administrator ``demo-admin`` and a member user ``demo-member`` for
the member with the most requests waiting for review, both with the documented demo password
:data:`DEMO_PASSWORD`, and prints the ``reelguard serve`` command and the address. A demo
password is fine on a loopback demo; real users are made with ``reelguard users add``.

No settings affect this module.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.engine import make_url

from crawler.db.models_takedown import TakedownRequest
from crawler.db.models_web import User
from crawler.db.session import session_scope
from crawler.web.users import add_user

DEMO_ADMIN = "demo-admin"
DEMO_MEMBER = "demo-member"
DEMO_PASSWORD = "reelguard-demo"
DEFAULT_ADDRESS = "http://127.0.0.1:8765/"


def ensure_demo_users(database: Any) -> str | None:
    """Create the demo users if missing; return the member of ``demo-member`` (or None)."""
    with session_scope(database.sessions) as session:
        existing = {u.username: u for u in session.execute(
            select(User).where(User.username.in_([DEMO_ADMIN, DEMO_MEMBER]))).scalars()}
        if DEMO_ADMIN not in existing:
            add_user(session, DEMO_ADMIN, DEMO_PASSWORD, admin=True)
        if DEMO_MEMBER in existing:
            return existing[DEMO_MEMBER].member
        # The member with the most requests waiting for review: the demo member has work.
        pending = func.sum(case((TakedownRequest.state == "pending_review", 1), else_=0))
        member = session.execute(
            select(TakedownRequest.member).group_by(TakedownRequest.member)
            .order_by(pending.desc(), func.count().desc(), TakedownRequest.member).limit(1)
        ).scalar_one_or_none()
        if member is None:
            return None
        add_user(session, DEMO_MEMBER, DEMO_PASSWORD, member=member)
        return member


def after_demo(database: Any, out: Any) -> None:
    """Print the dashboard's address and the demo accounts (the last lines of the demo)."""
    member = ensure_demo_users(database)
    url = database.url
    shown = make_url(url).render_as_string(hide_password=True)
    db_opt = "" if url == "sqlite:///var/reelguard.db" else f" --db {shown}"
    out.print(f"dashboard: .venv/bin/reelguard serve{db_opt}  then open {DEFAULT_ADDRESS}",
              highlight=False, markup=False)
    out.print(f"  sign in as {DEMO_ADMIN} / {DEMO_PASSWORD} (administrator, every member)",
              highlight=False, markup=False)
    if member:
        out.print(f"  or {DEMO_MEMBER} / {DEMO_PASSWORD} (sees {member} only)",
                  highlight=False, markup=False)
