"""``reelguard users add|list``, the demo accounts, ``reelguard serve``'s options, and the
users migration up and down."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from rich.console import Console
from sqlalchemy import inspect, select
from typer.testing import CliRunner

from crawler.cli import app
from crawler.db.models_web import User
from crawler.db.session import alembic_config, make_engine, session_factory, session_scope, upgrade
from crawler.storage import open_database
from crawler.web.demo import DEMO_ADMIN, DEMO_MEMBER, DEMO_PASSWORD, after_demo
from crawler.web.passwords import verify_password
from tests.web.support import SONY, WebData

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def db_backend() -> str:
    return "sqlite"


def test_web_users_add_and_list(web_data: tuple[str, Path, WebData]) -> None:
    db_url = web_data[0]
    runner = CliRunner()
    added = runner.invoke(app, ["users", "add", "carol", "--member", SONY, "--password-stdin",
                                "--db", db_url], input="a long enough secret\n")
    assert added.exit_code == 0, added.output
    assert f"user carol added (member {SONY})" in added.output
    for args, stdin, message in (
        (["users", "add", "carol", "--admin"], "another secret!\n", "already exists"),
        (["users", "add", "dave", "--member", "Nobody Films"], "a long enough secret\n",
         "unknown member 'Nobody Films'"),
        (["users", "add", "erin", "--member", SONY, "--admin"], "x\n", "exactly one of"),
        (["users", "add", "frank", "--admin"], "short\n", "password too short"),
        (["users", "add", "<script>", "--admin"], "a long enough secret\n", "user name"),
    ):
        result = runner.invoke(app, [*args, "--password-stdin", "--db", db_url], input=stdin)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
    listed = runner.invoke(app, ["users", "list", "--db", db_url], env={"COLUMNS": "200"})
    assert listed.exit_code == 0
    assert "carol" in listed.output and "administrator" in listed.output
    engine = make_engine(db_url)
    try:
        with session_scope(session_factory(engine)) as session:
            carol = session.execute(select(User).where(User.username == "carol")).scalar_one()
            assert carol.password_hash.startswith("$argon2id$")
            assert verify_password(carol.password_hash, "a long enough secret")
            assert not verify_password(carol.password_hash, "a long enough secreT")
    finally:
        engine.dispose()


def test_web_demo_accounts_are_created_once(web_data: tuple[str, Path, WebData]) -> None:
    db_url = web_data[0]
    database = open_database(db_url)
    console = Console(record=True, width=200)
    after_demo(database, console)
    after_demo(database, console)
    text = console.export_text()
    assert f"{DEMO_ADMIN} / {DEMO_PASSWORD}" in text and "reelguard serve" in text
    assert "http://127.0.0.1:8765/" in text
    with session_scope(database.sessions) as session:
        users = {u.username: u for u in session.execute(select(User)).scalars()}
    assert users[DEMO_ADMIN].is_admin and users[DEMO_ADMIN].member is None
    # Both members have three or more pending requests; Warner has the most.
    assert users[DEMO_MEMBER].member == "Warner Bros. Entertainment"


def test_web_serve_refuses_a_bad_port() -> None:
    result = CliRunner().invoke(app, ["serve", "--port", "70000", "--db", "sqlite:///:memory:"])
    assert result.exit_code == 2 and "not a port number" in result.output


def test_web_users_migration_up_and_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        assert "users" in inspect(engine).get_table_names()
        command.downgrade(alembic_config(url), "0005")
        assert "users" not in inspect(engine).get_table_names()
        upgrade(url)
        assert "users" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
