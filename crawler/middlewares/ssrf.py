"""Refuse requests to private, loopback, link-local and other non-public addresses.

Scraped URLs are hostile: a listing page can link to ``http://169.254.169.254/`` or to an
intranet host. Every request (redirects included: Scrapy re-schedules them through this
middleware) is checked; hostnames are resolved and every address they resolve to must be
public, unless the host is allow-listed (the demo marketplaces on 127.0.0.1 are, in the demo
configuration). Only ``http`` and ``https`` URLs pass.

Settings: ``REELGUARD_ALLOWED_PRIVATE_HOSTS`` (env of the same name, comma-separated).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest

from crawler import signals as rg_signals
from crawler.config import ReelguardConfig

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler


class RefusedAddress(IgnoreRequest):
    """The request's host is not a public address and is not allow-listed."""

    recorded = True  # a crawl event was written when it was raised


def is_public_address(addr: str) -> bool:
    ip = ipaddress.ip_address(addr)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def check_url(url: str, allowed_hosts: frozenset[str]) -> str | None:
    """Return why ``url`` must not be fetched, or ``None`` when it may be."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"scheme {parts.scheme!r} is not allowed"
    host = (parts.hostname or "").lower()
    if not host:
        return "no host"
    if host in allowed_hosts:
        return None
    try:
        addrs = await resolve(host)
    except OSError:
        return None  # unresolvable: the download fails and is recorded as an error
    bad = [a for a in addrs if not is_public_address(a)]
    if bad:
        return f"{host} resolves to non-public address {', '.join(bad)}"
    return None


class PrivateAddressGuardMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.allowed = ReelguardConfig.from_settings(crawler.settings).allowed_private_hosts
        self._cache: dict[str, str | None] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrivateAddressGuardMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        key = f"{parts.scheme}://{parts.hostname}"
        if key not in self._cache:
            self._cache[key] = await check_url(request.url, self.allowed)
        reason = self._cache[key]
        if reason is None:
            return
        redirects = request.meta.get("redirect_urls")
        if redirects:
            reason = f"{reason} (redirected from {redirects[0]})"
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("reelguard/refused")
        self.crawler.signals.send_catch_log(
            rg_signals.crawl_event,
            kind="refused",
            url=request.url,
            reason=reason,
            marketplace=request.meta.get("marketplace"),
        )
        raise RefusedAddress(f"refused {request.url}: {reason}")
