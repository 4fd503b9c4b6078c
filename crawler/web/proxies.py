"""Which proxies may say who the client is: ``X-Forwarded-For`` (and ``X-Forwarded-Proto``) are
believed only when the direct peer is one of them.

Behind a TLS-terminating proxy every request comes from the proxy's address; the sign-in limit
(``crawler.web.throttle``) needs each user's own. The headers are applied by uvicorn's
``ProxyHeadersMiddleware`` (it walks the ``X-Forwarded-For`` chain from the right and stops at
the first address that is not a trusted proxy), installed by ``create_app`` only when proxies
are configured: with none, every forwarded header is ignored and the peer address is the
client, so a client can never pick the address it is counted under. ``X-Forwarded-Proto``
from a trusted proxy also makes the request ``https``, so the CSRF origin check compares the
origin the browser sent. The RFC 7239 ``Forwarded`` header is not read.

Settings: ``REELGUARD_WEB_TRUSTED_PROXIES`` (environment): comma-separated IP addresses or
networks (``10.0.0.5, 172.16.0.0/12``); empty or unset: no proxy is trusted. ``*`` is refused.
"""

from __future__ import annotations

import ipaddress
import os

from crawler.exceptions import ConfigError

TRUSTED_PROXIES_ENV = "REELGUARD_WEB_TRUSTED_PROXIES"


def parse_trusted_proxies(raw: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """The trusted proxies as normalised addresses/networks; a bad entry is a ConfigError."""
    if raw is None:
        return []
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        if item == "*":
            raise ConfigError(f"{TRUSTED_PROXIES_ENV}: '*' would let any client choose its "
                              "address; name the proxies' addresses or networks")
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(f"{TRUSTED_PROXIES_ENV}: {item!r} is not an IP address or "
                              "network") from None
        out.append(str(network.network_address) if network.num_addresses == 1 else str(network))
    return out


def load_trusted_proxies() -> list[str]:
    """The proxies named by ``$REELGUARD_WEB_TRUSTED_PROXIES``."""
    return parse_trusted_proxies(os.environ.get(TRUSTED_PROXIES_ENV))
