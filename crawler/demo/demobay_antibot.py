"""demobay's anti-bot defence: eBay's "Pardon Our Interruption..." page.

:class:`AntiBot` is an ASGI middleware that serves the interstitial for ``?__block=1`` on any URL
(deterministic, for tests) and, when :class:`~crawler.demo.server.SiteOptions` ``rate_limit`` is
above 0, to every client over its :class:`TokenBucket` (``rate_limit`` a second, ``burst``
deep). Images, the stylesheet, ``robots.txt`` and the IP intake are never blocked.

Settings: none; options come from ``crawler.demo.server.SiteOptions``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from crawler.demo.demobay_pages import HTML
from crawler.demo.server import SiteOptions


class TokenBucket:
    """Per-client token buckets: ``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = max(1, burst)
        self.clock = clock
        self._state: dict[str, tuple[float, float]] = {}

    def allow(self, client: str) -> bool:
        now = self.clock()
        tokens, last = self._state.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._state[client] = (tokens, now)
        return allowed


class AntiBot:
    """ASGI middleware: the interstitial for ``?__block=1`` and for clients over the limit."""

    # Images and CSS come from a CDN on the real site; the IP intake is an authenticated API.
    EXEMPT_PREFIXES = ("/img/", "/static/", "/ip/")

    def __init__(self, app: ASGIApp, blocked_page: bytes, options: SiteOptions) -> None:
        self.app = app
        self.blocked_page = blocked_page
        self.bucket = (
            TokenBucket(options.rate_limit, options.burst) if options.rate_limit > 0 else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._blocked(scope):
            response = Response(self.blocked_page, media_type=HTML)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _blocked(self, scope: Scope) -> bool:
        query = scope.get("query_string", b"")
        if b"__block" in query:
            values = parse_qs(query.decode("latin-1")).get("__block", [])
            if "1" in values:
                return True
        if self.bucket is None:
            return False
        path: str = scope.get("path", "")
        if path == "/robots.txt" or path.startswith(self.EXEMPT_PREFIXES):
            return False
        client = scope.get("client")
        return not self.bucket.allow(client[0] if client else "-")
