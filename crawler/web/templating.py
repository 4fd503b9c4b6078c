"""Jinja2 rendering for the dashboard: ONE environment with ``autoescape=True`` for every
template, whatever its name (Starlette's ``Jinja2Templates`` escapes only ``.html``, ``.htm``
and ``.xml``; this does not depend on the name), and the filters the pages share.

Everything scraped (titles, seller names, URLs, signal text) reaches a template as plain data
and is escaped there; nothing is marked safe except the SVG charts that ``crawler.web.charts``
builds with every value escaped.

No settings affect this module.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from crawler.web import csrf

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

STATE_LABELS = {
    "pending_review": "pending review",
    "approved": "approved",
    "submitted": "submitted",
    "acknowledged": "acknowledged",
    "removed": "removed",
    "rejected": "rejected",
    "relisted": "relisted",
    "withdrawn": "withdrawn",
}


def _dt(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.strftime(fmt) + " UTC" if value is not None else "–"


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value is not None else "–"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _size(value: int | None) -> str:
    if value is None:
        return "–"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"


def _safe_href(url: str | None) -> str | None:
    """A scraped URL usable as a link: http(s) only (no ``javascript:``/``data:``), else None."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def _state_label(state: str) -> str:
    return STATE_LABELS.get(state, state)


def _query(params: dict[str, Any], **changes: Any) -> str:
    """``?a=1&b=2`` from the current filters with ``changes`` applied (None removes a key)."""
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "")}
    return "?" + urlencode(merged) if merged else "?"


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,  # every template, whatever its file name
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        dt=_dt, day=_day, duration=_duration, pct=_pct, score=_score, size=_size,
        safe_href=_safe_href, state_label=_state_label,
    )
    env.globals.update(query=_query, STATE_LABELS=STATE_LABELS)
    return env


ENV = make_environment()


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200,
) -> HTMLResponse:
    """Render ``template`` with the signed-in user, the CSRF token and the pending flash."""
    ctx: dict[str, Any] = {
        "request": request,
        "user": request.scope.get("principal"),
        "csrf_token": csrf.token(request),
        "flash": request.session.pop("flash", None),
        "path": request.url.path,
    }
    ctx.update(context or {})
    html = ENV.get_template(template).render(ctx)
    return HTMLResponse(html, status_code=status)
