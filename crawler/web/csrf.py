"""CSRF protection: a per-session token in every form, checked on every POST.

The token lives in the signed session cookie (``SameSite=Strict`` already keeps other sites'
forms from carrying it) and must come back as the ``csrf_token`` form field; a POST whose
``Origin`` header names another site is refused too. Comparison is constant-time.

No settings affect this module.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from starlette.requests import Request

FIELD = "csrf_token"
SESSION_KEY = "csrf"


class CSRFError(Exception):
    """A POST without the session's token (the page answers 403)."""


def token(request: Request) -> str:
    """The session's token, created on first use."""
    value = request.session.get(SESSION_KEY)
    if not isinstance(value, str) or len(value) < 32:
        value = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = value
    return value


def rotate(request: Request) -> str:
    """A fresh token (at sign-in, so a token seen before it is worthless after)."""
    request.session[SESSION_KEY] = secrets.token_urlsafe(32)
    return str(request.session[SESSION_KEY])


def check(request: Request, form: Any) -> None:
    """Raise :class:`CSRFError` unless the form carries the session's token."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        expected = f"{request.url.scheme}://{request.url.netloc}"
        if origin != expected:
            raise CSRFError(f"cross-site request from {origin}")
    sent = form.get(FIELD)
    stored = request.session.get(SESSION_KEY)
    if not isinstance(sent, str) or not isinstance(stored, str) or not stored:
        raise CSRFError("missing CSRF token")
    if not hmac.compare_digest(sent.encode(), stored.encode()):
        raise CSRFError("wrong CSRF token")
