"""Read and validate member catalogues and authorised-seller lists (CSV or JSON, UTF-8).

A file is refused as a whole when anything is wrong with it, with every problem listed by line
number (:class:`crawler.exceptions.CatalogError`); nothing is half-imported. Catalogue columns:
``id, member, title, year, aliases (|-separated), kind (film|series)`` and optional
``release_date, home_release_date`` (ISO dates) and ``directors, cast, franchise``: people (or
franchises) separated by ``|``, the names one of them goes by joined with ``=``
(``Christopher Nolan=克里斯托弗·诺兰=诺兰|Emma Thomas``); in JSON a list of strings written the
same way or a list of name lists. Authorised sellers: ``marketplace, seller, member``.

No settings affect this module.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.exceptions import CatalogError

CATALOG_REQUIRED = ("id", "member", "title", "year", "aliases", "kind")
CATALOG_OPTIONAL = ("release_date", "home_release_date", "directors", "cast", "franchise")
PEOPLE_COLUMNS = ("directors", "cast", "franchise")
MAX_PEOPLE = 50
MAX_NAME = 200
AUTHORIZED_REQUIRED = ("marketplace", "seller", "member")
KINDS = ("film", "series")
MAX_FIELD = 2000


@dataclass
class CatalogEntry:
    id: str
    member: str
    title: str
    year: int | None
    aliases: list[str]
    kind: str
    release_date: dt.date | None = None
    home_release_date: dt.date | None = None
    # Each person (or franchise) as the names it goes by, in any language.
    directors: list[list[str]] = field(default_factory=list)
    cast: list[list[str]] = field(default_factory=list)
    franchise: list[list[str]] = field(default_factory=list)

    def as_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "member": self.member,
            "title": self.title,
            "year": self.year,
            "aliases": self.aliases,
            "kind": self.kind,
            "release_date": self.release_date,
            "home_release_date": self.home_release_date,
            "directors": self.directors,
            "cast": self.cast,
            "franchise": self.franchise,
        }


@dataclass
class AuthorizedSeller:
    marketplace: str
    seller: str
    member: str


@dataclass
class _Problems:
    path: str
    items: list[str] = field(default_factory=list)

    def add(self, line: int | None, message: str) -> None:
        self.items.append(f"line {line}: {message}" if line is not None else message)

    def raise_if_any(self) -> None:
        if self.items:
            raise CatalogError(self.path, self.items)


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CatalogError(str(path), ["no such file"]) from None
    except OSError as exc:
        raise CatalogError(str(path), [f"cannot read: {exc.strerror}"]) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CatalogError(
            str(path), [f"line {line}: not UTF-8 (byte {raw[exc.start]:#04x} at offset {exc.start})"]
        ) from None


def _records(path: Path, required: tuple[str, ...], problems: _Problems) -> list[tuple[int, dict]]:
    """(line number, record) pairs from a CSV or JSON file; header problems are fatal."""
    text = _read_text(path)
    if not text.strip():
        problems.add(None, "the file is empty")
        problems.raise_if_any()
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.add(exc.lineno, f"not valid JSON: {exc.msg}")
            problems.raise_if_any()
        if isinstance(data, dict):
            data = data.get("titles") or data.get("sellers") or data.get("items")
        if not isinstance(data, list):
            problems.add(None, "JSON must be a list of objects")
            problems.raise_if_any()
        out = []
        for i, rec in enumerate(data, start=1):
            if not isinstance(rec, dict):
                problems.add(i, "entry is not an object")
                continue
            missing = [c for c in required if c not in rec]
            if missing:
                problems.add(i, f"missing field(s) {', '.join(missing)}")
                continue
            out.append((i, rec))
        return out
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        problems.add(1, f"missing column(s) {', '.join(missing)} (found: {', '.join(header)})")
        problems.raise_if_any()
    reader.fieldnames = header
    out = []
    for rec in reader:
        line = reader.line_num
        if None in rec:
            problems.add(line, f"{len(rec[None])} more value(s) than columns")  # type: ignore[index]
            continue
        if any(v is None for v in rec.values()):
            problems.add(line, "fewer values than columns")
            continue
        out.append((line, rec))
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    return " ".join(str(value).split())


def _date(value: Any, name: str, line: int, problems: _Problems) -> dt.date | None:
    text = _text(value)
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        problems.add(line, f"{name} {text!r} is not an ISO date (YYYY-MM-DD)")
        return None


def _people(value: Any, name: str, line: int, problems: _Problems) -> list[list[str]]:
    """``"A=甲|B"`` (or ``["A=甲", "B"]``, ``[["A", "甲"], ["B"]]``) as ``[["A", "甲"], ["B"]]``."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items: list[Any] = value.split("|")
    elif isinstance(value, list):
        items = value
    else:
        problems.add(line, f"{name} must be text or a list, not {type(value).__name__}")
        return []
    out: list[list[str]] = []
    for item in items:
        if isinstance(item, str):
            names = item.split("=")
        elif isinstance(item, list) and all(isinstance(n, str) for n in item):
            names = item
        else:
            problems.add(line, f"{name}: {item!r} is neither a name nor a list of names")
            continue
        names = list(dict.fromkeys(_text(n) for n in names if _text(n)))
        long = [n for n in names if len(n) > MAX_NAME]
        if long:
            problems.add(line, f"{name}: a name is longer than {MAX_NAME} characters")
            continue
        if names:
            out.append(names)
    if len(out) > MAX_PEOPLE:
        problems.add(line, f"{name}: more than {MAX_PEOPLE} entries")
    return out


