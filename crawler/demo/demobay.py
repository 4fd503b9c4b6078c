"""The demo marketplace ``demobay``: an eBay-like, English, USD, server-rendered site.

Serves the data files in ``fixtures/sites/demobay/`` (see ``fixtures/sites/README.md``) through
the Jinja2 templates in ``fixtures/sites/demobay/templates/``, so crawlers and page objects can be
exercised against realistic markup without the internet. Routes:

* ``/`` home, ``/robots.txt``;
* ``/sch/i.html?_nkw=<keywords>&_pgn=<page from 1>`` search results (``s-card`` layout);
* ``/itm/<id>`` a listing (older eBay item layout); an ended listing says so, an unknown id is 404;
* ``/str/<seller_id>?_pgn=N`` a seller's store with a paginated listing index;
* ``/img/<name>`` a deterministic placeholder photo (the accounts of one operator, sellers
  sharing a contact, show near-identical photos of a work: ``crawler.demo.photos``); ``/static/`` the stylesheet.

Every data string is treated as hostile: templates autoescape and URLs are built with ``quote``.
Pages are rendered once and cached as bytes. Settings: none; :class:`SiteOptions` ``rate_limit``
and ``burst`` switch on a per-client token bucket whose overflow gets eBay's "Pardon Our
Interruption..." page; ``?__block=1`` on any URL returns that page deterministically (tests).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from crawler.demo import intake as intake_mod
from crawler.demo import photos
from crawler.demo.server import SiteOptions

SEARCH_PAGE_SIZE = 48  # overridden by site.json "page_size"
STORE_PAGE_SIZE = 24
# Rendered pages kept: search pages (~100 KB each, keyed by free-text query) get a smaller cache
# than the pages keyed by data (items, stores, images: a few KB each).
PAGE_CACHE_SIZE = 8192
SEARCH_CACHE_SIZE = 512
STOP_WORDS = frozenset({"the", "of", "and", "a", "an"})

ROBOTS_TXT = """User-agent: *
Disallow: /cart
Disallow: /bid
Disallow: /myebay
"""

HTML = "text/html; charset=utf-8"
_SPLIT = re.compile(r"[\W_]+")
_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018`")


# ---------------------------------------------------------------- search semantics


def tokenize(text: str) -> list[str]:
    """Lower-case words of ``text``: accents folded, apostrophes dropped, punctuation ignored."""
    folded = unicodedata.normalize("NFKD", text.casefold().translate(_APOSTROPHES))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return [t for t in _SPLIT.split(folded) if t]


def query_terms(query: str) -> list[str]:
    """The words a query requires: its tokens without stop words (all of them if only those)."""
    tokens = tokenize(query)
    terms = [t for t in tokens if t not in STOP_WORDS] or tokens
    return list(dict.fromkeys(terms))


def match_score(terms: list[str], title_tokens: list[str]) -> int | None:
    """How well a title matches; ``None`` unless every term is a title word or word prefix.

    A whole-word hit counts 2, a prefix hit 1, and the terms appearing in order as consecutive
    title words (stop words aside) add ``len(terms)``.
    """
    if not terms:
        return None
    words = set(title_tokens)
    score = 0
    for term in terms:
        if term in words:
            score += 2
        elif any(tok.startswith(term) for tok in title_tokens):
            score += 1
        else:
            return None
    content = [t for t in title_tokens if t not in STOP_WORDS]
    n = len(terms)
    if n > 1 and any(content[i : i + n] == terms for i in range(len(content) - n + 1)):
        score += n
    return score


# ---------------------------------------------------------------- data


def money(value: float) -> str:
    return f"${value:,.2f}"


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def positive_pct(rating: Any) -> str:
    """The seller's positive-feedback percentage as shown, e.g. ``99.1%``.

    ``rating`` is a percentage, or a score out of 5 (then scaled), or already a string.
    """
    if isinstance(rating, str):
        return rating if rating.endswith("%") else f"{rating}%"
    if rating is None:
        return "100%"
    value = float(rating)
    if value <= 5:
        value = value / 5 * 100
    return f"{value:.1f}%"


def image_name(path: str) -> str:
    """The ``/img/<name>`` a data file's image path is served under."""
    return path.rstrip("/").rsplit("/", 1)[-1] or "blank.png"


@dataclass
class Listing:
    raw: dict[str, Any]
    id: str
    title: str
    tokens: list[str]
    active: bool
    card: dict[str, Any] = field(default_factory=dict)


