"""Demomart: a Taobao-like demo marketplace (Chinese UI, CNY) served from ``fixtures/sites/demomart``.

Routes: ``/`` home, ``/robots.txt``, ``/search?q=&s=`` (44 results a page, offset-paginated;
keywords in ``site.json``'s ``js_only_queries`` get a JavaScript shell that fills itself from
``/api/search``), ``/item.htm?id=`` (a removed listing is a 200 "宝贝不存在" page; unknown ids
404), ``/shop/<seller_id>?page=N`` (profile, licence block, 24 listings a page), ``/img/<name>``
(generated placeholder photos; the accounts of one operator,
sellers sharing a contact, show near-identical photos of a work: ``crawler.demo.photos``), ``/static/*``, the block pages ``/punish`` and
``/member/login.jhtml``.

Pages of GBK sellers are served in GBK; every third GBK seller declares it only in the meta tag,
as old pages do. With ``SiteOptions.rate_limit > 0`` each client has a token bucket
(``rate_limit``/s, ``burst`` deep); a client over it gets the slider captcha and the login wall
in turn. ``?__block=captcha|login`` on any guarded URL forces a block page (tests, fixtures).

Data is loaded once in :func:`make_app`; rendered pages are cached as bytes.
Settings: none; options come from ``crawler.demo.server.SiteOptions``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from crawler.demo import intake as intake_mod
from crawler.demo import photos
from crawler.demo.demomart_search import SearchIndex
from crawler.demo.server import SITES_DIR, SiteOptions

SITE_DIR = SITES_DIR / "demomart"
TEMPLATES_DIR = SITE_DIR / "templates"
STATIC_DIR = SITE_DIR / "static"

SEARCH_PAGE_SIZE = 44
SHOP_PAGE_SIZE = 24
ROBOTS_TXT = "User-agent: *\nDisallow: /cart\nDisallow: /buy\nDisallow: /member/\n"
LOGIN_PATH = "/member/login.jhtml"

Handler = Callable[[Request], Awaitable[Response]]


class _LRU:
    """A small thread-safe LRU of rendered pages (search keys are unbounded)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


class _Page:
    """A rendered page: body bytes plus status and headers, reused for every request."""

    __slots__ = ("body", "media_type", "status")

    def __init__(
        self, body: bytes, status: int = 200, media_type: str = "text/html; charset=utf-8"
    ):
        self.body = body
        self.status = status
        self.media_type = media_type

    def response(self) -> Response:
        return Response(
            self.body, status_code=self.status, headers={"content-type": self.media_type}
        )


