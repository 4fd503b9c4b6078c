"""Password hashing for dashboard users: argon2id through ``argon2-cffi`` (its default,
RFC 9106 low-memory parameters), never a hand-rolled scheme.

No settings affect this module.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A hash computed once, verified against when the user does not exist, so that "no such user"
# and "wrong password" take the same time and cannot be told apart by an attacker.
_DUMMY_HASH = _hasher.hash("reelguard: no such user")

MIN_LENGTH = 8


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted; the parameters are stored in the hash)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing or malformed hash never matches."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's defaults."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
