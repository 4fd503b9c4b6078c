"""Sign-in attempts over real HTTP from a chosen loopback source address (127.0.0.0/8 is all
loopback on Linux, so one machine can play the attacker, the proxy and the users), many at
once: each attempt opens its own connection first and all are sent together.

No settings affect this module.
"""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from tests.web.support import PASSWORD, SECRET

TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Form:
    """A sign-in form's session cookie and CSRF token, as a browser would hold them."""

    cookie: str
    token: str


def _connection(base_url: str, source: str) -> http.client.HTTPConnection:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                      timeout=TIMEOUT_S, source_address=(source, 0))
    conn.connect()
    return conn


def open_form(base_url: str, source: str = "127.0.0.1") -> Form:
    """GET /login from ``source``: the cookie and token a POST must carry."""
    conn = _connection(base_url, source)
    try:
        conn.request("GET", "/login")
        response = conn.getresponse()
        html = response.read().decode()
        cookie = (response.getheader("set-cookie") or "").split(";", 1)[0]
    finally:
        conn.close()
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert cookie and found, "the sign-in page gave no session cookie or CSRF token"
    return Form(cookie, found.group(1))


def _send(conn: http.client.HTTPConnection, form: Form, username: str, password: str,
          forwarded_for: str | None) -> int:
    body = urlencode({"username": username, "password": password, "csrf_token": form.token,
                      "next": "/queue"})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": form.cookie}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    try:
        conn.request("POST", "/login", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def sign_in(base_url: str, username: str, password: str = PASSWORD, *,
            source: str = "127.0.0.1", forwarded_for: str | None = None) -> int:
    """One attempt; its status (303 signed in, 401 wrong, 429 refused by the limit)."""
    form = open_form(base_url, source)
    return _send(_connection(base_url, source), form, username, password, forwarded_for)


def sign_in_together(targets: list[str], username: str, password: str, *, count: int,
                     source: str = "127.0.0.1") -> list[int]:
    """``count`` attempts at once, spread over the servers in ``targets``; their statuses."""
    forms = {url: open_form(url, source) for url in targets}
    plan = [targets[i % len(targets)] for i in range(count)]
    conns = [_connection(url, source) for url in plan]  # every connection open before any send
    start = threading.Barrier(count)

    def attempt(i: int) -> int:
        start.wait(TIMEOUT_S)
        return _send(conns[i], forms[plan[i]], username, password, None)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(attempt, range(count)))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_process(db_url: str, log: Path) -> Iterator[str]:
    """``reelguard serve`` in its own process on a free loopback port; stopped afterwards."""
    import os

    port = free_port()
    env = {**os.environ, "REELGUARD_WEB_SECRET": SECRET}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--db", db_url],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                open_form(base)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"reelguard serve did not start: {log.read_text()[-800:]}")
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(20)