@dataclass
class SiteData:
    """The data files, loaded once, with the indexes the routes need."""

    site: dict[str, Any]
    sellers: dict[str, dict[str, Any]]
    listings: dict[str, Listing]
    active: list[Listing]  # newest (highest id) first
    by_seller: dict[str, list[Listing]]  # active listings, newest first
    feedback: dict[str, int]  # seller id -> feedback score
    page_size: int

    @classmethod
    def load(cls, data_dir: Path) -> SiteData:
        site_path = data_dir / "site.json"
        site = json.loads(site_path.read_text("utf-8")) if site_path.exists() else {}
        sellers: dict[str, dict[str, Any]] = {}
        for line in (data_dir / "sellers.jsonl").read_text("utf-8").splitlines():
            if line.strip():
                s = json.loads(line)
                sellers[str(s["id"])] = s
        listings: dict[str, Listing] = {}
        for line in (data_dir / "listings.jsonl").read_text("utf-8").splitlines():
            if line.strip():
                raw = json.loads(line)
                lid = str(raw["id"])
                listings[lid] = Listing(
                    raw=raw,
                    id=lid,
                    title=str(raw.get("title") or ""),
                    tokens=tokenize(str(raw.get("title") or "")),
                    active=raw.get("status", "active") != "removed",
                )
        ordered = sorted(listings.values(), key=_newest_first)
        feedback: dict[str, int] = {}
        by_seller: dict[str, list[Listing]] = {}
        for lst in ordered:
            sid = str(lst.raw.get("seller_id"))
            feedback[sid] = feedback.get(sid, 0) + int(lst.raw.get("sales") or 0)
            if lst.active:
                by_seller.setdefault(sid, []).append(lst)
        return cls(
            site=site,
            sellers=sellers,
            listings=listings,
            active=[x for x in ordered if x.active],
            by_seller=by_seller,
            feedback=feedback,
            page_size=int(site.get("page_size") or SEARCH_PAGE_SIZE),
        )

    def search(self, query: str) -> list[Listing]:
        """Active listings matching ``query``, best match first, then newest."""
        terms = query_terms(query)
        scored = []
        for lst in self.active:
            score = match_score(terms, lst.tokens)
            if score is not None:
                scored.append((score, lst))
        # self.active is newest first and sort is stable, so ties keep newest first.
        scored.sort(key=lambda pair: -pair[0])
        return [lst for _, lst in scored]


def _newest_first(lst: Listing) -> tuple[int, str]:
    return (-int(lst.id) if lst.id.isdigit() else 0, lst.id)


def store_path(seller_id: str) -> str:
    return f"/str/{quote(seller_id, safe='')}"


def search_path(query: str, page: int) -> str:
    return f"/sch/i.html?_nkw={quote_plus(query)}&_pgn={page}"


# ---------------------------------------------------------------- placeholder images


def placeholder_png(name: str, size: int = 96) -> bytes:
    """A deterministic placeholder photo for ``name`` (see ``crawler.demo.photos``)."""
    return photos.photo_png(name, size=size)


# ---------------------------------------------------------------- anti-bot


class TokenBucket:
    """Per-client token buckets: ``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = max(1, burst)
        self.clock = clock
        self._state: dict[str, tuple[float, float]] = {}

    def allow(self, client: str) -> bool:
        now = self.clock()
        tokens, last = self._state.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._state[client] = (tokens, now)
        return allowed


class AntiBot:
    """ASGI middleware: the interstitial for ``?__block=1`` and for clients over the limit."""

    # Images and CSS come from a CDN on the real site; the IP intake is an authenticated API.
    EXEMPT_PREFIXES = ("/img/", "/static/", "/ip/")

    def __init__(self, app: ASGIApp, blocked_page: bytes, options: SiteOptions) -> None:
        self.app = app
        self.blocked_page = blocked_page
        self.bucket = (
            TokenBucket(options.rate_limit, options.burst) if options.rate_limit > 0 else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._blocked(scope):
            response = Response(self.blocked_page, media_type=HTML)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _blocked(self, scope: Scope) -> bool:
        query = scope.get("query_string", b"")
        if b"__block" in query:
            values = parse_qs(query.decode("latin-1")).get("__block", [])
            if "1" in values:
                return True
        if self.bucket is None:
            return False
        path: str = scope.get("path", "")
        if path == "/robots.txt" or path.startswith(self.EXEMPT_PREFIXES):
            return False
        client = scope.get("client")
        return not self.bucket.allow(client[0] if client else "-")


# ---------------------------------------------------------------- rendering


class LRU:
    """A bounded cache of rendered pages (bytes): arbitrary queries must not grow memory."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        try:
            self._data.move_to_end(key)
            return self._data[key]
        except KeyError:
            value = self._data[key] = make()
            if len(self._data) > self.size:
                self._data.popitem(last=False)
            return value


