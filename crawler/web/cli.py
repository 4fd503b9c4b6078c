"""``reelguard users add|list`` and ``reelguard serve``.

* ``reelguard users add NAME (--member M | --admin) [--password-stdin] [--db URL]``: create a
  dashboard user; the password is read from standard input (first line) with
  ``--password-stdin``, else prompted for twice without echo. A member must be one the
  database knows (from a catalogue or a request).
* ``reelguard users list [--db URL]``: the users, their scope and whether they are disabled.
* ``reelguard serve [--host 127.0.0.1] [--port 8765] [--db URL] [--https]``: the review
  dashboard (uvicorn). It listens on loopback unless told otherwise; ``--https`` marks the
  session cookie ``Secure`` (for use behind a TLS-terminating proxy).

Exit codes: 2 a bad user or option, 4 database.

Settings: ``REELGUARD_DATABASE_URL`` (or ``--db``), ``REELGUARD_WEB_SECRET``,
``REELGUARD_WEB_TRUSTED_PROXIES`` (proxies whose ``X-Forwarded-For`` is believed; a bad entry
exits 2), ``REELGUARD_EVIDENCE_DIR``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

users_app = typer.Typer(help="Users of the review dashboard.", no_args_is_help=True)

DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL")]


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ -)")],
    member: Annotated[
        str | None, typer.Option("--member", help="The member whose requests the user sees")
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="An administrator (every member)")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
    db: DbOpt = None,
) -> None:
    """Create a dashboard user."""
    from crawler.cli import guarded, out

    def run() -> None:
        from crawler.db.session import session_scope
        from crawler.storage import open_database
        from crawler.web.users import UserError, add_user

        if admin == (member is not None):
            raise UserError("give exactly one of --member NAME or --admin")
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        database = open_database(db)
        with session_scope(database.sessions) as session:
            user = add_user(session, name, password, member=member, admin=admin)
            scope = "administrator" if user.is_admin else f"member {user.member}"
        out.print(f"user {name} added ({scope})", highlight=False, markup=False)

    guarded(run)


@users_app.command("list")
def users_list(db: DbOpt = None) -> None:
    """The dashboard's users."""
    from rich.table import Table
    from rich.text import Text

    from crawler.cli import guarded, out

    def run() -> None:
        from crawler.db.session import session_scope
        from crawler.storage import open_database
        from crawler.web.users import list_users

        database = open_database(db)
        with session_scope(database.sessions) as session:
            users = list_users(session)
        table = Table()
        for col in ("user", "scope", "created", "disabled"):
            table.add_column(col)
        for u in users:
            table.add_row(Text(u.username), Text("administrator" if u.is_admin else
                                                 f"member {u.member}"),
                          u.created_at.strftime("%Y-%m-%d %H:%M"), "yes" if u.disabled else "")
        out.print(table)

    guarded(run)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8765,
    db: DbOpt = None,
    https: Annotated[
        bool, typer.Option("--https", help="Served over https (behind a proxy): Secure cookies")
    ] = False,
) -> None:
    """Serve the review dashboard (queue, requests, sellers, runs, overview)."""
    from crawler.cli import guarded, out

    def run() -> None:
        import uvicorn

        from crawler.exceptions import ConfigError
        from crawler.web.app import create_app

        if not 0 <= port <= 65535:
            raise ConfigError(f"--port {port}: not a port number")
        app = create_app(db, https=https)
        out.print(f"Reelguard dashboard on http://{host}:{port}/ (Ctrl-C to stop)",
                  highlight=False, markup=False)
        try:
            uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False,
                        server_header=False)
        except OSError as exc:  # pragma: no cover - uvicorn exits on bind errors itself
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc

    guarded(run)
