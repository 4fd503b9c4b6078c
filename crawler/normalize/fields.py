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

_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]"
)
_NUMBER = re.compile(r"\d[\d,\s]*(?:\.\d+)?|\.\d+")

# Longest symbols first so "US $" wins over "$".
_CURRENCY_MARKS: list[tuple[str, str]] = [
    ("US $", "USD"), ("US$", "USD"), ("USD", "USD"), ("C $", "CAD"), ("C$", "CAD"),
    ("AU $", "AUD"), ("AU$", "AUD"), ("A$", "AUD"), ("HK$", "HKD"), ("NT$", "TWD"),
    ("RMB", "CNY"), ("CNY", "CNY"), ("元", "CNY"), ("EUR", "EUR"), ("€", "EUR"),
    ("GBP", "GBP"), ("£", "GBP"), ("JPY", "JPY"), ("円", "JPY"), ("₪", "ILS"), ("ILS", "ILS"),
    ("₩", "KRW"), ("₹", "INR"), ("₽", "RUB"), ("¥", "?YEN"), ("￥", "?YEN"), ("$", "?DOLLAR"),
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


_ISO_CODES = frozenset(
    [
        "USD",
        "EUR",
        "GBP",
        "CNY",
        "RMB",
        "JPY",
        "IDR",
        "ILS",
        "AUD",
        "CAD",
        "HKD",
        "TWD",
        "SGD",
        "MYR",
        "PHP",
        "INR",
        "KRW",
        "RUB",
        "BRL",
        "MXN",
        "CHF",
        "SEK",
        "NOK",
        "DKK",
        "PLN",
        "CZK",
        "HUF",
        "TRY",
        "THB",
        "VND",
        "NZD",
        "ZAR",
        "AED",
        "SAR",
    ]
)
_CODE = re.compile(r"(?<![A-Za-z])([A-Z]{3})(?![A-Za-z])")
# Digit groups joined by "." or ","; a space-like separator only before a group of exactly
# three digits ("1 614 898,07"), so "25.00 30.00" stays two amounts.
_AMOUNT = re.compile(r"\d+(?:(?:[.,]|[\u00a0\u202f' ](?=\d{3}(?!\d)))\d+)*|\.\d+")


def parse_amount(token: str) -> float | None:
    """``"1,614,898.07"`` -> 1614898.07, ``"97,39"`` -> 97.39, ``"1.234,50"`` -> 1234.5.

    The decimal mark is the last of ``.``/``,`` when both appear; a lone ``,`` is decimal only
    when one or two digits follow it (``"1,299"`` is a thousand and more); several ``.`` are
    thousands separators.
    """
    token = re.sub(r"[\u00a0\u202f' ]", "", token)
    decimal: str | None
    if "," in token and "." in token:
        decimal = "," if token.rfind(",") > token.rfind(".") else "."
    elif "," in token:
        tail = token.rpartition(",")[2]
        decimal = "," if token.count(",") == 1 and len(tail) in (1, 2) else None
    elif token.count(".") > 1:
        decimal = None
    else:
        decimal = "."
    for sep in {",", "."} - ({decimal} if decimal else set()):
        token = token.replace(sep, "")
    if decimal == ",":
        token = token.replace(",", ".")
    try:
        return round(float(token), 2)
    except ValueError:
        return None


def parse_price(
    text: str | None, default_currency: str | None = None
) -> tuple[float | None, str | None]:
    """``"¥25.00"`` -> ``(25.0, "CNY")`` on a CNY site; ``"€ 97,39 - 128,72"`` -> ``(97.39,
    "EUR")``; ``"IDR1,614,898.07"`` -> ``(1614898.07, "IDR")``. A range gives its lower bound.

    An ISO code on the page wins; ambiguous symbols (``¥``, ``$``) take the marketplace's
    currency when it uses that symbol family, else the common reading (CNY, USD).
    """
    if not text:
        return None, default_currency
    shown = unicodedata.normalize("NFKC", text[:MAX_TITLE])
    code = next((c for c in _CODE.findall(shown) if c in _ISO_CODES), None)
    currency = None
    if code:
        currency = "CNY" if code == "RMB" else code
    else:
        for mark, mark_code in _CURRENCY_MARKS:
            if mark in shown:
                currency = mark_code
                break
    if currency == "?YEN":
        currency = default_currency if default_currency in ("CNY", "JPY") else "CNY"
    elif currency == "?DOLLAR":
        dollars = ("USD", "CAD", "AUD", "HKD", "TWD", "SGD", "NZD")
        currency = default_currency if default_currency in dollars else "USD"
    elif currency is None:
        currency = default_currency
    match = _AMOUNT.search(shown)
    value = parse_amount(match.group(0)) if match else None
    if value is not None and match and "万" in shown[match.end() : match.end() + 2]:
        value = round(value * 10000, 2)
    return value, currency


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
    tail = shown[match.end() : match.end() + 2].lower()
    if tail.startswith("万"):
        value *= 10000
    elif tail.startswith("k"):
        value *= 1000
    return int(value)
