"""Read and validate a shop's publication licence (出版物经营许可证) as a page shows it. Pure.

:func:`read_licence` takes the licence block a page object extracted
(:class:`crawler.items.Licence`: number, holder, authority, validity, raw text) or only its raw
text, and returns a :class:`LicenceReading`: the normalised number and what it says (wholesale
or retail, issuing region), the holder, the authority, the validity dates and every problem in
words. :func:`assess` turns a reading into a status for a given day (``valid``, ``expired``,
``not_yet_valid``, ``missing``, ``malformed``).

Text is normalised and bounded by :mod:`crawler.licences.text` (NFKC, brackets, markup,
whitespace). Control characters and bidirectional overrides (RTL marks) are never silently
removed from a number: they make it malformed, because they change what a reader sees. The raw
block is read up to ``MAX_RAW`` characters and a number up to ``MAX_NUMBER``; every pattern is
linear, so hostile text (a 1 MB string, markup, lookalike digits) costs microseconds and never
raises.

The number grammar accepted (after normalisation), from the numbers real shops and platforms
publish (e.g. 新出发京零字第东140001号, 新出发京批字第直0178号, 新出发沪批字第U3814号,
新出发苏批字第A-243号, 新出发(苏)批字第N-012号, 新出发粤穗零字第Y672号, 新出发浙杭经零字第00136号,
新出发(杭余)零字第00369号, 西安新城新出发零字001号, the older Shanghai form 沪零字第L6687号)::

    number  := [issuer] "新出发" ["(" year ")"] [region] kind "字" ["第"] serial "号"
             | region kind "字第" serial "号"                 (older form without 新出发)
    issuer  := 1-6 Han characters (a city and district written before 新出发)
    region  := province [1-3 Han characters]                 (城市/区县, e.g. 粤穗, 浙杭经)
             | "(" 1-4 Han characters ")"                     (e.g. (苏), (杭余))
    province:= one of 京津沪渝冀晋辽吉黑苏浙皖闽赣鲁豫鄂湘粤琼川蜀贵黔云滇陕秦甘陇青宁新藏桂蒙
    kind    := "批" (wholesale) | "零" (retail)
    serial  := [series] 2-8 ASCII digits
    series  := 1-3 Han characters (district or 直 for directly issued) and/or
               1-3 capital letters, optionally followed by "-"

An issuing region is required (issuer or region). ``备字`` numbers are filings of trading
platforms, not a shop's licence, and are reported as such. Digits must be ASCII after NFKC:
lookalikes (Arabic-Indic digits, the letter O for zero) make the number malformed.

Dates and holder names: see :mod:`crawler.licences.text`.

No settings affect this module.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crawler.items import Licence
from crawler.licences.text import (
    MAX_FIELD,
    clean_text,
    has_control,
    parse_date,
    parse_validity,
    quote,
    strip_control,
)

MAX_RAW = 4096  # characters of a licence block's raw text that are read
MAX_NUMBER = 64  # a longer "number" is not a licence number

PROVINCES = frozenset("京津沪渝冀晋辽吉黑苏浙皖闽赣鲁豫鄂湘粤琼川蜀贵黔云滇陕秦甘陇青宁新藏桂蒙")
KINDS = {"批": "wholesale", "零": "retail"}
GRAMMAR = "新出发<省>批|零字第<编号>号"

_HAN = "\u4e00-\u9fff"
_NUMBER = re.compile(
    rf"(?P<issuer>[{_HAN}]{{1,6}}?)?新出发(?:\((?P<year>(?:19|20)[0-9]{{2}})\))?"
    rf"(?P<region>\([{_HAN}]{{1,4}}\)|[{_HAN}]{{1,4}}?)?(?P<kind>[批零])字第?"
    rf"(?P<serial>(?P<series>[{_HAN}]{{0,3}}(?:[A-Z]{{1,3}}-?)?)(?P<digits>[0-9]{{2,8}}))号"
)
_LEGACY = re.compile(
    rf"(?P<region>[{_HAN}]{{1,4}}?)(?P<kind>[批零])字第"
    rf"(?P<serial>(?P<series>[{_HAN}]{{0,3}}(?:[A-Z]{{1,3}}-?)?)(?P<digits>[0-9]{{2,8}}))号"
)
# A licence number somewhere in free text (raw blocks without labels).
_NUMBER_IN_TEXT = re.compile(
    rf"[{_HAN}()]{{0,8}}新出发[^\s:：,，;；|]{{1,40}}?号"
    rf"|(?<![{_HAN}])[{_HAN}]{{1,4}}[批零]字第[^\s:：,，;；|]{{1,20}}?号"
)

# Labels of a licence block; longest first so that 许可证编号 wins over 编号.
_LABELS: tuple[tuple[str, str], ...] = (
    ("出版物经营许可证编号", "number"),
    ("出版物经营许可证号", "number"),
    ("经营许可证编号", "number"),
    ("经营许可证号", "number"),
    ("许可证编号", "number"),
    ("许可证号码", "number"),
    ("许可证号", "number"),
    ("证书编号", "number"),
    ("证照编号", "number"),
    ("证号", "number"),
    ("编号", "number"),
    ("经营者名称", "holder"),
    ("经营单位名称", "holder"),
    ("单位名称", "holder"),
    ("企业名称", "holder"),
    ("经营单位", "holder"),
    ("持证单位", "holder"),
    ("经营者", "holder"),
    ("发证机关", "authority"),
    ("发证单位", "authority"),
    ("颁发机关", "authority"),
    ("批准机关", "authority"),
    ("有效期限", "validity"),
    ("有效日期", "validity"),
    ("有效期至", "valid_to"),
    ("有效期", "validity"),
    ("截止日期", "valid_to"),
    ("到期日期", "valid_to"),
    ("起始日期", "valid_from"),
    ("发证日期", "valid_from"),
)
_LABEL = re.compile("(" + "|".join(re.escape(k) for k, _ in _LABELS) + r")\s*[:：]?\s*")
_LABEL_FIELD = dict(_LABELS)
_VALUE_END = re.compile(r"[\n|;；]")


@dataclass(frozen=True)
class LicenceReading:
    """What a licence block says, normalised, with its format problems in words."""

    number: str | None = None  # normalised; None when no number is shown
    number_shown: str | None = None  # as shown (bounded, control characters kept)
    number_ok: bool = False
    kind: str | None = None  # "wholesale" | "retail"
    region: str | None = None
    holder: str | None = None
    authority: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    indefinite: bool = False  # shown as 长期 / 永久: no end
    problems: tuple[str, ...] = ()
    dates_ok: bool = True

    @property
    def empty(self) -> bool:
        return not (
            self.number_shown
            or self.holder
            or self.authority
            or self.valid_from
            or self.valid_to
            or self.indefinite
        )


@dataclass(frozen=True)
class Assessment:
    status: str  # valid | expired | not_yet_valid | missing | malformed
    problems: tuple[str, ...] = field(default_factory=tuple)


def normalise_number(value: Any) -> str | None:
    """The comparable form of a licence number: cleaned, no spaces, control characters removed.

    Used as the register key, so ``新出发 京零字第东140001 号`` and ``新出发京零字第东１４０００１号``
    are one number.
    """
    text = strip_control(clean_text(value, MAX_FIELD)).replace(" ", "")
    return text or None


# -- numbers -------------------------------------------------------------------------------
@dataclass(frozen=True)
class NumberCheck:
    ok: bool
    normalised: str | None
    kind: str | None = None
    region: str | None = None
    problem: str | None = None


def check_number(value: Any) -> NumberCheck:
    """Whether ``value`` follows the grammar in the module docstring; the problem in words."""
    shown = clean_text(value, MAX_FIELD)
    if not shown:
        return NumberCheck(False, None, problem="the licence block shows no number")
    compact = shown.replace(" ", "")
    normalised = strip_control(compact) or None

    def bad(detail: str) -> NumberCheck:
        return NumberCheck(
            False,
            normalised,
            problem=f"number {quote(compact)} does not follow {GRAMMAR} ({detail})",
        )

    if has_control(compact):
        return bad("it contains control or text-direction characters")
    if len(compact) > MAX_NUMBER:
        return bad(f"longer than {MAX_NUMBER} characters")
    match = _NUMBER.fullmatch(compact)
    legacy = match is None
    if legacy:
        match = _LEGACY.fullmatch(compact)
    if match is None:
        return bad(_why_not(compact))
    region = (match.group("region") or "").strip("()")
    bracketed = (match.group("region") or "").startswith("(")
    issuer = "" if legacy else (match.group("issuer") or "")
    if not region and not issuer:
        return bad("no issuing province")
    if region and not bracketed and region[0] not in PROVINCES and not issuer:
        return bad(f"{region[0]} is not a province abbreviation")
    return NumberCheck(True, normalised, KINDS[match.group("kind")], issuer + region or None)


def _why_not(number: str) -> str:
    """The most useful reason ``number`` fails the grammar."""
    if "备字" in number:
        return "备字 numbers are filings of trading platforms, not a shop's licence"
    if not number.endswith("号"):
        return "it does not end with 号"
    if "新出发" not in number and not re.search(r"[批零]字第", number):
        return "no 新出发 and no 批字/零字"
    if not re.search(r"[批零]字", number):
        return "no 批字 or 零字: wholesale or retail"
    serial = re.split(r"[批零]字第?", number, maxsplit=1)[-1][:-1]
    if not serial:
        return "no serial number"
    lookalike = [c for c in serial if not c.isascii() and unicodedata.decimal(c, None) is not None]
    if lookalike:
        return f"{quote(''.join(lookalike))} only look like digits"
    if not re.search("[0-9]", serial):
        return "no digits in the serial number"
    return f"serial {quote(serial)} is not <district or letters><digits>"


# -- the block -----------------------------------------------------------------------------
def fields_from_raw(raw: Any) -> dict[str, str]:
    """Licence fields found by their labels (许可证编号, 经营者名称, 发证机关, 有效期…) in raw text.

    A number without a label is found by its shape. Values are cleaned but not validated.
    """
    text = clean_text(raw, MAX_RAW)
    found: dict[str, str] = {}
    labels = list(_LABEL.finditer(text))
    for i, match in enumerate(labels):
        end = labels[i + 1].start() if i + 1 < len(labels) else len(text)
        value = text[match.end() : end]
        stop = _VALUE_END.search(value)
        value = (value[: stop.start()] if stop else value).strip(" :：,，")[:MAX_FIELD]
        name = _LABEL_FIELD[match.group(1)]
        if value and name not in found:
            found[name] = value
    if "number" not in found or not _NUMBER_IN_TEXT.search(found["number"].replace(" ", "")):
        shape = _NUMBER_IN_TEXT.search(text.replace(" ", ""))
        if shape:
            found["number"] = _drop_label(shape.group())
    return found


def _drop_label(number: str) -> str:
    """``出版物经营许可证新出发…号`` -> ``新出发…号``: Han text before 新出发 up to a 证 or 号 is
    the label run into the number, not the issuer (西安新城新出发… keeps its issuer)."""
    head, sep, tail = number.partition("新出发")
    if not sep:
        return number
    cut = max(head.rfind("证"), head.rfind("号"))
    return (head[cut + 1 :] if cut >= 0 else head) + sep + tail


def _get(licence: Licence | Mapping[str, Any], name: str) -> Any:
    if isinstance(licence, Mapping):
        return licence.get(name)
    return getattr(licence, name, None)


def read_licence(licence: Licence | Mapping[str, Any] | str | None) -> LicenceReading:
    """Read a licence block (fields as shown, falling back to its raw text); never raises."""
    if licence is None:
        return LicenceReading()
    if isinstance(licence, str):
        licence = {"raw_text": licence}
    raw = fields_from_raw(_get(licence, "raw_text"))
    number_text = clean_text(_get(licence, "number")) or raw.get("number", "")
    holder_text = clean_text(_get(licence, "holder")) or raw.get("holder", "")
    authority_text = clean_text(_get(licence, "authority")) or raw.get("authority", "")
    problems: list[str] = []

    number = check_number(number_text) if number_text else None
    if number is not None and number.problem:
        problems.append(number.problem)
    for name, text in (("holder", holder_text), ("authority", authority_text)):
        if has_control(text):
            problems.append(f"the {name} contains control or text-direction characters")

    valid_from, valid_to, indefinite, dates_ok = _dates(licence, raw, problems)
    if valid_from and valid_to and valid_from > valid_to:
        problems.append(f"valid from {valid_from} is after valid to {valid_to}")
        dates_ok = False
    return LicenceReading(
        number=number.normalised if number else None,
        number_shown=number_text[:MAX_FIELD] or None,
        number_ok=bool(number and number.ok),
        kind=number.kind if number else None,
        region=number.region if number else None,
        holder=strip_control(holder_text) or None,
        authority=strip_control(authority_text) or None,
        valid_from=valid_from,
        valid_to=valid_to,
        indefinite=indefinite,
        problems=tuple(problems),
        dates_ok=dates_ok,
    )


def _dates(
    licence: Licence | Mapping[str, Any], raw: dict[str, str], problems: list[str]
) -> tuple[dt.date | None, dt.date | None, bool, bool]:
    shown_from = clean_text(_get(licence, "valid_from")) or raw.get("valid_from", "")
    shown_to = clean_text(_get(licence, "valid_to")) or raw.get("valid_to", "")
    ok = True
    valid_from, _, problem = parse_date(shown_from)
    if problem:
        problems.append(f"valid from: {problem}")
        ok = False
    valid_to, indefinite, problem = parse_date(shown_to)
    if problem:
        problems.append(f"valid to: {problem}")
        ok = False
    if not (shown_from or shown_to) and raw.get("validity"):
        valid_from, valid_to, indefinite, range_problems = parse_validity(raw["validity"])
        problems.extend(f"validity: {p}" for p in range_problems)
        ok = not range_problems
    return valid_from, valid_to, indefinite, ok


def assess(reading: LicenceReading | None, today: dt.date) -> Assessment:
    """The status of a licence on ``today``, with every problem in words."""
    if reading is None or reading.empty:
        return Assessment("missing", ("no publication licence (出版物经营许可证) is shown",))
    problems = list(reading.problems)
    if reading.number_shown is None:
        problems.insert(0, "the licence block shows no number")
    if not reading.number_ok or not reading.dates_ok:
        return Assessment("malformed", tuple(problems))
    if reading.valid_to is None and not reading.indefinite:
        problems.append("no expiry date is shown")
    if reading.valid_to is not None and reading.valid_to < today:
        problems.append(f"expired on {reading.valid_to.isoformat()}")
        return Assessment("expired", tuple(problems))
    if reading.valid_from is not None and reading.valid_from > today:
        problems.append(f"valid from {reading.valid_from.isoformat()}, not yet valid")
        return Assessment("not_yet_valid", tuple(problems))
    return Assessment("valid", tuple(problems))
