"""Turn values as shown on a page into values we can compare: prices, currencies, counts, text.

Every scraped string is hostile: control characters are removed, text is length-capped, and
nothing here evaluates or fetches anything.

No settings affect this module.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TITLE = 1000
MAX_TEXT = 20000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_NUMBER = re.compile(r"\d[\d,\s]*(?:\.\d+)?|\.\d+")

# Longest symbols first so "US $" wins over "$".
_CURRENCY_MARKS: list[tuple[str, str]] = [
    ("US $", "USD"), ("US$", "USD"), ("USD", "USD"), ("C $", "CAD"), ("C$", "CAD"),
    ("AU $", "AUD"), ("AU$", "AUD"), ("A$", "AUD"), ("HK$", "HKD"), ("NT$", "TWD"),
    ("RMB", "CNY"), ("CNY", "CNY"), ("元", "CNY"), ("EUR", "EUR"), ("€", "EUR"),
    ("GBP", "GBP"), ("£", "GBP"), ("JPY", "JPY"), ("円", "JPY"), ("₪", "ILS"), ("ILS", "ILS"),
    ("₩", "KRW"), ("₹", "INR"), ("¥", "?YEN"), ("￥", "?YEN"), ("$", "?DOLLAR"),
]  # fmt: skip


def clean(value: str | None, limit: int = MAX_TEXT) -> str | None:
    """NFC, control characters removed, whitespace collapsed, length capped; '' -> None."""
    if value is None:
        return None
    value = unicodedata.normalize("NFC", str(value))
    value = _CONTROL.sub(" ", value)
    value = " ".join(value.split())
    if len(value) > limit:
        value = value[:limit]
    return value or None


def normalize_title(title: str) -> str:
    """A comparison form: NFKC (full-width to half-width), case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", title).casefold().split())


def parse_price(text: str | None, default_currency: str | None = None) -> tuple[float | None, str | None]:
    """``"¥25.00"`` -> ``(25.0, "CNY")`` on a CNY site; a range gives its lower bound.

    Ambiguous symbols (``¥``, ``$``) take the marketplace's currency when it uses that symbol
    family, else the common reading (CNY, USD).
    """
    if not text:
        return None, default_currency
    shown = unicodedata.normalize("NFKC", text)
    currency = None
    for mark, code in _CURRENCY_MARKS:
        if mark in shown or mark in text:
            currency = code
            break
    if currency == "?YEN":
        currency = default_currency if default_currency in ("CNY", "JPY") else "CNY"
    elif currency == "?DOLLAR":
        dollars = ("USD", "CAD", "AUD", "HKD", "TWD", "SGD", "NZD")
        currency = default_currency if default_currency in dollars else "USD"
    elif currency is None:
        currency = default_currency
    match = _NUMBER.search(shown)
    if not match:
        return None, currency
    raw = re.sub(r"[,\s]", "", match.group(0))
    try:
        value = float(raw)
    except ValueError:
        return None, currency
    if "万" in shown[match.end(): match.end() + 2]:
        value *= 10000
    return round(value, 2), currency


def parse_count(text: str | None) -> int | None:
    """``"123人付款"`` -> 123, ``"1.2万+人付款"`` -> 12000, ``"2,345 sold"`` -> 2345."""
    if not text:
        return None
    shown = unicodedata.normalize("NFKC", text)
    match = _NUMBER.search(shown)
    if not match:
        return None
    raw = re.sub(r"[,\s]", "", match.group(0))
    try:
        value = float(raw)
    except ValueError:
        return None
    tail = shown[match.end(): match.end() + 2].lower()
    if tail.startswith("万"):
        value *= 10000
    elif tail.startswith("k"):
        value *= 1000
    return int(value)
