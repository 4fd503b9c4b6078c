"""Serve the bundled demo marketplaces (``fixtures/sites/<name>/``) on loopback.

Each marketplace is its own ASGI app (``crawler.demo.<name>.make_app``) on its own port, as a real
marketplace is its own host. Three ways to run them:

* :class:`ServerThread` - one site in a background thread of this process (tests);
* :class:`DemoServerProcess` - all sites in a child process, so a benchmark or a demo crawl does
  not share the GIL with the server;
* :func:`serve_forever` - what ``reelguard fixtures serve`` runs in the foreground.

Settings: none; options come from :class:`SiteOptions` (``--rate-limit``, ``--burst``).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self

import uvicorn

SITES = ("demomart", "demobay")
FIXTURES_DIR = Path(__file__).resolve().parents[2] / "fixtures"
SITES_DIR = FIXTURES_DIR / "sites"


@dataclass(frozen=True)
class SiteOptions:
    """Behaviour knobs of a demo site.

    ``rate_limit`` is the sustained requests/second a single client may make before the site
    answers with its block page (0 turns the limit off); ``burst`` is how many it may make at
    once. ``state_dir`` is where a site keeps what clients POSTed to its IP-complaint intake
    (``crawler.demo.intake``; None: memory only), ``intake_delay`` how long a complaint stays
    pending, ``intake_flaky`` how many first POSTs get a 503 with ``Retry-After``.
    """

    rate_limit: float = 0.0
    burst: int = 40
    data_dir: str | None = None
    state_dir: str | None = None
    intake_delay: float = 0.0
    intake_flaky: int = 0


def build_app(site: str, options: SiteOptions | None = None) -> Any:
    """Return the ASGI app of one demo marketplace."""
    if site not in SITES:
        raise ValueError(f"unknown demo marketplace {site!r}; known: {', '.join(SITES)}")
    options = options or SiteOptions()
    data_dir = Path(options.data_dir) if options.data_dir else SITES_DIR / site
    module = importlib.import_module(f"crawler.demo.{site}")
    return module.make_app(data_dir, options)


def _bind(host: str, port: int) -> socket.socket:
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError(f"demo marketplaces listen on loopback only, not {host!r}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets created with it, and
    # without it every keep-alive response waits ~40 ms for delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _server(app: Any) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        loop="asyncio",
    )
    return uvicorn.Server(config)


class ServerThread:
    """Run one ASGI app on 127.0.0.1 in a daemon thread; ``with ServerThread(app) as s: s.url``."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.sock = _bind(host, port)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._server = _server(app)
        self._server.install_signal_handlers = lambda: None  # type: ignore[attr-defined,method-assign]
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"serve:{self.port}")

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self.sock]))

    def start(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"demo server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(
    sites: tuple[str, ...] = SITES,
    host: str = "127.0.0.1",
    port: int = 0,
    options: SiteOptions | None = None,
    announce: Any = None,
) -> None:
    """Serve ``sites`` until interrupted: site *i* on ``port + i`` (or an ephemeral port each).

    ``announce`` is called once with ``{site: url}`` when every site listens.
    """
    options = options or SiteOptions()
    servers: dict[str, uvicorn.Server] = {}
    socks: dict[str, socket.socket] = {}
    for i, site in enumerate(sites):
        socks[site] = _bind(host, port + i if port else 0)
        servers[site] = _server(build_app(site, options))
    urls = {s: f"http://{host}:{socks[s].getsockname()[1]}" for s in sites}

    async def main() -> None:
        tasks = [asyncio.create_task(servers[s].serve(sockets=[socks[s]])) for s in sites]
        while not all(srv.started for srv in servers.values()):
            if any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.01)
        if announce is not None:
            announce(urls)
        await asyncio.gather(*tasks)

    asyncio.run(main())


class DemoServerProcess:
    """All demo marketplaces in a child process; ``urls`` maps marketplace name to base URL."""

    def __init__(
        self,
        sites: tuple[str, ...] = SITES,
        port: int = 0,
        options: SiteOptions | None = None,
    ) -> None:
        self.sites = sites
        self.port = port
        self.options = options or SiteOptions()
        self.urls: dict[str, str] = {}
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> Self:
        args = [
            sys.executable,
            "-m",
            "crawler.demo.server",
            json.dumps({"sites": list(self.sites), "port": self.port, **asdict(self.options)}),
        ]
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait(timeout=10)
            raise RuntimeError(f"demo marketplace server exited with code {code} before listening")
        self.urls = json.loads(line)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _child_main(spec: str) -> None:
    opts = json.loads(spec)
    sites = tuple(opts.pop("sites"))
    port = int(opts.pop("port"))

    def announce(urls: dict[str, str]) -> None:
        print(json.dumps(urls), flush=True)

    serve_forever(sites, port=port, options=SiteOptions(**opts), announce=announce)


if __name__ == "__main__":
    _child_main(sys.argv[1])
