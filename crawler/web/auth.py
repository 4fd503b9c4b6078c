"""Signing in and out, and who is signed in.

* The session is Starlette's signed cookie (``SessionMiddleware``: HttpOnly, ``SameSite=Strict``,
  ``Secure`` when served over https, 8 hours). It holds the user id, a fingerprint of the
  password hash (changing a password ends every session of that user) and the CSRF token.
* Every request reloads the user from the database: a disabled or deleted user is signed out at
  their next click, and the scope comes from the row, never from the cookie alone.
* Sign-in attempts are counted before the password is checked, per (address, user name) and per
  user name, in the database (``crawler.web.throttle``); the address is the peer's or the one a
  configured proxy forwarded (``crawler.web.proxies``).
* The secret that signs cookies is ``$REELGUARD_WEB_SECRET`` or, failing that, a random one kept
  in ``var/web-secret`` (created mode 0600 on first start, so restarts keep sessions).

Settings: ``REELGUARD_WEB_SECRET`` (environment).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crawler.db.session import session_scope
from crawler.web import csrf
from crawler.web.templating import render
from crawler.web.throttle import SignInLimit
from crawler.web.users import Principal, active_user, authenticate, principal_of

SECRET_ENV = "REELGUARD_WEB_SECRET"
SECRET_FILE = Path("var") / "web-secret"
SESSION_MAX_AGE = 8 * 3600


class NeedLogin(Exception):
    """No valid session: the page redirects to the sign-in form."""


def load_secret(path: Path = SECRET_FILE) -> str:
    """The cookie-signing secret (see the module docstring)."""
    from_env = os.environ.get(SECRET_ENV, "").strip()
    if from_env:
        return from_env
    try:
        existing = path.read_text().strip()
        if len(existing) >= 32:
            return existing
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def current_user(request: Request) -> Principal:
    """The signed-in user (reloaded from the database), or :class:`NeedLogin`."""
    cached = request.scope.get("principal")
    if isinstance(cached, Principal):
        return cached
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        raise NeedLogin()
    with session_scope(request.app.state.db.sessions) as session:
        user = active_user(session, uid)
        if user is None or request.session.get("pw") != _fingerprint(user.password_hash):
            request.session.pop("uid", None)
            raise NeedLogin()
        principal = principal_of(user)
    request.scope["principal"] = principal
    return principal


def _safe_next(target: str | None) -> str:
    """Only a local path may follow sign-in (no ``//host`` or ``https://`` open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/queue"


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def login_page(request: Request) -> Response:
    return render(request, "login.html", {"next": _safe_next(request.query_params.get("next")),
                                          "error": None, "username": ""})


async def login_submit(request: Request) -> Response:
    form = await request.form()
    csrf.check(request, form)
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or ""))
    limit: SignInLimit = request.app.state.sign_in_limit
    address = request.client.host if request.client else None
    # Counted before the password is checked: parallel guesses cannot all pass a check first.
    wait = await run_in_threadpool(limit.admit, username, address)
    if wait > 0:
        minutes = max(1, round(wait / 60))
        return render(request, "login.html", {
            "next": target, "username": username,
            "error": f"Too many failed sign-ins. Try again in {minutes} minute(s)."}, 429)

    def check() -> tuple[int, str] | None:
        with session_scope(request.app.state.db.sessions) as session:
            user = authenticate(session, username, password)
            return (user.id, user.password_hash) if user is not None else None

    found = await run_in_threadpool(check) if username and password else None
    if found is None:
        return render(request, "login.html", {"next": target, "username": username,
                                              "error": "Wrong user name or password."}, 401)
    await run_in_threadpool(limit.succeeded, username, address)
    request.session.clear()  # nothing from before sign-in carries over
    request.session.update({"uid": found[0], "pw": _fingerprint(found[1])})
    csrf.rotate(request)
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    form = await request.form()
    csrf.check(request, form)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
