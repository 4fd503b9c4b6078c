"""Content-addressed, write-once storage of evidence artefacts.

An artefact is stored once under ``<root>/sha256/ab/cd/<hex>`` where ``<hex>`` is the SHA-256
of its bytes. Writing goes to a temporary file in the target directory, is flushed to disk, and
is then *linked* into place: ``os.link`` fails if the name exists, so an existing file is never
replaced, not even by a concurrent writer of the same bytes (``os.replace`` would overwrite).
Files are made read-only. Storing bytes that are already there is a no-op: recapturing
different bytes makes a new artefact, never an edit (STYLE.md principle 7).

Settings: ``REELGUARD_EVIDENCE_DIR`` (Scrapy setting or environment variable; default
``var/evidence`` relative to the working directory).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_EVIDENCE_DIR = Path("var") / "evidence"
ENV_VAR = "REELGUARD_EVIDENCE_DIR"
HEX_DIGITS = frozenset("0123456789abcdef")


def evidence_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """The evidence directory: ``configured``, else ``$REELGUARD_EVIDENCE_DIR``, else the default."""
    raw = configured or os.environ.get(ENV_VAR) or DEFAULT_EVIDENCE_DIR
    return Path(raw)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(value: str) -> str:
    if len(value) != 64 or not set(value) <= HEX_DIGITS:
        raise ValueError(f"not a lowercase hex SHA-256: {value!r}")
    return value


@dataclass(frozen=True)
class StoredArtefact:
    sha256: str
    size: int
    path: Path
    created: bool  # False when the same bytes were already stored


class EvidenceStore:
    """Artefact files under ``root``, addressed by SHA-256 (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *, fsync: bool = True) -> None:
        self.root = evidence_dir(root)
        self.fsync = fsync

    def relpath(self, sha256: str) -> str:
        """The artefact's path relative to the root (``sha256/ab/cd/<hex>``)."""
        check_sha256(sha256)
        return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def path(self, sha256: str) -> Path:
        return self.root / self.relpath(sha256)

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def put(self, data: bytes) -> StoredArtefact:
        """Store ``data`` (hashed here, as given); never overwrite an existing artefact."""
        digest = sha256_hex(data)
        final = self.path(digest)
        if final.exists():
            return StoredArtefact(digest, len(data), final, created=False)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                if self.fsync:
                    os.fsync(fh.fileno())
            os.chmod(tmp_name, 0o444)
            try:
                os.link(tmp_name, final)
                created = True
            except FileExistsError:  # a concurrent writer stored the same bytes first
                created = False
        finally:
            try:
                os.unlink(tmp_name)
            except FileNotFoundError:
                pass
        if created and self.fsync:
            _fsync_dir(final.parent)
        return StoredArtefact(digest, len(data), final, created=created)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
