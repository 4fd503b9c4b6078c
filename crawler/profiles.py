"""Marketplace profiles (``crawler/marketplaces.yaml``): default base URL, browser use,
politeness (concurrency and delay of the marketplace's download slot), page limit and the login
session a user may supply (a Playwright ``storage_state`` JSON or a Netscape cookie jar).

Profiles are loaded once per file and validated: an unknown marketplace or key, a bad value, a
missing or malformed session file is a :class:`ConfigError` naming the file.

Settings: ``REELGUARD_PROFILES`` (a profiles YAML whose entries replace the bundled ones; also
read from the environment).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from http.cookiejar import LoadError, MozillaCookieJar
from pathlib import Path
from typing import Any

import yaml

from crawler.config import BROWSER_MODES, check_base_url
from crawler.exceptions import ConfigError

DEFAULT_PROFILES = Path(__file__).with_name("marketplaces.yaml")
KEYS = ("base_url", "browser", "concurrency", "download_delay", "max_pages", "storage_state",
        "cookies")


@dataclass(frozen=True)
class SessionCookie:
    name: str
    value: str
    domain: str
    path: str = "/"

    def matches(self, host: str) -> bool:
        domain = self.domain.lstrip(".").lower()
        host = host.lower()
        return bool(domain) and (host == domain or host.endswith("." + domain))


@dataclass(frozen=True)
class MarketplaceProfile:
    """How to crawl one marketplace."""

    name: str
    base_url: str | None = None
    browser: str = "auto"
    concurrency: int = 8
    download_delay: float = 0.0
    max_pages: int | None = None
    storage_state: Path | None = None
    cookies: Path | None = None
    session_cookies: tuple[SessionCookie, ...] = field(default=(), repr=False)

    def cookies_for(self, host: str | None) -> dict[str, str]:
        """The session cookies whose domain matches ``host`` (name -> value)."""
        if not host:
            return {}
        return {c.name: c.value for c in self.session_cookies if c.matches(host)}


def _storage_state_cookies(path: Path) -> tuple[SessionCookie, ...]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"storage_state {path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"storage_state {path}: not a Playwright storage-state JSON: {exc}") from None
    cookies = data.get("cookies") if isinstance(data, dict) else None
    if not isinstance(cookies, list):
        raise ConfigError(f"storage_state {path}: not a Playwright storage-state JSON "
                          "(no 'cookies' list)")
    out = []
    for i, c in enumerate(cookies):
        if not isinstance(c, dict) or not all(isinstance(c.get(k), str) for k in ("name", "value", "domain")):
            raise ConfigError(f"storage_state {path}: cookie #{i} lacks name, value or domain")
        out.append(SessionCookie(c["name"], c["value"], c["domain"], str(c.get("path") or "/")))
    return tuple(out)


def _jar_cookies(path: Path) -> tuple[SessionCookie, ...]:
    jar = MozillaCookieJar(str(path))
    try:
        jar.load(ignore_discard=True, ignore_expires=True)
    except FileNotFoundError:
        raise ConfigError(f"cookies {path}: no such file") from None
    except (OSError, LoadError) as exc:
        raise ConfigError(f"cookies {path}: not a Netscape cookies.txt file: {exc}") from None
    return tuple(SessionCookie(c.name, c.value or "", c.domain, c.path or "/") for c in jar)


def _profile(source: Path, name: str, raw: Any) -> MarketplaceProfile:
    where = f"{source}: {name}"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of settings")
    unknown = sorted(set(map(str, raw)) - set(KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
    base_url = raw.get("base_url")
    if base_url is not None:
        check_base_url(name, str(base_url))
        base_url = str(base_url).rstrip("/")
    browser = str(raw.get("browser", "auto"))
    if browser not in BROWSER_MODES:
        raise ConfigError(f"{where}: browser {browser!r}: one of {', '.join(BROWSER_MODES)}")

    def number(key: str, kind: type, default: Any, minimum: float) -> Any:
        value = raw.get(key, default)
        if value is None and key == "max_pages":
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                kind is int and not isinstance(value, int)) or value < minimum:
            raise ConfigError(f"{where}: {key} {value!r}: must be a {kind.__name__} >= {minimum:g}")
        return kind(value)

    concurrency = number("concurrency", int, 8, 1)
    delay = number("download_delay", float, 0.0, 0)
    max_pages = number("max_pages", int, None, 1)

    def path(key: str) -> Path | None:
        value = raw.get(key)
        if value is None:
            return None
        p = Path(os.path.expanduser(str(value)))
        return p if p.is_absolute() else source.parent / p

    state, jar = path("storage_state"), path("cookies")
    session: tuple[SessionCookie, ...] = ()
    if state is not None:
        session += _storage_state_cookies(state)
    if jar is not None:
        session += _jar_cookies(jar)
    return MarketplaceProfile(name, base_url, browser, concurrency, delay, max_pages, state, jar,
                              session)


@cache
def _load_file(path: Path) -> dict[str, MarketplaceProfile]:
    from crawler.pages import KNOWN_MARKETPLACES

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such marketplace profiles file") from None
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(f"{path}: not valid YAML: {detail}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of marketplace names to profiles")
    out = {}
    for name, spec in raw.items():
        if name not in KNOWN_MARKETPLACES:
            raise ConfigError(
                f"{path}: unknown marketplace {name!r}; known: {', '.join(KNOWN_MARKETPLACES)}"
            )
        out[str(name)] = _profile(path, str(name), spec)
    return out


def load_profiles(path: str | Path | None = None) -> dict[str, MarketplaceProfile]:
    """Every known marketplace's profile: the bundled file, then ``path``'s entries on top."""
    from crawler.pages import KNOWN_MARKETPLACES

    profiles = dict(_load_file(DEFAULT_PROFILES))
    if path:
        profiles.update(_load_file(Path(path).resolve()))
    return {m: profiles.get(m) or MarketplaceProfile(m) for m in KNOWN_MARKETPLACES}


def profiles_path(settings: Any = None) -> str | None:
    """``REELGUARD_PROFILES`` from the settings, else the environment."""
    value = settings.get("REELGUARD_PROFILES") if settings is not None else None
    return str(value) if value else (os.environ.get("REELGUARD_PROFILES") or None)


def download_slots(profiles: dict[str, MarketplaceProfile]) -> dict[str, dict[str, Any]]:
    """Scrapy ``DOWNLOAD_SLOTS``: one slot per marketplace (and one for its browser requests)."""
    slots: dict[str, dict[str, Any]] = {}
    for name, p in profiles.items():
        slot = {"concurrency": p.concurrency, "delay": p.download_delay}
        slots[name] = slot
        slots[f"{name}:browser"] = dict(slot)
    return slots
