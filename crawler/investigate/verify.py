"""Verify a case file (its folder or its .zip) without the database: ``reelguard case verify``.

Checks, each failure naming the file (and entry) and what is wrong:

* ``sums``      every file listed in ``SHA256SUMS`` exists and has that SHA-256, and every file
                of the folder is listed (an added file is a failure too);
* ``wacz``      ``captures.wacz`` is a readable ZIP whose ``datapackage-digest.json`` matches
                ``datapackage.json``, whose resources (and inner ``SHA256SUMS``) match their
                hashes and sizes; every chain entry in ``evidence.json`` re-hashes to its
                ``entry_hash`` and its file to its ``sha256``; every WARC's own digests hold;
* ``artefacts`` every artefact ``case.json`` lists is in the WACZ with the same ``seq``,
                ``sha256`` and ``entry_hash``, its WACZ file hashes to it, and so does its copy
                under ``artefacts/``; the WACZ holds no entry the case does not list;
* ``case``      ``case.json`` is readable, names the WACZ by its SHA-256, and ``CHAIN_HEAD``
                says the same head as ``case.json``.

Optionally (``verify_against_database``) the case's chain head and every artefact's entry are
looked up in a live evidence log: a case cut from another chain, or entries since removed,
show there.

No settings affect this module.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from crawler.evidence.chain import compute_entry_hash
from crawler.evidence.warc import check_warc

_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


@dataclass
class CaseCheck:
    path: Path
    files: int = 0
    artefacts: int = 0
    wacz_entries: int = 0
    failures: list[str] = field(default_factory=list)
    case: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, check: str, where: str, message: str) -> None:
        self.failures.append(f"{check}: {where}: {message}")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_case_files(path: Path) -> dict[str, bytes]:
    """Every file of the case (relative POSIX name -> bytes), from its folder or its zip."""
    if path.is_dir():
        return {
            p.relative_to(path).as_posix(): p.read_bytes()
            for p in sorted(path.rglob("*"))
            if p.is_file()
        }
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        tops = {n.split("/", 1)[0] for n in names}
        if len(tops) != 1 or any("/" not in n for n in names):
            raise ValueError("the zip must hold exactly one case folder")
        out = {}
        for name in names:
            rel = name.split("/", 1)[1]
            if PurePosixPath(rel).is_absolute() or ".." in PurePosixPath(rel).parts:
                raise ValueError(f"unsafe name in the zip: {name!r}")
            out[rel] = zf.read(name)
        return out


def _check_sums(files: dict[str, bytes], check: CaseCheck) -> None:
    sums = files.get("SHA256SUMS")
    if sums is None:
        check.fail("sums", "SHA256SUMS", "missing")
        return
    listed: dict[str, str] = {}
    for n, line in enumerate(sums.decode("utf-8", "replace").splitlines(), 1):
        found = _SUM_LINE.match(line)
        if not found:
            check.fail("sums", f"SHA256SUMS line {n}", "not '<sha256>  <file>'")
            continue
        listed[found.group(2)] = found.group(1)
    for name, expected in listed.items():
        if name not in files:
            check.fail("sums", name, "listed in SHA256SUMS but missing")
        elif (actual := _sha(files[name])) != expected:
            check.fail(
                "sums",
                name,
                f"SHA-256 is {actual[:16]}…, SHA256SUMS says "
                f"{expected[:16]}… (the file was changed)",
            )
    for name in files:
        if name != "SHA256SUMS" and name not in listed:
            check.fail("sums", name, "not listed in SHA256SUMS (the file was added)")


def _entry_time(entry: dict[str, Any]) -> dict[str, Any]:
    fields = dict(entry)
    fields["captured_at"] = datetime.fromisoformat(str(entry["captured_at"]))
    return fields


def check_wacz(
    data: bytes, check: CaseCheck, where: str = "captures.wacz"
) -> dict[int, dict[str, Any]]:
    """Check a WACZ written by ``export_records``; return its chain entries by ``seq``."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        inner = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
    except (zipfile.BadZipFile, OSError, ValueError, zlib.error, EOFError) as exc:
        # A flipped byte inside a deflated member surfaces as zlib.error, not BadZipFile.
        check.fail("wacz", where, f"not a readable ZIP: {exc}")
        return {}
    package = inner.get("datapackage.json")
    digest = inner.get("datapackage-digest.json")
    if package is None or digest is None:
        check.fail("wacz", where, "datapackage.json or datapackage-digest.json is missing")
        return {}
    try:
        expected = json.loads(digest)["hash"].removeprefix("sha256:")
        resources = json.loads(package)["resources"]
    except (ValueError, KeyError, TypeError) as exc:
        check.fail("wacz", where, f"unreadable datapackage: {exc}")
        return {}
    if _sha(package) != expected:
        check.fail("wacz", f"{where}/datapackage.json", "does not match datapackage-digest.json")
    described = set()
    for res in resources:
        name = str(res.get("path"))
        described.add(name)
        if name not in inner:
            check.fail("wacz", f"{where}/{name}", "listed in datapackage.json but missing")
        elif f"sha256:{_sha(inner[name])}" != res.get("hash") or len(inner[name]) != res.get(
            "bytes"
        ):
            check.fail("wacz", f"{where}/{name}", "does not match its datapackage.json hash")
    for name in inner:
        if name not in described | {"datapackage.json", "datapackage-digest.json"}:
            check.fail("wacz", f"{where}/{name}", "not listed in datapackage.json")
    entries: dict[int, dict[str, Any]] = {}
    try:
        listed = json.loads(inner.get("evidence.json", b"{}")).get("entries", [])
    except ValueError:
        check.fail("wacz", f"{where}/evidence.json", "not JSON")
        listed = []
    for entry in listed:
        label = f"{where} entry seq {entry.get('seq')}"
        try:
            if compute_entry_hash(_entry_time(entry)) != entry.get("entry_hash"):
                check.fail("wacz", label, "entry fields do not hash to its entry_hash")
        except (KeyError, TypeError, ValueError) as exc:
            check.fail("wacz", label, f"malformed entry: {exc}")
            continue
        body = inner.get(str(entry.get("file")))
        if body is None:
            check.fail("wacz", label, f"file {entry.get('file')} is missing")
        elif _sha(body) != entry.get("sha256") or len(body) != entry.get("size"):
            check.fail("wacz", label, f"file {entry.get('file')} does not match the entry")
        elif entry.get("kind") == "warc":
            for problem in check_warc(body):
                check.fail("wacz", label, f"WARC: {problem}")
        entries[int(entry["seq"])] = entry
    check.wacz_entries = len(entries)
    return entries


