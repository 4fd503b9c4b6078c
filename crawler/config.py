"""Typed configuration, parsed once: Scrapy settings, environment and ``monitor.yaml``.

:class:`ReelguardConfig` is built from the ``REELGUARD_*`` Scrapy settings (environment
variables of the same name win) and rejects contradictions at start-up with a clear message.
:class:`MonitorConfig` is a monitoring job read from ``monitor.yaml``.

Settings: every ``REELGUARD_*`` setting in ``crawler/settings.py``; environment
``REELGUARD_DATABASE_URL``, ``REELGUARD_ALLOWED_PRIVATE_HOSTS`` (comma-separated),
``REELGUARD_MARKETPLACE_URLS`` (``name=url,name=url``), ``REELGUARD_CHROMIUM_PATH``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from croniter import croniter
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings

from crawler.exceptions import ConfigError

BROWSER_MODES = ("auto", "always", "never")
KEYWORD_STRATEGIES = ("primary", "all")


def _env_list(name: str) -> list[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return [part.strip() for part in raw.split(",") if part.strip()]


def parse_marketplace_urls(raw: str | dict[str, str] | None) -> dict[str, str]:
    """``"demomart=http://127.0.0.1:8800,demobay=..."`` or a dict -> validated dict."""
    if not raw:
        return {}
    pairs: dict[str, str]
    if isinstance(raw, dict):
        pairs = {str(k): str(v) for k, v in raw.items()}
    else:
        pairs = {}
        for part in str(raw).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ConfigError(f"marketplace URL {part!r} is not of the form name=url")
            name, url = part.split("=", 1)
            pairs[name.strip()] = url.strip()
    for name, url in pairs.items():
        check_base_url(name, url)
    return {k: v.rstrip("/") for k, v in pairs.items()}


def check_base_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"marketplace {name}: base URL {url!r} must be an http(s) URL")


class _EnvFirst:
    """Read a ``REELGUARD_*`` setting: an explicit setting (command line, ``-s``, a job's
    ``settings``) beats the environment variable of the same name, which beats the project
    default in ``crawler/settings.py``. A malformed value is a ``ConfigError``, not a crash."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def _explicit(self, name: str) -> bool:
        getpriority = getattr(self.settings, "getpriority", None)
        if getpriority is None:
            return True
        priority = getpriority(name)
        return priority is not None and priority > SETTINGS_PRIORITIES["project"]

    def raw(self, name: str) -> Any:
        env = os.environ.get(name)
        if env is not None and env.strip() and not self._explicit(name):
            return env.strip()
        return self.settings.get(name)

    def _convert(self, name: str, kind: str) -> Any:
        value = self.raw(name)
        try:
            return getattr(BaseSettings({name: value}), f"get{kind}")(name)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}={value!r}: not a valid {kind}") from None

    def int(self, name: str) -> int:
        return int(self._convert(name, "int"))

    def float(self, name: str) -> float:
        return float(self._convert(name, "float"))

    def bool(self, name: str) -> bool:
        return bool(self._convert(name, "bool"))


@dataclass(frozen=True)
class ReelguardConfig:
    """Reelguard's settings, validated."""

    database_url: str | None
    allowed_private_hosts: frozenset[str]
    marketplace_urls: dict[str, str]
    block_retry_times: int
    block_backoff: float
    max_blocked: int
    retry_after_max: float
    follow_listings: bool
    max_search_pages: int
    max_shop_pages: int
    browser: str
    progress: bool

    @classmethod
    def from_settings(cls, settings: Any) -> ReelguardConfig:
        # A setting given explicitly (command line, monitor.yaml) wins over the environment,
        # which wins over the defaults in crawler/settings.py (empty for these three).
        hosts = list(settings.getlist("REELGUARD_ALLOWED_PRIVATE_HOSTS")) or (
            _env_list("REELGUARD_ALLOWED_PRIVATE_HOSTS") or []
        )
        urls_raw: Any = settings.get("REELGUARD_MARKETPLACE_URLS") or os.environ.get(
            "REELGUARD_MARKETPLACE_URLS"
        )
        get = _EnvFirst(settings)
        cfg = cls(
            database_url=settings.get("REELGUARD_DATABASE_URL")
            or os.environ.get("REELGUARD_DATABASE_URL"),
            allowed_private_hosts=frozenset(h.lower() for h in hosts),
            marketplace_urls=parse_marketplace_urls(urls_raw),
            block_retry_times=get.int("REELGUARD_BLOCK_RETRY_TIMES"),
            block_backoff=get.float("REELGUARD_BLOCK_BACKOFF"),
            max_blocked=get.int("REELGUARD_MAX_BLOCKED"),
            retry_after_max=get.float("REELGUARD_RETRY_AFTER_MAX"),
            follow_listings=get.bool("REELGUARD_FOLLOW_LISTINGS"),
            max_search_pages=get.int("REELGUARD_MAX_SEARCH_PAGES"),
            max_shop_pages=get.int("REELGUARD_MAX_SHOP_PAGES"),
            browser=str(get.raw("REELGUARD_BROWSER") or "auto").strip().lower(),
            progress=get.bool("REELGUARD_PROGRESS"),
        )
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if self.browser not in BROWSER_MODES:
            raise ConfigError(
                f"REELGUARD_BROWSER={self.browser!r}: must be one of {', '.join(BROWSER_MODES)}"
            )
        for name, value in (
            ("REELGUARD_BLOCK_RETRY_TIMES", self.block_retry_times),
            ("REELGUARD_MAX_BLOCKED", self.max_blocked),
            ("REELGUARD_MAX_SEARCH_PAGES", self.max_search_pages),
            ("REELGUARD_MAX_SHOP_PAGES", self.max_shop_pages),
        ):
            if value < 0:
                raise ConfigError(f"{name}={value}: must not be negative")
        if self.retry_after_max <= 0:
            raise ConfigError("REELGUARD_RETRY_AFTER_MAX must be positive")