def _page_arg(request: Request) -> int:
    try:
        return max(1, int(request.query_params.get("_pgn", "1")))
    except ValueError:
        return 1


def _page_links(page: int, pages: int, url: Callable[[int], str]) -> list[tuple[int, str]]:
    first = max(1, min(page - 4, pages - 8))
    return [(n, url(n)) for n in range(first, min(pages, first + 8) + 1)]


class Demobay:
    """The site: data, templates and the page cache behind the routes."""

    def __init__(self, data_dir: Path, options: SiteOptions) -> None:
        self.data = SiteData.load(data_dir)
        self.options = options
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(data_dir / "templates"))
            if (data_dir / "templates").is_dir()
            else jinja2.FileSystemLoader(str(_TEMPLATES)),
            autoescape=True,
            trim_blocks=False,
        )
        self.cache = LRU(PAGE_CACHE_SIZE)
        # Accounts of one operator (a shared contact) show the same product photos.
        self.operator_groups = photos.operator_groups(self.data.sellers.values())
        self.search_cache = LRU(SEARCH_CACHE_SIZE)
        self.hits_cache = LRU(SEARCH_CACHE_SIZE * 2)
        for lst in self.data.listings.values():
            lst.card = self._card(lst)
        self.blocked_page = self._render("blocked.html")
        self.not_found_page = self._render("notfound.html")
        self.intake = intake_mod.Intake(
            "demobay", self.judge_complaint, delay=options.intake_delay,
            flaky=options.intake_flaky, state_dir=options.state_dir,
        )

    def judge_complaint(self, listing_id: str) -> tuple[bool, str]:
        """The platform's decision on one listing of an IP complaint (deterministic)."""
        lst = self.data.listings.get(listing_id)
        if lst is None:
            return False, "no such listing"
        if not lst.active:
            return False, "listing already ended"
        seller = self.data.sellers.get(str(lst.raw.get("seller_id")), {})
        if seller.get("kind") == "official":
            return False, "official store of the rights holder"
        if not lst.raw.get("infringing"):
            return False, "no infringement found on review"
        return True, "removed for intellectual property infringement"

    def _render(self, template: str, **context: Any) -> bytes:
        return self.env.get_template(template).render(**context).encode("utf-8")

    def _seller(self, sid: str) -> dict[str, Any]:
        return self.data.sellers.get(sid) or {"id": sid, "nick": sid}

    def _card(self, lst: Listing) -> dict[str, Any]:
        raw = lst.raw
        sid = str(raw.get("seller_id"))
        seller = self._seller(sid)
        digest = _digest(lst.id)
        sales = int(raw.get("sales") or 0)
        images = raw.get("images") or []
        return {
            "id": lst.id,
            "hid": digest[:10],
            "url": f"/itm/{quote(lst.id, safe='')}?hash=item{digest[:10]}:g:{digest[10:26]}"
            "&_trksid=p2351460.m1686.l7400",
            "img": f"/img/{quote(image_name(images[0]))}" if images else "/img/blank.png",
            "title": lst.title,
            "condition": raw.get("condition") or "Pre-Owned",
            "price": money(float(raw.get("price") or 0)),
            "shipping": self._shipping(lst.id),
            "location": raw.get("location") or seller.get("location") or "",
            "sold": f"{sales:,} sold" if sales else None,
            "seller_id": sid,
            "seller_name": seller.get("nick") or sid,
            "store_url": store_path(sid),
            "feedback": f"{self.data.feedback.get(sid, 0):,}",
            "pct": positive_pct(seller.get("rating")),
        }

    @staticmethod
    def _shipping(lid: str) -> str:
        n = int(_digest(lid)[:6], 16)
        return "Free delivery" if n % 3 == 0 else f"+{money((n % 900 + 99) / 100)} delivery"

    # ---- pages

    def home(self) -> bytes:
        def make() -> bytes:
            popular = ["dvd", "blu ray", "box set", "4k uhd", "steelbook", "complete series"]
            return self._render(
                "home.html", popular=[{"text": k, "url": search_path(k, 1)} for k in popular]
            )

        return self.cache.get(("home",), make)

    def search(self, query: str, page: int) -> bytes:
        def make() -> bytes:
            hits = self.hits_cache.get(query, lambda: self.data.search(query))
            size = self.data.page_size
            pages = max(1, math.ceil(len(hits) / size))
            cards = [x.card for x in hits[(page - 1) * size : page * size]]
            return self._render(
                "search.html",
                query=query,
                total=len(hits),
                total_text=f"{len(hits):,}",
                cards=cards,
                page=page,
                pages=pages,
                page_links=_page_links(page, pages, lambda n: search_path(query, n)),
                prev_url=search_path(query, page - 1) if 1 < page <= pages + 1 else None,
                next_url=search_path(query, page + 1) if page < pages else None,
            )

        return self.search_cache.get((query, page), make)

    def item(self, lid: str) -> bytes | None:
        lst = self.data.listings.get(lid)
        if lst is None:
            return None
        ended = lid in self.intake.taken_down
        return self.cache.get(("item", lid, ended), lambda: self._item(lst, ended))

    def _item(self, lst: Listing, ended: bool = False) -> bytes:
        if ended or not lst.active:
            terms = query_terms(lst.title)[:4]
            return self._render("ended.html", l=lst.raw, similar=" ".join(terms))
        raw, card = lst.raw, lst.card
        sid = card["seller_id"]
        seller = self._seller(sid)
        price = float(raw.get("price") or 0)
        images = [f"/img/{quote(image_name(p))}" for p in raw.get("images") or []]
        description = [
            line.strip() for line in str(raw.get("description") or "").splitlines() if line.strip()
        ]
        specifics = [
            ("Condition", card["condition"]),
            ("Item location", card["location"]),
            ("Seller", card["seller_name"]),
            ("Item number", lst.id),
        ]
        return self._render(
            "item.html",
            l={**raw, "id": lst.id, "title": lst.title, "condition": card["condition"]},
            images=images,
            price=f"US {money(price)}",
            price_value=f"{price:.2f}",
            sold=card["sold"] or "0 sold",
            shipping=card["shipping"],
            seller_name=card["seller_name"],
            shop_name=seller.get("shop_name"),
            store_url=card["store_url"],
            feedback=card["feedback"],
            pct=card["pct"],
            specifics=specifics,
            description=description,
        )

    def store(self, sid: str, page: int) -> bytes | None:
        if sid not in self.data.sellers:
            return None

        def make() -> bytes:
            seller = self.data.sellers[sid]
            items = self.data.by_seller.get(sid, [])
            pages = max(1, math.ceil(len(items) / STORE_PAGE_SIZE))
            base = store_path(sid)
            sold = sum(int(x.raw.get("sales") or 0) for x in items)
            try:
                since = date.fromisoformat(str(seller.get("opened"))).strftime("%b %d, %Y")
            except ValueError:
                since = str(seller.get("opened") or "")
            return self._render(
                "store.html",
                s=seller,
                seller_name=seller.get("nick") or sid,
                shop_name=seller.get("shop_name") or seller.get("nick") or sid,
                store_url=base,
                pct=positive_pct(seller.get("rating")),
                feedback=f"{self.data.feedback.get(sid, 0):,}",
                items_sold=f"{sold:,}",
                since=since,
                total=len(items),
                total_text=f"{len(items):,}",
                cards=[
                    x.card for x in items[(page - 1) * STORE_PAGE_SIZE : page * STORE_PAGE_SIZE]
                ],
                page=page,
                pages=pages,
                page_links=_page_links(page, pages, lambda n: f"{base}?_pgn={n}"),
                prev_url=f"{base}?_pgn={page - 1}" if 1 < page <= pages + 1 else None,
                next_url=f"{base}?_pgn={page + 1}" if page < pages else None,
            )

        return self.cache.get(("store", sid, page), make)

    def image(self, name: str) -> bytes:
        lst = self.data.listings.get(name.split("_", 1)[0])
        group = self.operator_groups.get(str(lst.raw.get("seller_id"))) if lst else None
        raw = lst.raw if lst else None
        return self.cache.get(("img", name), lambda: photos.listing_photo(name, raw, group))


_TEMPLATES = Path(__file__).resolve().parents[2] / "fixtures" / "sites" / "demobay" / "templates"
_STATIC = _TEMPLATES.parent / "static"


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
        static_dir = _STATIC
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