def _check_artefacts(
    files: dict[str, bytes],
    case: dict[str, Any],
    entries: dict[int, dict[str, Any]],
    check: CaseCheck,
) -> None:
    artefacts = case.get("artefacts") or []
    check.artefacts = len(artefacts)
    for artefact in artefacts:
        label = f"case.json artefact seq {artefact.get('seq')}"
        entry = entries.get(int(artefact.get("seq", -1)))
        if entry is None:
            check.fail("artefacts", label, "not in captures.wacz")
            continue
        for key in ("sha256", "entry_hash", "kind", "size"):
            if entry.get(key) != artefact.get(key):
                check.fail("artefacts", label, f"{key} differs from the WACZ entry")
        if artefact.get("wacz_path") != entry.get("file"):
            check.fail("artefacts", label, "wacz_path differs from the WACZ entry's file")
        copy = artefact.get("file")
        if copy:
            if copy not in files:
                check.fail("artefacts", copy, "missing")
            elif _sha(files[copy]) != artefact.get("sha256"):
                check.fail("artefacts", copy, "does not hash to the artefact's sha256")
    extra = set(entries) - {int(a.get("seq", -1)) for a in artefacts}
    if extra:
        check.fail(
            "artefacts",
            "captures.wacz",
            f"{len(extra)} entries the case does not "
            f"list (seq {', '.join(str(s) for s in sorted(extra)[:10])})",
        )


def verify_case(path: Path) -> CaseCheck:
    """Run every check above on the case at ``path`` (folder or zip)."""
    check = CaseCheck(Path(path))
    try:
        files = read_case_files(Path(path))
    except (OSError, zipfile.BadZipFile, ValueError, zlib.error, EOFError) as exc:
        check.fail("case", str(path), f"cannot read: {exc}")
        return check
    check.files = len(files)
    _check_sums(files, check)
    for required in ("case.json", "report.html", "captures.wacz", "CHAIN_HEAD"):
        if required not in files:
            check.fail("case", required, "missing")
    try:
        case = json.loads(files.get("case.json", b"{}"))
    except ValueError as exc:
        check.fail("case", "case.json", f"not JSON: {exc}")
        return check
    check.case = case
    wacz = files.get("captures.wacz")
    if wacz is None:
        return check
    if (case.get("wacz") or {}).get("sha256") != _sha(wacz):
        check.fail("case", "captures.wacz", "its SHA-256 is not the one case.json records")
    entries = check_wacz(wacz, check)
    try:
        _check_artefacts(files, case, entries, check)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        check.fail("case", "case.json", f"malformed artefact list: {exc}")
    head = case.get("chain_head") or {}
    text = files.get("CHAIN_HEAD", b"").decode("utf-8", "replace")
    if f"seq {head.get('seq')}\nentry_hash {head.get('entry_hash')}\n" not in text:
        check.fail("case", "CHAIN_HEAD", "does not match case.json's chain_head")
    return check


def verify_against_database(check: CaseCheck, session: Any) -> None:
    """Look the case's chain head and artefact entries up in the live evidence log."""
    from sqlalchemy import select

    from crawler.db.models_evidence import EvidenceRecord

    case = check.case or {}
    wanted = {int(a["seq"]): a["entry_hash"] for a in case.get("artefacts") or []}
    head = case.get("chain_head") or {}
    if head.get("seq"):
        wanted[int(head["seq"])] = head.get("entry_hash")
    rows = (
        session.execute(
            select(EvidenceRecord.seq, EvidenceRecord.entry_hash).where(
                EvidenceRecord.seq.in_(wanted)
            )
        ).all()
        if wanted
        else []
    )
    found = {int(seq): entry_hash for seq, entry_hash in rows}
    for seq, entry_hash in sorted(wanted.items()):
        if found.get(seq) != entry_hash:
            check.fail(
                "database",
                f"evidence seq {seq}",
                "not in this database's evidence log with the case's entry_hash",
            )
