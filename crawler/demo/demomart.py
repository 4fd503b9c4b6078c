"""Demomart: a Taobao-like demo marketplace (Chinese UI, CNY) served from
``fixtures/sites/demomart``.

Routes: ``/`` home, ``/robots.txt``, ``/search?q=&s=`` (44 results a page, offset-paginated;
keywords in ``site.json``'s ``js_only_queries`` get a JavaScript shell that fills itself from
``/api/search``), ``/item.htm?id=`` (a removed listing is a 200 "宝贝不存在" page; unknown ids
404), ``/shop/<seller_id>?page=N`` (profile, licence block, 24 listings a page), ``/img/<name>``
(generated placeholder photos; the accounts of one operator, sellers sharing a contact, show
near-identical photos of a work: ``crawler.demo.photos``), ``/static/*``, the block pages
``/punish`` and ``/member/login.jhtml``.

Pages of GBK sellers are served in GBK; every third GBK seller declares it only in the meta tag,
as old pages do. With ``SiteOptions.rate_limit > 0`` each client has a token bucket
(``rate_limit``/s, ``burst`` deep); a client over it gets the slider captcha and the login wall
in turn. ``?__block=captcha|login`` on any guarded URL forces a block page (tests, fixtures).

Data is loaded once in :func:`make_app`; rendered pages are cached as bytes. This module wires
the routes; the data, templates, caches and block pages are :mod:`crawler.demo.demomart_site`.
Settings: none; options come from ``crawler.demo.server.SiteOptions``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from crawler.demo import intake as intake_mod
from crawler.demo.demomart_site import (
    LOGIN_PATH,
    LRU,
    SEARCH_PAGE_SIZE,
    SHOP_PAGE_SIZE,
    SITE_DIR,
    STATIC_DIR,
    TEMPLATES_DIR,
    DemomartSite,
    RenderedPage,
    TokenBuckets,
    image_url,
    price_text,
)
from crawler.demo.server import SiteOptions

__all__ = [
    "LOGIN_PATH", "ROBOTS_TXT", "SEARCH_PAGE_SIZE", "SHOP_PAGE_SIZE", "SITE_DIR", "STATIC_DIR",
    "TEMPLATES_DIR", "DemomartSite", "Handler", "TokenBuckets", "make_app",
]

ROBOTS_TXT = "User-agent: *\nDisallow: /cart\nDisallow: /buy\nDisallow: /member/\n"

Handler = Callable[[Request], Awaitable[Response]]


def make_app(data_dir: Path, options: SiteOptions) -> Starlette:
    """The demomart ASGI app over the data files in ``data_dir``."""
    site = DemomartSite(Path(data_dir), options)

    def guarded(handler: Handler) -> Handler:
        async def wrapper(request: Request) -> Response:
            forced = request.query_params.get("__block")
            if forced in ("captcha", "login"):
                return site.block(request, forced)
            if site.buckets is not None:
                client = request.client.host if request.client else "-"
                if not site.buckets.take(client):
                    return site.block(request, site.buckets.next_block(client))
            return await handler(request)

        return wrapper

    def cached(key: Any, build: Callable[[], RenderedPage], cache: LRU | None = None) -> Response:
        cache = cache or site.page_cache
        page: RenderedPage | None = cache.get(key)
        if page is None:
            page = build()
            cache.put(key, page)
        return page.response()

    async def home(request: Request) -> Response:
        def build() -> RenderedPage:
            hot = list(site.site.get("js_only_queries", []))[:4]
            return RenderedPage(site.render("home.html", hot=hot).encode("utf-8"))

        return cached(("home",), build)

    async def robots(request: Request) -> Response:
        return PlainTextResponse(ROBOTS_TXT)

    def _offset(request: Request, name: str, default: int) -> int:
        try:
            return max(0, int(request.query_params.get(name, default)))
        except ValueError:
            return default

    async def search(request: Request) -> Response:
        q = request.query_params.get("q", "")
        s = _offset(request, "s", 0)
        js_only = q.strip().lower() in site.js_only

        def build() -> RenderedPage:
            if js_only:
                html = site.render("search.html", q=q, js_shell=True, data=None)
            else:
                html = site.render("search.html", q=q, js_shell=False, data=site.search_data(q, s))
            return RenderedPage(html.encode("utf-8"))

        return cached(("search", q, 0 if js_only else s), build, site.search_pages)

    async def api_search(request: Request) -> Response:
        q = request.query_params.get("q", "")
        s = _offset(request, "s", 0)
        return JSONResponse(site.search_data(q, s))

    async def item(request: Request) -> Response:
        lid = request.query_params.get("id", "")
        listing = site.listings.get(lid)
        if listing is None:
            return cached(
                ("404",), lambda: RenderedPage(site.render("404.html").encode("utf-8"), 404)
            )

        taken_down = lid in site.intake.taken_down

        def build() -> RenderedPage:
            assert listing is not None
            seller_id = str(listing.get("seller_id", ""))
            seller = site.sellers.get(seller_id, {})
            encoding = (
                site.seller_encoding(seller_id)
                if seller
                else str(listing.get("encoding", "utf-8")).lower()
            )
            if taken_down or listing.get("status", "active") != "active":
                html = site.render("removed.html", listing_id=lid, encoding=encoding)
            else:
                images = [image_url(p) for p in listing.get("images") or []]
                html = site.render(
                    "item.html",
                    x=listing,
                    lid=lid,
                    price=price_text(listing.get("price", 0)),
                    seller=seller,
                    seller_id=seller_id,
                    images=images,
                    encoding=encoding,
                )
            return site.encoded(html, encoding, seller_id)

        return cached(("item", lid, taken_down), build)

    async def shop(request: Request) -> Response:
        sid = request.path_params["seller_id"]
        seller = site.sellers.get(sid)
        if seller is None:
            return cached(
                ("404",), lambda: RenderedPage(site.render("404.html").encode("utf-8"), 404)
            )
        page = max(1, _offset(request, "page", 1))

        def build() -> RenderedPage:
            assert seller is not None
            ids = site.shop_listings.get(sid, [])
            start = (page - 1) * SHOP_PAGE_SIZE
            chunk = ids[start : start + SHOP_PAGE_SIZE]
            items = []
            for n, lid in enumerate(chunk, start + 1):
                x = site.listings[lid]
                images = x.get("images") or [f"/img/{lid}_1.jpg"]
                items.append(
                    {
                        "id": lid,
                        "title": x.get("title", ""),
                        "price": price_text(x.get("price", 0)),
                        "sales": int(x.get("sales") or 0),
                        "location": x.get("location") or "",
                        "url": f"/item.htm?id={lid}&spm=a1z10.3-c.w4002-{sid}.{n}",
                        "thumb": image_url(images[0]) + "_240x240.jpg",
                    }
                )
            pages_total = max(1, -(-len(ids) // SHOP_PAGE_SIZE))
            encoding = site.seller_encoding(sid)
            html = site.render(
                "shop.html",
                seller=seller,
                sid=sid,
                licence=seller.get("licence") or None,
                items=items,
                page=page,
                pages_total=pages_total,
                total=len(ids),
                next_url=f"/shop/{quote(sid)}?page={page + 1}&spm=a1z10.3-c.0.0"
                if page < pages_total
                else None,
                prev_url=f"/shop/{quote(sid)}?page={page - 1}&spm=a1z10.3-c.0.0"
                if page > 1
                else None,
                encoding=encoding,
            )
            return site.encoded(html, encoding, sid)

        return cached(("shop", sid, page), build)

    async def image(request: Request) -> Response:
        name = request.path_params["name"]
        body: bytes | None = site.image_cache.get(name)
        if body is None:
            body = site.image(name)
            site.image_cache.put(name, body)
        return Response(body, media_type="image/png", headers={"cache-control": "max-age=86400"})

    async def punish(request: Request) -> Response:
        secdata = request.query_params.get("x5secdata", "")
        html = site.render("captcha.html", x5secdata=secdata, target="/")
        return RenderedPage(html.encode("utf-8")).response()

    async def login(request: Request) -> Response:
        redirect = request.query_params.get("redirectURL", "")
        html = site.render("login.html", redirect=redirect)
        return RenderedPage(html.encode("utf-8")).response()

    routes = [
        Route("/", guarded(home)),
        Route("/robots.txt", robots),
        Route("/search", guarded(search)),
        Route("/api/search", guarded(api_search)),
        Route("/item.htm", guarded(item)),
        Route("/shop/{seller_id}", guarded(shop)),
        Route("/img/{name:path}", image),
        Route("/punish", punish),
        Route(LOGIN_PATH, login),
        Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"),
        *intake_mod.routes(site.intake),
    ]
    app = Starlette(routes=routes)
    app.state.site = site
    return app
