"""Text of licence blocks and registers: normalised, bounded, dated, and holder names compared.

* :func:`clean_text`: HTML tags dropped and entities decoded (page objects sometimes hand over
  markup), Unicode NFKC (full-width letters and digits to ASCII, ``（）［］`` to ``()[]``), the
  other CJK brackets ``【】〔〕`` to ``()``, dashes to ``-``, zero-width spaces removed, whitespace
  collapsed, cut at a bounded length. Control characters and bidirectional overrides (RTL marks)
  are kept for the caller to refuse (:func:`has_control`): they change what a reader sees.
* Dates: ``2021-03-01``, ``2021/3/1``, ``2021.03.01``, ``2021年3月1日``, ``20210301``; a validity
  range joins two with 至, 到, -, ~ or ～; ``长期`` / ``长期有效`` / ``永久`` / ``无固定期限``
  mean no end (:func:`parse_date`, :func:`parse_validity`).
* Holder names (:func:`holder_key`): equal when they differ only trivially.

Every input is cut before it is processed and every pattern is linear: a 1 MB string costs
microseconds and nothing here raises on hostile text.

No settings affect this module.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import unicodedata
from typing import Any

MAX_FIELD = 256  # characters of one field (number, holder, authority, date)
SHOWN = 64  # characters of a value quoted in a problem
INDEFINITE_WORDS = ("长期有效", "无固定期限", "长期", "永久有效", "永久", "无期限")

_TAG = re.compile(r"<[^<>]{0,500}>")
_BRACKETS = str.maketrans(
    {
        "【": "(",
        "】": ")",
        "〔": "(",
        "〕": ")",
        "[": "(",
        "]": ")",
        "〖": "(",
        "〗": ")",
        "﹝": "(",
        "﹞": ")",
    }
)
_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−﹣－"})
# Invisible characters that only break words apart: removed like spaces.
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# Control characters and bidirectional controls: they change what a reader sees.
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_SPACE = re.compile(r"\s+")

_DATE = re.compile(
    r"(?<![0-9])(?P<y>(?:19|20)[0-9]{2})\s*(?:(?P<sep>[-/.年])\s*(?P<m>[0-9]{1,2})\s*[-/.月]\s*"
    r"(?P<d>[0-9]{1,2})\s*日?|(?P<m2>[0-9]{2})(?P<d2>[0-9]{2}))(?![0-9])"
)
_RANGE_SEP = re.compile(r"至|到|~|-|止")


# -- text ----------------------------------------------------------------------------------
def _bounded(value: Any, limit: int) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text[: limit * 4]  # room for tags and entities that shrink below


def clean_text(value: Any, limit: int = MAX_FIELD) -> str:
    """Markup dropped, entities decoded, NFKC, brackets and dashes unified, spaces collapsed.

    Control characters are kept (callers decide: numbers are refused, names report them).
    """
    text = _bounded(value, limit)
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text).translate(_BRACKETS).translate(_DASHES)
    text = _ZERO_WIDTH.sub("", text)
    return _SPACE.sub(" ", text).strip()[:limit]


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def strip_control(text: str) -> str:
    return _CONTROL.sub("", text)


def quote(text: str, limit: int = SHOWN) -> str:
    """``text`` for a message: control characters escaped as ``\\u202e``, cut at ``limit``."""
    shown = _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


# -- dates ---------------------------------------------------------------------------------
def _date_of(match: re.Match[str]) -> dt.date | None:
    year = int(match.group("y"))
    month = int(match.group("m") or match.group("m2"))
    day = int(match.group("d") or match.group("d2"))
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def parse_date(value: Any) -> tuple[dt.date | None, bool, str | None]:
    """``(date, indefinite, problem)`` of one date as shown; all None/False when empty."""
    text = clean_text(value, MAX_FIELD)
    if not text:
        return None, False, None
    if any(word in text for word in INDEFINITE_WORDS):
        return None, True, None
    match = _DATE.search(text)
    date = _date_of(match) if match else None
    if date is None:
        return None, False, f"{quote(text)} is not a date"
    return date, False, None


def parse_validity(value: Any) -> tuple[dt.date | None, dt.date | None, bool, list[str]]:
    """``(valid_from, valid_to, indefinite, problems)`` of a range such as ``2021-03-01 至 长期``."""
    text = clean_text(value, MAX_FIELD)
    if not text:
        return None, None, False, []
    dates = list(_DATE.finditer(text))[:2]
    indefinite = any(word in text for word in INDEFINITE_WORDS)
    problems = [f"{quote(m.group().strip())} is not a date" for m in dates if _date_of(m) is None]
    values = [_date_of(m) for m in dates]
    if not dates:
        if indefinite:
            return None, None, True, []
        return None, None, False, [f"validity {quote(text)} has no date"]
    if len(dates) == 2:
        return values[0], values[1], False, problems
    # One date: the start of an open range, or the end when a separator comes before it.
    before = text[: dates[0].start()]
    if _RANGE_SEP.search(before) and not indefinite:
        return None, values[0], False, problems
    return values[0], None, indefinite, problems


# -- holders -------------------------------------------------------------------------------
_HOLDER_DROP = re.compile(r"[\s()（）\[\]【】〔〕·・.,，、'\"“”‘’-]")
_HOLDER_SAME = (("有限责任公司", "有限公司"),)


def holder_key(name: Any) -> str:
    """A holder name in the form compared with the register.

    Trivial differences vanish (full-width characters, spaces, brackets, punctuation, case,
    traditional characters, 有限责任公司 vs 有限公司); any other difference is a different name.
    """
    from crawler.matching.normalize import to_simplified

    text = strip_control(clean_text(name, MAX_FIELD)).casefold()
    text = _HOLDER_DROP.sub("", to_simplified(text))
    for longer, shorter in _HOLDER_SAME:
        text = text.replace(longer, shorter)
    return text


def same_holder(a: Any, b: Any) -> bool:
    key_a, key_b = holder_key(a), holder_key(b)
    return bool(key_a) and key_a == key_b
