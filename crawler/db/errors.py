"""Errors raised by the storage layer when the database itself is the problem.

A crawl, the CLI and the monitor need one clear line ("cannot reach the database at …") rather
than a driver traceback; these exceptions carry that line and keep the driver error as their
``__cause__`` (``raise … from exc``), so nothing is swallowed. Passwords never appear in the
message: URLs are rendered with ``hide_password``. They are ``crawler.exceptions.StorageError``s,
so the CLI's handling of project errors (one line, exit code 4) applies.

No settings affect this module.
"""

from __future__ import annotations

from crawler.exceptions import StorageError


class DatabaseError(StorageError):
    """Base class: the configured database cannot be used (the CLI prints ``str()`` and exits)."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class InvalidDatabaseURL(DatabaseError):
    """The URL cannot be parsed, names an unknown dialect, or its driver is not installed."""


class DatabaseUnreachable(DatabaseError):
    """The database server (or SQLite file) cannot be opened."""


class DatabaseLocked(DatabaseError):
    """SQLite stayed locked by another writer for longer than ``busy_timeout``."""
