"""Render a case's facts as ``report.html``: one page that opens offline and prints on A4.

The page is self-contained: CSS inline, no script, no external URL it loads; images are files
under ``artefacts/`` referenced by relative path. A Content-Security-Policy meta tag forbids
scripts, objects and any load outside the folder, so even a page that slipped through would do
nothing. Jinja2 autoescapes *every* value (the environment is built with ``autoescape=True``,
whatever the template's name) and a ``finalize`` hook strips control characters: a listing
titled ``<img src=x onerror=alert(1)>`` renders as that text. Only ``http``/``https`` URLs
become links; anything else (``javascript:``…) is shown as text.

Print: A4, each section on a new page, table headers repeated, long URLs and hashes wrapped
rather than clipped, link targets printed after link text that does not show them.

No settings affect this module.
"""

from __future__ import annotations

import re
from datetime import UTC
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from crawler.investigate.timeline import parse_time

TEMPLATES = Path(__file__).with_name("templates")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")

# Escalation levels (crawler.sellers.policy) and the badge colour of each.
LEVEL_CLASSES = {
    "watch": "b-watch",
    "warning": "b-warning",
    "restriction request": "b-restriction",
    "termination request": "b-termination",
    "law-enforcement referral": "b-referral",
}
GOOD = {"valid", "active", "finished", "done", "none"}
BAD = {
    "takedown",
    "removed",
    "expired",
    "missing",
    "malformed",
    "holder_mismatch",
    "unregistered",
    "not_yet_valid",
    "relisted",
    "rejected",
    "failed",
}


def _finalize(value: Any) -> Any:
    # Bidi overrides and control characters in scraped text can disguise what a line says.
    if isinstance(value, str) and not isinstance(value, Markup):
        return _CONTROL.sub("", value)
    return value


def when(value: str | None) -> str:
    if not value:
        return ""
    if len(value) == 10:  # a date
        return value
    try:
        moment = parse_time(value).astimezone(UTC)
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def web_url(value: str | None) -> bool:
    """Whether ``value`` may be a link: an absolute http(s) URL, nothing else."""
    if not value:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def level_words(level: str | None) -> str:
    """``termination_request`` -> ``termination request`` (unknown ids shown as they are)."""
    from crawler.sellers.policy import LEVEL_WORDS

    return LEVEL_WORDS.get(level, level) if level else "no level"


def level_class(level: str | None) -> str:
    return LEVEL_CLASSES.get((level or "").strip().lower().replace("_", " "), "b-none")


def status_class(status: str | None) -> str:
    value = (status or "").lower()
    if value in GOOD:
        return "b-good"
    if value in BAD:
        return "b-bad"
    return "b-mid" if value else "b-unknown"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # everything, not only templates named .html
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when,
        web_url=web_url,
        level_class=level_class,
        status_class=status_class,
        level_words=level_words,
    )
    return env


def _file_maps(facts: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Where the images copied under ``artefacts/`` are, by capture and by artefact hash."""
    file_of = {a["sha256"]: a["file"] for a in facts["artefacts"] if a.get("file")}
    capture_of = {a["sha256"]: a["capture_id"] for a in facts["artefacts"]}
    shot_of_capture = {
        a["capture_id"]: a["file"]
        for a in facts["artefacts"]
        if a.get("file") and a["kind"] == "screenshot"
    }
    # A cited hash (licence finding, identifier) may be the capture's HTML or WARC: show the
    # screenshot of the same capture.
    shot_of_sha = {
        sha: shot_of_capture[cap] for sha, cap in capture_of.items() if cap in shot_of_capture
    }
    image_of_sha = {sha: f for sha, f in file_of.items()}
    for sha, cap in capture_of.items():
        image_of_sha.setdefault(sha, shot_of_capture.get(cap, ""))
    return {
        "shot_of_capture": shot_of_capture,
        "shot_of_sha": shot_of_sha,
        "image_of_sha": {k: v for k, v in image_of_sha.items() if v},
    }


def render_report(facts: dict[str, Any], case: dict[str, Any]) -> str:
    """The HTML of the report; ``case`` holds id, generated_at, generator, chain_head, wacz,
    investigation (or ``None``)."""
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    template = environment().get_template("report.html")
    return template.render(f=facts, case=case, css=Markup(css), **_file_maps(facts))
