"""The licence register: a CSV of publication licences known to be issued, to check shops against.

``load_register(path)`` reads the whole file or refuses it whole
(:class:`crawler.exceptions.LicenceRegisterError`, exit code 3) with every problem by line, as
the catalogue importer does: nothing is half-loaded.

Format: CSV, UTF-8 (with or without BOM) or GBK/GB18030 (what Chinese spreadsheets export).
Lines starting with ``#`` are comments (line numbers still count them); blank lines are skipped.
The header names the columns, in any order, in English or Chinese:

=============  ======================  ==========================================================
column         also accepted           value
=============  ======================  ==========================================================
number         许可证编号, 证号          the licence number (required; compared normalised: NFKC,
                                       no spaces, full-width brackets and digits folded)
holder         经营者名称, 单位名称      the holder's name (required)
authority      发证机关                 issuing authority (optional)
valid_from     有效期起, 起始日期        first valid day (optional; 2021-03-01, 2021/3/1, 2021年3月1日)
valid_to       有效期至, 截止日期        last valid day (optional; empty or 长期: no end)
status         状态                     valid (default) | revoked | cancelled | suspended | expired
                                       (or 有效, 吊销, 注销, 暂停, 过期)
=============  ======================  ==========================================================

A number listed twice is a problem (a register names one holder per number).

Settings: ``REELGUARD_LICENCE_REGISTER`` names the register file for crawls and
``reelguard licences`` (read by the callers, not here).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from crawler.exceptions import LicenceRegisterError
from crawler.licences.parse import normalise_number
from crawler.licences.text import MAX_FIELD, clean_text, has_control, parse_date, quote

MAX_BYTES = 200 * 1024 * 1024
MAX_PROBLEMS = 1000  # enough to fix a file; the rest are counted, not listed
COLUMNS: dict[str, tuple[str, ...]] = {
    "number": ("number", "licence_number", "许可证编号", "许可证号", "证号", "编号"),
    "holder": ("holder", "name", "经营者名称", "单位名称", "经营者", "持证单位"),
    "authority": ("authority", "发证机关"),
    "valid_from": ("valid_from", "有效期起", "起始日期", "发证日期"),
    "valid_to": ("valid_to", "有效期至", "截止日期", "到期日期"),
    "status": ("status", "状态"),
}
REQUIRED = ("number", "holder")
STATUSES = {
    "valid": "valid",
    "有效": "valid",
    "正常": "valid",
    "revoked": "revoked",
    "吊销": "revoked",
    "撤销": "revoked",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "注销": "cancelled",
    "suspended": "suspended",
    "暂停": "suspended",
    "expired": "expired",
    "过期": "expired",
    "已过期": "expired",
}


@dataclass(frozen=True)
class RegisterEntry:
    """One licence of the register."""

    number: str  # normalised
    holder: str
    authority: str | None
    valid_from: dt.date | None
    valid_to: dt.date | None
    status: str  # valid | revoked | cancelled | suspended | expired
    line: int


@dataclass(frozen=True)
class Register:
    """The licences of one register file, by normalised number."""

    path: str
    entries: Mapping[str, RegisterEntry] = field(default_factory=dict)

    def lookup(self, number: str | None) -> RegisterEntry | None:
        key = normalise_number(number)
        return self.entries.get(key) if key else None

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[RegisterEntry]:
        return iter(self.entries.values())


class _Problems:
    def __init__(self, path: str) -> None:
        self.path = path
        self.items: list[str] = []
        self.more = 0

    def add(self, line: int | None, message: str) -> None:
        if len(self.items) >= MAX_PROBLEMS:
            self.more += 1
            return
        self.items.append(f"line {line}: {message}" if line is not None else message)

    def raise_if_any(self) -> None:
        if self.items:
            extra = [f"and {self.more} more problem(s)"] if self.more else []
            raise LicenceRegisterError(self.path, self.items + extra)

    def fatal(self, line: int | None, message: str) -> NoReturn:
        """Refuse the file now: what follows cannot be read."""
        self.add(line, message)
        self.raise_if_any()
        raise AssertionError("unreachable")


def _decode(path: Path, problems: _Problems) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            problems.fatal(None, f"the file is {size} bytes, more than {MAX_BYTES}")
        raw = path.read_bytes()
    except FileNotFoundError:
        problems.fatal(None, "no such file")
    except IsADirectoryError:
        problems.fatal(None, "is a directory, not a file")
    except OSError as exc:
        problems.fatal(None, f"cannot read: {exc.strerror}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as utf8_error:
        try:
            # GB18030 is a superset of GBK and GB2312: what Chinese spreadsheets export.
            return raw.decode("gb18030")
        except UnicodeDecodeError:
            line = raw[: utf8_error.start].count(b"\n") + 1
            problems.fatal(
                line,
                f"neither UTF-8 nor GBK (byte {raw[utf8_error.start]:#04x} "
                f"at offset {utf8_error.start})",
            )


def _header(row: list[str], line: int, problems: _Problems) -> dict[str, int]:
    names = [clean_text(h).lower().replace(" ", "_") for h in row]
    where: dict[str, int] = {}
    for i, name in enumerate(names):
        column = next((c for c, aliases in COLUMNS.items() if name in aliases), None)
        if column is None:
            problems.add(line, f"unknown column {quote(name)} (known: {', '.join(COLUMNS)})")
        elif column in where:
            problems.add(line, f"column {column} given twice")
        else:
            where[column] = i
    missing = [c for c in REQUIRED if c not in where]
    if missing:
        problems.add(line, f"missing column(s) {', '.join(missing)}")
    problems.raise_if_any()
    return where


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    # Comment lines become empty lines so that csv's line numbers stay the file's own.
    # (Split on "\n" only: str.splitlines also breaks at U+2028 and friends inside a field.)
    lines = ["" if line.lstrip().startswith("#") else line for line in text.split("\n")]
    reader = csv.reader(io.StringIO("\n".join(lines), newline=""))
    for row in reader:
        if any(cell.strip() for cell in row):
            yield reader.line_num, row


def load_register(path: str | Path) -> Register:
    """Read and validate the register file at ``path`` (see the module docstring)."""
    path = Path(path)
    problems = _Problems(str(path))
    text = _decode(path, problems)
    rows = _rows(text)
    try:
        first = next(rows)
    except StopIteration:
        problems.fatal(None, "the file is empty (no header)")
    except csv.Error as exc:
        problems.fatal(None, f"not valid CSV: {exc}")
    columns = _header(first[1], first[0], problems)
    entries: dict[str, RegisterEntry] = {}
    try:
        for line, row in rows:
            entry = _entry(line, row, columns, len(first[1]), problems)
            if entry is None:
                continue
            seen = entries.get(entry.number)
            if seen is not None:
                problems.add(line, f"number {quote(entry.number)} is already on line {seen.line}")
                continue
            entries[entry.number] = entry
    except csv.Error as exc:
        problems.add(None, f"not valid CSV: {exc}")
    problems.raise_if_any()
    return Register(str(Path(path).resolve()), entries)


def _entry(
    line: int, row: list[str], columns: dict[str, int], width: int, problems: _Problems
) -> RegisterEntry | None:
    if len(row) != width:
        problems.add(line, f"{len(row)} value(s) for {width} column(s)")
        return None
    values = {c: row[i] for c, i in columns.items()}
    before = len(problems.items) + problems.more
    for column, value in values.items():
        if len(value) > MAX_FIELD:
            problems.add(line, f"{column} is longer than {MAX_FIELD} characters")
        elif has_control(value):
            problems.add(line, f"{column} contains control or text-direction characters")
    number = normalise_number(values["number"])
    holder = clean_text(values["holder"])
    if not number:
        problems.add(line, "empty number")
    if not holder:
        problems.add(line, "empty holder")
    dates: dict[str, dt.date | None] = {}
    for column in ("valid_from", "valid_to"):
        date, _indefinite, problem = parse_date(values.get(column))
        if problem:
            problems.add(line, f"{column}: {problem}")
        dates[column] = date
    if dates["valid_from"] and dates["valid_to"] and dates["valid_from"] > dates["valid_to"]:
        problems.add(
            line, f"valid_from {dates['valid_from']} is after valid_to {dates['valid_to']}"
        )
    status_text = clean_text(values.get("status")).lower() or "valid"
    status = STATUSES.get(status_text)
    if status is None:
        problems.add(
            line,
            f"status {quote(status_text)} is not one of valid, revoked, "
            "cancelled, suspended, expired",
        )
    if len(problems.items) + problems.more > before or not number or status is None:
        return None
    return RegisterEntry(
        number=number,
        holder=holder,
        authority=clean_text(values.get("authority")) or None,
        valid_from=dates["valid_from"],
        valid_to=dates["valid_to"],
        status=status,
        line=line,
    )


def register_in_use(session: Any, given: str | None = None) -> str | None:
    """The register to check against: ``given``, else ``$REELGUARD_LICENCE_REGISTER``, else the
    file the latest check used (when it still exists), so that a check run without naming the
    register never downgrades findings that needed it (a holder mismatch stays a mismatch)."""
    import os

    from sqlalchemy import select

    from crawler.db.models_sellers import LicenceFinding

    if given:
        return given
    if os.environ.get("REELGUARD_LICENCE_REGISTER"):
        return os.environ["REELGUARD_LICENCE_REGISTER"]
    last = session.execute(
        select(LicenceFinding.register)
        .where(LicenceFinding.register.is_not(None))
        .order_by(LicenceFinding.checked_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return last if last and Path(last).is_file() else None
