"""The dashboard application: ``create_app(db_url, ...)`` wires routes, middleware and error
pages.

Middleware, outermost first: uvicorn's ``ProxyHeadersMiddleware`` when proxies are trusted
(``crawler.web.proxies``: the client address and scheme a trusted proxy forwarded), security
headers (``crawler.web.headers``: CSP, nosniff,
Referrer-Policy, no-store), then the signed session cookie (``SameSite=Strict``, HttpOnly,
``Secure`` when ``https=True``). Every page handler starts with ``current_user`` and reads
through ``crawler.web.scope``; every POST checks the CSRF token.

Settings: ``REELGUARD_WEB_SECRET`` (environment; see ``crawler.web.auth``),
``REELGUARD_WEB_TRUSTED_PROXIES`` (see ``crawler.web.proxies``), ``REELGUARD_EVIDENCE_DIR`` (the
evidence store the artefacts are served from).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from crawler.evidence.store import EvidenceStore
from crawler.storage import open_database
from crawler.web import auth
from crawler.web.csrf import CSRFError
from crawler.web.decisions import DecisionError
from crawler.web.headers import SecurityHeaders
from crawler.web.proxies import load_trusted_proxies, parse_trusted_proxies
from crawler.web.queries.queue import FilterError
from crawler.web.scope import NotFound
from crawler.web.templating import render
from crawler.web.throttle import SignInLimit
from crawler.web.views import pages, requests, sellers

STATIC_DIR = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "reelguard_session"


def _error(request: Request, status: int, title: str, message: str) -> Response:
    return render(request, "error.html", {"status": status, "title": title,
                                          "message": message}, status)


async def _need_login(request: Request, exc: Exception) -> Response:
    if request.method not in ("GET", "HEAD"):
        return _error(request, 401, "Signed out", "Your session has ended: sign in again.")
    return auth.login_redirect(request)


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error(request, 404, "Not found",
                  "There is nothing here, or it belongs to another member.")


async def _csrf(request: Request, exc: Exception) -> Response:
    return _error(request, 403, "Refused",
                  "This form was not sent from this dashboard (the CSRF check failed). "
                  "Reload the page and try again.")


async def _bad_request(request: Request, exc: Exception) -> Response:
    return _error(request, 400, "Cannot do that", str(exc))


async def _http_404(request: Request, exc: Exception) -> Response:
    return _error(request, 404, "Not found", "There is no such page.")


def _index(request: Request) -> Response:
    return RedirectResponse("/queue", status_code=303)


def create_app(
    db_url: str | None = None,
    *,
    secret: str | None = None,
    https: bool = False,
    evidence_dir: str | Path | None = None,
    investigate_argv: Callable[[str, str, str], list[str]] | None = None,
    log_dir: str | Path | None = None,
    trusted_proxies: Sequence[str] | None = None,
) -> Starlette:
    """The dashboard over the database at ``db_url`` (migrated to head on first open).

    ``secret`` signs session cookies (default: ``crawler.web.auth.load_secret``); ``https``
    marks them ``Secure``; ``investigate_argv(db_url, marketplace, seller_key)`` replaces the
    command the seller page's button starts (tests); ``log_dir`` is where its output goes
    (default ``var/log``); ``trusted_proxies`` are the addresses or networks whose
    ``X-Forwarded-For`` is believed (default: ``$REELGUARD_WEB_TRUSTED_PROXIES``; none).
    """
    proxies = (parse_trusted_proxies(list(trusted_proxies)) if trusted_proxies is not None
               else load_trusted_proxies())
    database = open_database(db_url)
    routes = [
        Route("/", _index),
        Route("/login", auth.login_page, methods=["GET"]),
        Route("/login", auth.login_submit, methods=["POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        Route("/queue", requests.queue, methods=["GET"]),
        Route("/queue/decide", requests.decide, methods=["POST"]),
        Route("/requests/{request_id:int}", requests.request_page, methods=["GET"]),
        Route("/requests/{request_id:int}/verify", requests.verify_evidence, methods=["POST"]),
        Route("/evidence/{evidence_id:int}", requests.evidence_file, methods=["GET"]),
        Route("/sellers/{seller_id:int}", sellers.seller_page, methods=["GET"]),
        Route("/sellers/{seller_id:int}/investigate", sellers.investigate, methods=["POST"]),
        Route("/investigations/{investigation_id:int}/case/{name:path}", sellers.case_file,
              methods=["GET"]),
        Route("/runs", pages.runs, methods=["GET"]),
        Route("/runs/{run_id:int}", pages.run_page, methods=["GET"]),
        Route("/overview", pages.overview_page, methods=["GET"]),
        Mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static"),
    ]
    # Only a configured proxy may name the client (the sign-in limit counts per address).
    forwarded = [Middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)] if proxies else []
    app = Starlette(
        routes=routes,
        middleware=[
            *forwarded,
            Middleware(SecurityHeaders),
            Middleware(SessionMiddleware, secret_key=secret or auth.load_secret(),
                       session_cookie=SESSION_COOKIE, max_age=auth.SESSION_MAX_AGE,
                       same_site="strict", https_only=https),
        ],
        exception_handlers={
            auth.NeedLogin: _need_login,
            NotFound: _not_found,
            CSRFError: _csrf,
            FilterError: _bad_request,
            DecisionError: _bad_request,
            404: _http_404,
        },
    )
    app.state.db = database
    app.state.store = EvidenceStore(evidence_dir)
    app.state.investigate_argv = investigate_argv
    app.state.log_dir = Path(log_dir) if log_dir is not None else None
    app.state.sign_in_limit = SignInLimit(database.sessions)
    return app
