"""Issue 14, item 5: the sign-in limit cannot be raced and does not lock out others.

A real dashboard on 127.0.0.1 (uvicorn in a thread, or ``reelguard serve`` processes), real
HTTP from chosen loopback source addresses: ``127.0.0.3`` is the attacker, ``127.0.0.2`` a TLS
proxy in front of everyone, ``127.0.0.4`` another user. On SQLite and PostgreSQL (the count
lives in the database).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler import storage
from crawler.db.session import make_engine, session_factory, session_scope
from crawler.web import users
from crawler.web.app import create_app
from crawler.web.users import add_user
from tests.hostile.signin_client import serve_process, sign_in, sign_in_together
from tests.web.server import running_server
from tests.web.support import PASSWORD, SECRET, SONY, WARNER

pytestmark = [pytest.mark.hostile, pytest.mark.timeout(300)]

ATTACKER = "127.0.0.3"
PROXY = "127.0.0.2"
OTHER = "127.0.0.4"
WRONG = "not the password"
PARALLEL = 80
LIMIT = 5  # failed attempts per (address, user name): crawler.web.throttle.MAX_PER_ADDRESS


@pytest.fixture
def users_db(db_url: str) -> Iterator[str]:
    engine = make_engine(db_url)
    try:
        with session_scope(session_factory(engine)) as session:
            for name, member in (("alice", WARNER), ("bob", SONY), ("carol", SONY)):
                add_user(session, name, PASSWORD, member=member, allow_unknown_member=True)
    finally:
        engine.dispose()
    yield db_url
    cached = storage._open.pop(db_url, None)  # the app's engine, before the database is dropped
    if cached is not None:
        cached.engine.dispose()


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every argon2 verification the server makes (the real one runs; its result is kept)."""
    made: list[bool] = []
    real = users.verify_password

    def counted(password_hash: str | None, password: str) -> bool:
        result = real(password_hash, password)
        made.append(result)
        return result

    monkeypatch.setattr(users, "verify_password", counted)
    return made


def test_signin_parallel_wrong_passwords_are_counted_before_the_check(
    users_db: str, verifications: list[bool],
) -> None:
    app = create_app(users_db, secret=SECRET)
    with running_server(app) as base:
        statuses = sign_in_together([base], "alice", WRONG, count=PARALLEL, source=ATTACKER)
        assert sorted(set(statuses)) == [401, 429], statuses
        assert statuses.count(401) == LIMIT, statuses
        assert len(verifications) == LIMIT  # only the admitted attempts reached argon2
        # One attacker's failures lock that attacker out of that name, nobody else:
        assert sign_in(base, "bob", source=ATTACKER) == 303
        assert sign_in(base, "alice", source=ATTACKER) == 429  # the right password too
        assert sign_in(base, "alice", source=OTHER) == 303
    assert verifications.count(True) == 2


def test_signin_limit_holds_across_server_processes(users_db: str, tmp_path: Path) -> None:
    """Two ``reelguard serve`` processes over one database: one count, not one per process."""
    log = tmp_path / "serve.log"
    with serve_process(users_db, log) as first, serve_process(users_db, log) as second:
        statuses = sign_in_together([first, second], "alice", WRONG, count=PARALLEL,
                                    source=ATTACKER)
        assert statuses.count(401) == LIMIT, statuses
        assert statuses.count(429) == PARALLEL - LIMIT, statuses
        assert sign_in(second, "bob", source=ATTACKER) == 303
        assert sign_in(first, "alice", source=OTHER) == 303


def test_signin_forwarded_address_only_from_a_trusted_proxy(users_db: str) -> None:
    app = create_app(users_db, secret=SECRET, trusted_proxies=[PROXY])
    with running_server(app) as base:
        # Behind the proxy every user shares its address; the proxy names each one.
        for _ in range(LIMIT):
            assert sign_in(base, "alice", WRONG, source=PROXY,
                           forwarded_for="198.51.100.1") == 401
        assert sign_in(base, "alice", WRONG, source=PROXY, forwarded_for="198.51.100.1") == 429
        assert sign_in(base, "bob", source=PROXY, forwarded_for="198.51.100.2") == 303
        assert sign_in(base, "alice", source=PROXY, forwarded_for="198.51.100.3") == 303
        # A client that is not a configured proxy cannot choose its address: a new forged
        # X-Forwarded-For per attempt buys no extra guesses, and none lands on carol's address.
        for i in range(LIMIT):
            assert sign_in(base, "carol", WRONG, source=ATTACKER,
                           forwarded_for=f"198.51.100.{10 + i}") == 401
        assert sign_in(base, "carol", WRONG, source=ATTACKER,
                       forwarded_for="198.51.100.99") == 429
        assert sign_in(base, "carol", source=PROXY, forwarded_for="198.51.100.10") == 303


def test_signin_trusted_proxies_setting_is_checked_at_start() -> None:
    from crawler.exceptions import ConfigError
    from crawler.web.proxies import parse_trusted_proxies

    assert parse_trusted_proxies(" 10.0.0.5, 172.16.0.0/12,::1 ") == [
        "10.0.0.5", "172.16.0.0/12", "::1"]
    assert parse_trusted_proxies("") == [] and parse_trusted_proxies(None) == []
    for bad in ("*", "proxy.internal", "10.0.0.300"):
        with pytest.raises(ConfigError, match="REELGUARD_WEB_TRUSTED_PROXIES"):
            parse_trusted_proxies(bad)