def load_catalog(path: str | Path, member: str | None = None) -> list[CatalogEntry]:
    """Parse and validate a catalogue file; ``member`` fills (or must equal) the member column."""
    path = Path(path)
    problems = _Problems(str(path))
    records = _records(path, CATALOG_REQUIRED if member is None else
                       tuple(c for c in CATALOG_REQUIRED if c != "member"), problems)
    entries: list[CatalogEntry] = []
    seen: dict[str, int] = {}
    this_year = dt.date.today().year
    for line, rec in records:
        cid = _text(rec.get("id"))
        title = _text(rec.get("title"))
        rec_member = _text(rec.get("member"))
        if member is not None:
            if rec_member and rec_member != member:
                problems.add(line, f"member {rec_member!r} differs from --member {member!r}")
            rec_member = member
        if not cid:
            problems.add(line, "empty id")
        elif cid in seen:
            problems.add(line, f"duplicate id {cid!r} (first on line {seen[cid]})")
        else:
            seen[cid] = line
        if not title:
            problems.add(line, "empty title")
        if not rec_member:
            problems.add(line, "empty member")
        for name, value in (("id", cid), ("title", title), ("member", rec_member)):
            if len(value) > MAX_FIELD:
                problems.add(line, f"{name} is longer than {MAX_FIELD} characters")
        year_text = _text(rec.get("year"))
        year: int | None = None
        if year_text:
            try:
                year = int(year_text)
                if not 1870 <= year <= this_year + 10:
                    problems.add(line, f"year {year} is out of range")
            except ValueError:
                problems.add(line, f"bad year {year_text!r}")
        kind = _text(rec.get("kind")).lower() or "film"
        if kind not in KINDS:
            problems.add(line, f"kind {kind!r} must be film or series")
        raw_aliases = rec.get("aliases")
        if isinstance(raw_aliases, list):
            aliases = [_text(a) for a in raw_aliases]
        else:
            aliases = [_text(a) for a in str(raw_aliases or "").split("|")]
        aliases = list(dict.fromkeys(a for a in aliases if a and a != title))
        entries.append(
            CatalogEntry(
                id=cid,
                member=rec_member,
                title=title,
                year=year,
                aliases=aliases,
                kind=kind,
                release_date=_date(rec.get("release_date"), "release_date", line, problems),
                home_release_date=_date(
                    rec.get("home_release_date"), "home_release_date", line, problems
                ),
                **{name: _people(rec.get(name), name, line, problems) for name in PEOPLE_COLUMNS},
            )
        )
    if not entries and not problems.items:
        problems.add(None, "no titles in the file")
    problems.raise_if_any()
    return entries


def load_authorized(path: str | Path) -> list[AuthorizedSeller]:
    """Parse and validate an authorised-sellers file (``marketplace,seller,member``)."""
    path = Path(path)
    problems = _Problems(str(path))
    out: list[AuthorizedSeller] = []
    seen: set[tuple[str, str, str]] = set()
    for line, rec in _records(path, AUTHORIZED_REQUIRED, problems):
        row = AuthorizedSeller(*(_text(rec.get(c)) for c in AUTHORIZED_REQUIRED))
        for name in AUTHORIZED_REQUIRED:
            if not getattr(row, name):
                problems.add(line, f"empty {name}")
        key = (row.marketplace, row.seller, row.member)
        if key in seen:
            continue
        seen.add(key)
        out.append(row)
    problems.raise_if_any()
    return out