class TokenBuckets:
    """Per-client token buckets; :meth:`take` says whether a request may pass."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._blocks: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                return True
            self._buckets[client] = (tokens, now)
            return False

    def next_block(self, client: str) -> str:
        """The block to serve this time: the captcha and the login wall alternate."""
        with self._lock:
            n = self._blocks.get(client, 0)
            self._blocks[client] = n + 1
        return "captcha" if n % 2 == 0 else "login"


def _png(name: str, size: int = 96) -> bytes:
    """A deterministic placeholder photo for ``name`` (see ``crawler.demo.photos``)."""
    return photos.photo_png(name, size=size)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _price(value: Any) -> str:
    return f"{float(value):.2f}"


def _image_url(path: str) -> str:
    if path.startswith(("http://", "https://", "/")):
        return path
    return "/" + path


class DemomartSite:
    """The loaded data, the templates and the page cache; one per app."""

    def __init__(self, data_dir: Path, options: SiteOptions) -> None:
        self.options = options
        self.site: dict[str, Any] = json.loads((data_dir / "site.json").read_text(encoding="utf-8"))
        self.sellers: dict[str, dict[str, Any]] = {
            str(s["id"]): s for s in _read_jsonl(data_dir / "sellers.jsonl")
        }
        self.listings: dict[str, dict[str, Any]] = {
            str(x["id"]): x for x in _read_jsonl(data_dir / "listings.jsonl")
        }
        self.index = SearchIndex(self.listings.values())
        self.js_only = {q.strip().lower() for q in self.site.get("js_only_queries", [])}
        # GBK sellers, in file order; every third one declares GBK only in its meta tag.
        gbk = [
            sid for sid, s in self.sellers.items() if str(s.get("encoding", "")).lower() == "gbk"
        ]
        self.meta_only_gbk = {sid for i, sid in enumerate(gbk) if i % 3 == 2}
        self.shop_listings: dict[str, list[str]] = {}
        for lid, listing in self.listings.items():
            if listing.get("status", "active") == "active":
                self.shop_listings.setdefault(str(listing.get("seller_id")), []).append(lid)
        self.env = Environment(
            loader=FileSystemLoader(str(TEMPLATES_DIR)),
            autoescape=select_autoescape(default=True, default_for_string=True),
            auto_reload=False,
        )
        # Item and shop pages are bounded by the data; search pages (~70 KB each) by the LRU.
        self.page_cache = _LRU(16384)
        self.search_pages = _LRU(512)
        self.search_cache = _LRU(1024)
        self.image_cache = _LRU(2048)
        # Accounts of one operator (a shared contact) show the same product photos.
        self.operator_groups = photos.operator_groups(self.sellers.values())
        self.buckets = (
            TokenBuckets(options.rate_limit, options.burst) if options.rate_limit > 0 else None
        )
        self.intake = intake_mod.Intake(
            "demomart", self.judge_complaint, delay=options.intake_delay,
            flaky=options.intake_flaky, state_dir=options.state_dir,
        )

    def image(self, name: str) -> bytes:
        """The placeholder photo ``/img/<name>`` serves (``<listing id>_<n>.jpg``...)."""
        listing = self.listings.get(name.split("_", 1)[0])
        group = None
        if listing is not None:
            group = self.operator_groups.get(str(listing.get("seller_id")))
        return photos.listing_photo(name, listing, group)

    def judge_complaint(self, listing_id: str) -> tuple[bool, str]:
        """The platform's decision on one listing of an IP complaint (deterministic)."""
        listing = self.listings.get(listing_id)
        if listing is None:
            return False, "no such listing"
        if listing.get("status", "active") != "active":
            return False, "listing already removed"
        seller = self.sellers.get(str(listing.get("seller_id")), {})
        if seller.get("kind") == "official":
            return False, "official store of the rights holder"
        if not listing.get("infringing"):
            return False, "no infringement found on review"
        return True, "removed for intellectual property infringement"

    # -- rendering helpers -------------------------------------------------------------
    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(site=self.site, **context)

    def encoded(self, html: str, encoding: str, seller_id: str | None) -> _Page:
        if encoding == "gbk":
            body = html.encode("gbk", errors="xmlcharrefreplace")
            if seller_id in self.meta_only_gbk:
                return _Page(body, media_type="text/html")
            return _Page(body, media_type="text/html; charset=GBK")
        return _Page(html.encode("utf-8"))

    def seller_encoding(self, seller_id: str | None) -> str:
        seller = self.sellers.get(str(seller_id)) if seller_id is not None else None
        return "gbk" if seller and str(seller.get("encoding", "")).lower() == "gbk" else "utf-8"

    def card(self, listing_id: str, position: int) -> dict[str, Any]:
        """What a search card shows, also the JSON ``/api/search`` returns for the script."""
        x = self.listings[listing_id]
        seller = self.sellers.get(str(x.get("seller_id")), {})
        images = x.get("images") or [f"/img/{listing_id}_1.jpg"]
        return {
            "id": listing_id,
            "title": x.get("title", ""),
            "price": _price(x.get("price", 0)),
            "sales": int(x.get("sales") or 0),
            "location": x.get("location") or "",
            "seller_id": str(x.get("seller_id", "")),
            "nick": seller.get("nick", ""),
            "item_url": f"/item.htm?id={listing_id}&ns=1&abbucket=12&spm=a230r.1.14.{position}",
            "shop_url": f"/shop/{quote(str(x.get('seller_id', '')))}?spm=a230r.7195193.1997079397.{position}",
            "thumb": _image_url(images[0]) + "_230x230.jpg",
        }

    def ranked(self, q: str) -> list[str]:
        ids: list[str] | None = self.search_cache.get(q)
        if ids is None:
            ids = self.index.search(q)
            self.search_cache.put(q, ids)
        return ids

    def search_data(self, q: str, s: int) -> dict[str, Any]:
        ids = self.ranked(q)
        total = len(ids)
        s = max(0, s)
        page_ids = ids[s : s + SEARCH_PAGE_SIZE]
        cards = [self.card(lid, s + i + 1) for i, lid in enumerate(page_ids)]
        pages_total = max(1, -(-total // SEARCH_PAGE_SIZE))
        current = s // SEARCH_PAGE_SIZE + 1

        def url(offset: int) -> str:
            return (
                "/search?" + urlencode({"q": q, "s": offset}) + "&spm=a21bo.jianhua.201867-main.1"
            )

        first = max(1, min(current - 4, pages_total - 9))
        pager = [
            {"num": n, "url": url((n - 1) * SEARCH_PAGE_SIZE), "current": n == current}
            for n in range(first, min(pages_total, first + 9) + 1)
        ]
        return {
            "q": q,
            "s": s,
            "page_size": SEARCH_PAGE_SIZE,
            "total": total,
            "total_text": f"共 {total} 件宝贝",
            "page": current,
            "pages_total": pages_total,
            "items": cards,
            "pager": pager,
            "prev_url": url(max(0, s - SEARCH_PAGE_SIZE)) if s > 0 else None,
            "next_url": url(s + SEARCH_PAGE_SIZE) if s + SEARCH_PAGE_SIZE < total else None,
        }

    # -- block pages -------------------------------------------------------------------
    def block(self, request: Request, kind: str) -> Response:
        target = str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
        if kind == "login":
            return RedirectResponse(
                f"{LOGIN_PATH}?redirectURL={quote(str(request.url), safe='')}", status_code=302
            )
        secdata = hashlib.sha1(target.encode("utf-8")).hexdigest()
        html = self.render("captcha.html", x5secdata=secdata, target=target)
        return _Page(html.encode("utf-8")).response()


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

    def cached(key: Any, build: Callable[[], _Page], cache: _LRU | None = None) -> Response:
        cache = cache or site.page_cache
        page: _Page | None = cache.get(key)
        if page is None:
            page = build()
            cache.put(key, page)
        return page.response()

    async def home(request: Request) -> Response:
        def build() -> _Page:
            hot = list(site.site.get("js_only_queries", []))[:4]
            return _Page(site.render("home.html", hot=hot).encode("utf-8"))

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

        def build() -> _Page:
            if js_only:
                html = site.render("search.html", q=q, js_shell=True, data=None)
            else:
                html = site.render("search.html", q=q, js_shell=False, data=site.search_data(q, s))
            return _Page(html.encode("utf-8"))

        return cached(("search", q, 0 if js_only else s), build, site.search_pages)

    async def api_search(request: Request) -> Response:
        q = request.query_params.get("q", "")
        s = _offset(request, "s", 0)
        return JSONResponse(site.search_data(q, s))

    async def item(request: Request) -> Response:
        lid = request.query_params.get("id", "")
        listing = site.listings.get(lid)
        if listing is None:
            return cached(("404",), lambda: _Page(site.render("404.html").encode("utf-8"), 404))

        taken_down = lid in site.intake.taken_down

        def build() -> _Page:
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
                images = [_image_url(p) for p in listing.get("images") or []]
                html = site.render(
                    "item.html",
                    x=listing,
                    lid=lid,
                    price=_price(listing.get("price", 0)),
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
            return cached(("404",), lambda: _Page(site.render("404.html").encode("utf-8"), 404))
        page = max(1, _offset(request, "page", 1))

        def build() -> _Page:
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
                        "price": _price(x.get("price", 0)),
                        "sales": int(x.get("sales") or 0),
                        "location": x.get("location") or "",
                        "url": f"/item.htm?id={lid}&spm=a1z10.3-c.w4002-{sid}.{n}",
                        "thumb": _image_url(images[0]) + "_240x240.jpg",
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
        return _Page(html.encode("utf-8")).response()

    async def login(request: Request) -> Response:
        redirect = request.query_params.get("redirectURL", "")
        html = site.render("login.html", redirect=redirect)
        return _Page(html.encode("utf-8")).response()

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
