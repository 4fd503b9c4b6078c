"""The demo marketplace ``demobay``: an eBay-like, English, USD, server-rendered site.

Serves the data files in ``fixtures/sites/demobay/`` (see ``fixtures/sites/README.md``) through
the Jinja2 templates in ``fixtures/sites/demobay/templates/``, so crawlers and page objects can be
exercised against realistic markup without the internet. Routes:

* ``/`` home, ``/robots.txt``;
* ``/sch/i.html?_nkw=<keywords>&_pgn=<page from 1>`` search results (``s-card`` layout);
* ``/itm/<id>`` a listing (older eBay item layout); an ended listing says so, an unknown id is 404;
* ``/str/<seller_id>?_pgn=N`` a seller's store with a paginated listing index;
* ``/img/<name>`` a deterministic placeholder photo (the accounts of one operator, sellers
  sharing a contact, show near-identical photos of a work: ``crawler.demo.photos``);
  ``/static/`` the stylesheet.

Every data string is treated as hostile: templates autoescape and URLs are built with ``quote``.
Pages are rendered once and cached as bytes. Settings: none; :class:`SiteOptions` ``rate_limit``
and ``burst`` switch on a per-client token bucket whose overflow gets eBay's "Pardon Our
Interruption..." page; ``?__block=1`` on any URL returns that page deterministically (tests).

This module wires the routes; the data and search are :mod:`crawler.demo.demobay_data`, the
rendered pages :mod:`crawler.demo.demobay_pages`, the block page
:mod:`crawler.demo.demobay_antibot`.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from crawler.demo import intake as intake_mod
from crawler.demo.demobay_antibot import AntiBot, TokenBucket
from crawler.demo.demobay_data import (
    SEARCH_PAGE_SIZE,
    STOP_WORDS,
    Listing,
    SiteData,
    image_name,
    match_score,
    money,
    positive_pct,
    query_terms,
    search_path,
    store_path,
    tokenize,
)
from crawler.demo.demobay_pages import (
    HTML,
    LRU,
    PAGE_CACHE_SIZE,
    SEARCH_CACHE_SIZE,
    STATIC_DIR,
    STORE_PAGE_SIZE,
    Demobay,
    placeholder_png,
)
from crawler.demo.server import SiteOptions

__all__ = [
    "HTML", "LRU", "PAGE_CACHE_SIZE", "ROBOTS_TXT", "SEARCH_CACHE_SIZE", "SEARCH_PAGE_SIZE",
    "STOP_WORDS", "STORE_PAGE_SIZE", "AntiBot", "Demobay", "Listing", "SiteData", "TokenBucket",
    "image_name", "make_app", "match_score", "money", "placeholder_png", "positive_pct",
    "query_terms", "search_path", "store_path", "tokenize",
]

ROBOTS_TXT = """User-agent: *
Disallow: /cart
Disallow: /bid
Disallow: /myebay
"""


def _page_arg(request: Request) -> int:
    try:
        return max(1, int(request.query_params.get("_pgn", "1")))
    except ValueError:
        return 1


def make_app(data_dir: Path, options: SiteOptions) -> Starlette:
    """The demobay ASGI app over the data files in ``data_dir``.

    Templates and static files come from ``data_dir`` when it has them, else from the bundled
    ``fixtures/sites/demobay/`` (so a test can point ``data_dir`` at a small sample).
    """
    site = Demobay(Path(data_dir), options)

    def html(body: bytes, status: int = 200) -> Response:
        return Response(body, status_code=status, media_type=HTML)

    async def home(request: Request) -> Response:
        return html(site.home())

    async def robots(request: Request) -> Response:
        return Response(ROBOTS_TXT, media_type="text/plain; charset=utf-8")

    async def search(request: Request) -> Response:
        query = request.query_params.get("_nkw", "").strip()[:300]
        return html(site.search(query, _page_arg(request)))

    async def item(request: Request) -> Response:
        body = site.item(request.path_params["listing_id"])
        return html(site.not_found_page, 404) if body is None else html(body)

    async def store(request: Request) -> Response:
        body = site.store(request.path_params["seller_id"], _page_arg(request))
        return html(site.not_found_page, 404) if body is None else html(body)

    async def image(request: Request) -> Response:
        return Response(
            site.image(request.path_params["name"]),
            media_type="image/png",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return html(site.not_found_page, status)

    static_dir = Path(data_dir) / "static"
    if not static_dir.is_dir():
        static_dir = STATIC_DIR
    routes = [
        Route("/", home),
        Route("/robots.txt", robots),
        Route("/sch/i.html", search),
        Route("/itm/{listing_id}", item),
        Route("/str/{seller_id:path}", store),
        Route("/img/{name:path}", image),
        Mount("/static", app=StaticFiles(directory=str(static_dir)), name="static"),
        *intake_mod.routes(site.intake),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.add_middleware(AntiBot, blocked_page=site.blocked_page, options=options)
    app.state.site = site
    return app
