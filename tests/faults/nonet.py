"""A socket guard: no connection leaves the process except to the addresses it allows.

:func:`install` replaces ``socket.socket`` with a subclass whose ``connect``/``connect_ex``
refuse (``OSError``) any Internet address not in the allowed set and log the attempt to a
file, and makes ``socket.getaddrinfo`` refuse names that are not IP literals or
``localhost`` (no DNS). Twisted, asyncio, urllib and psycopg all create their sockets
through ``socket.socket``, so this covers a crawl as well as a test run.

Used two ways by ``test_hermetic.py``: as a pytest plugin (``-p tests.faults.nonet``, which
installs it from the environment at start-up) and, for a crawl in a child process, from a
``sitecustomize`` module that calls :func:`install_from_env`.

Environment: ``REELGUARD_TEST_NONET_ALLOW`` (``host:port`` pairs, comma-separated; empty:
nothing), ``REELGUARD_TEST_NONET_LOG`` (file to append refused attempts to).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

ALLOW_VAR = "REELGUARD_TEST_NONET_ALLOW"
LOG_VAR = "REELGUARD_TEST_NONET_LOG"

_real_socket = socket.socket
_real_getaddrinfo = socket.getaddrinfo


def _log(what: str) -> None:
    path = os.environ.get(LOG_VAR)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(what + "\n")


def install(allowed: set[tuple[str, int]]) -> None:
    """Refuse every Internet connection but to ``allowed`` (host, port) pairs."""

    def check(address: Any) -> None:
        if isinstance(address, tuple) and len(address) >= 2:
            host, port = str(address[0]), int(address[1])
            if (host, port) not in allowed:
                _log(f"connect {host}:{port}")
                raise OSError(f"network access refused by the test guard: {host}:{port}")

    class GuardedSocket(_real_socket):
        def connect(self, address: Any) -> None:
            check(address)
            super().connect(address)

        def connect_ex(self, address: Any) -> int:
            check(address)
            return super().connect_ex(address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in (None, "localhost"):
            try:
                ipaddress.ip_address(name)
            except ValueError:
                _log(f"resolve {name}")
                raise socket.gaierror(socket.EAI_NONAME,
                                      f"name resolution refused by the test guard: {name}") from None
        return _real_getaddrinfo(host, *args, **kwargs)

    socket.socket = GuardedSocket  # type: ignore[misc]
    socket.getaddrinfo = getaddrinfo


def install_from_env() -> None:
    allowed: set[tuple[str, int]] = set()
    for pair in filter(None, os.environ.get(ALLOW_VAR, "").split(",")):
        host, _, port = pair.rpartition(":")
        allowed.add((host, int(port)))
    install(allowed)


def pytest_configure(config: Any) -> None:  # a pytest plugin: ``-p tests.faults.nonet``
    install_from_env()
