"""Server-side SVG charts for the overview and seller pages: no JavaScript library, no inline
``style`` (the CSP forbids it; SVG presentation attributes are used instead).

Every label and value is escaped with ``markupsafe.escape`` before it enters the SVG, so the
result can be marked safe for the template; labels are data (member, marketplace and state
names) and may be hostile like anything else stored.

No settings affect this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

STATE_COLOURS = {
    "pending_review": "#d97706",
    "approved": "#2563eb",
    "submitted": "#7c3aed",
    "acknowledged": "#0891b2",
    "removed": "#16a34a",
    "rejected": "#dc2626",
    "relisted": "#be185d",
    "withdrawn": "#6b7280",
}
ACCENT = "#2563eb"
AXIS = "#9ca3af"
TEXT = "#374151"


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * exponent:
            return float(step * exponent)
    return float(10 * exponent)


def _fmt_int(value: float) -> str:
    return f"{value:,.0f}"


def _open(width: int, height: int, title: str) -> list[str]:
    """The ``<svg>`` element and its accessible title."""
    svg = (f'<svg class="chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
           'xmlns="http://www.w3.org/2000/svg">')
    return [svg, f"<title>{escape(title)}</title>"]


def columns(
    points: Sequence[tuple[str, float]], *, title: str, width: int = 720, height: int = 220,
    colour: str = ACCENT, fmt: Callable[[float], str] = _fmt_int,
) -> Markup:
    """A column chart (e.g. detections per day); x labels thinned to about 8."""
    left, right, top, bottom = 48, 12, 28, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = _open(width, height, title)
    parts.append(f'<text x="{left}" y="16" fill="{TEXT}" font-size="13" font-weight="600">'
                 f"{escape(title)}</text>")
    if not points:
        parts.append(f'<text x="{left}" y="{top + plot_h / 2}" fill="{AXIS}" font-size="12">'
                     'nothing yet</text></svg>')
        return Markup("".join(parts))
    top_value = _nice_max(max(v for _, v in points))
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#e5e7eb" stroke-width="1"/>')
        tick = fmt(value) if value == int(value) else f"{value:.1f}"
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS}" '
                     f'font-size="11">{escape(tick)}</text>')
    slot = plot_w / len(points)
    bar = max(1.0, min(28.0, slot * 0.7))
    every = max(1, math.ceil(len(points) / 8))
    for i, (label, value) in enumerate(points):
        h = plot_h * value / top_value
        x = left + slot * i + (slot - bar) / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'rx="2" fill="{escape(colour)}"><title>{escape(label)}: {escape(fmt(value))}'
            '</title></rect>'
        )
        if i % every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" '
                         f'text-anchor="middle" fill="{AXIS}" font-size="11">'
                         f'{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(
    items: Sequence[tuple[str, float | None, str]], *, title: str, width: int = 520,
    maximum: float | None = None, fmt: Callable[[float], str] = _fmt_int,
) -> Markup:
    """Horizontal bars, one per ``(label, value, colour)``; a None value is drawn as "–"."""
    row_h, label_w, top = 26, 236, 30
    height = top + row_h * max(1, len(items)) + 8
    plot_w = width - label_w - 70
    values = [v for _, v, _ in items if v is not None]
    top_value = maximum if maximum is not None else _nice_max(max(values, default=0))
    parts = _open(width, height, title)
    parts.append(f'<text x="0" y="16" fill="{TEXT}" font-size="13" font-weight="600">'
                 f"{escape(title)}</text>")
    if not items:
        parts.append(f'<text x="0" y="{top + 14}" fill="{AXIS}" font-size="12">nothing yet'
                     '</text>')
    for i, (label, value, colour) in enumerate(items):
        y = top + row_h * i
        shown = label if len(label) <= 32 else label[:31] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" fill="{TEXT}" '
                     f'font-size="12"><title>{escape(label)}</title>{escape(shown)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{plot_w}" height="16" rx="3" '
                     'fill="#f3f4f6"/>')
        if value is not None and top_value > 0:
            w = max(0.0, min(1.0, value / top_value)) * plot_w
            parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="16" rx="3" '
                         f'fill="{escape(colour)}"/>')
        text = "–" if value is None else fmt(value)
        parts.append(f'<text x="{label_w + plot_w + 8}" y="{y + 16}" fill="{TEXT}" '
                     f'font-size="12">{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