@dataclass(frozen=True)
class MarketplaceTarget:
    """One marketplace a monitoring job crawls; ``url`` "demo" means the bundled demo site."""

    name: str
    url: str


@dataclass(frozen=True)
class MonitorConfig:
    """A monitoring job (``monitor.yaml``)."""

    path: Path
    name: str
    catalog: Path
    authorized: Path | None
    marketplaces: tuple[MarketplaceTarget, ...]
    keyword_strategy: str = "primary"
    keyword_limit: int | None = None
    storefronts: bool = True
    schedule: str = "0 */6 * * *"
    database: str | None = None
    allow_private_hosts: tuple[str, ...] = ()
    browser: str = "auto"
    min_pages: int = 1
    max_blocked_ratio: float = 0.5
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def uses_demo(self) -> bool:
        return any(m.url == "demo" for m in self.marketplaces)

    @classmethod
    def load(cls, path: str | Path) -> MonitorConfig:
        from crawler.pages import KNOWN_MARKETPLACES

        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such monitoring configuration") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        known = {
            "name", "catalog", "authorized", "marketplaces", "keywords", "storefronts",
            "schedule", "database", "allow_private_hosts", "browser", "thresholds", "settings",
        }  # fmt: skip
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}")
        base = path.parent

        def rel(p: Any) -> Path:
            q = Path(str(p))
            return q if q.is_absolute() else (base / q)

        if "catalog" not in raw:
            raise ConfigError(f"{path}: 'catalog' (the member catalogue file) is required")
        markets_raw = raw.get("marketplaces")
        if not isinstance(markets_raw, dict) or not markets_raw:
            raise ConfigError(f"{path}: 'marketplaces' must map marketplace names to settings")
        markets = []
        for name, spec in markets_raw.items():
            if name not in KNOWN_MARKETPLACES:
                raise ConfigError(
                    f"{path}: unknown marketplace {name!r}; known: {', '.join(KNOWN_MARKETPLACES)}"
                )
            url = (spec or {}).get("url", "demo") if isinstance(spec, dict) else str(spec)
            if url != "demo":
                check_base_url(name, url)
            markets.append(MarketplaceTarget(name=name, url=url.rstrip("/")))
        kw = raw.get("keywords") or {}
        strategy = kw.get("strategy", "primary")
        if strategy not in KEYWORD_STRATEGIES:
            raise ConfigError(
                f"{path}: keywords.strategy {strategy!r}: one of {', '.join(KEYWORD_STRATEGIES)}"
            )
        schedule = str(raw.get("schedule", "0 */6 * * *"))
        if not croniter.is_valid(schedule):
            raise ConfigError(f"{path}: schedule {schedule!r} is not a valid cron expression")
        browser = str(raw.get("browser", "auto"))
        if browser not in BROWSER_MODES:
            raise ConfigError(f"{path}: browser {browser!r}: one of {', '.join(BROWSER_MODES)}")
        thresholds = raw.get("thresholds") or {}
        ratio = float(thresholds.get("max_blocked_ratio", 0.5))
        if not 0 < ratio <= 1:
            raise ConfigError(f"{path}: thresholds.max_blocked_ratio must be in (0, 1]")
        limit = kw.get("limit")
        return cls(
            path=path,
            name=str(raw.get("name", path.stem)),
            catalog=rel(raw["catalog"]),
            authorized=rel(raw["authorized"]) if raw.get("authorized") else None,
            marketplaces=tuple(markets),
            keyword_strategy=strategy,
            keyword_limit=int(limit) if limit is not None else None,
            storefronts=bool(raw.get("storefronts", True)),
            schedule=schedule,
            database=raw.get("database"),
            allow_private_hosts=tuple(str(h) for h in raw.get("allow_private_hosts") or ()),
            browser=browser,
            min_pages=int(thresholds.get("min_pages", 1)),
            max_blocked_ratio=ratio,
            settings=dict(raw.get("settings") or {}),
        )
