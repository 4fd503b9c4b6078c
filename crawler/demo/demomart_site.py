"""Demomart's site model: the data files loaded once, the templates and the page caches.

:class:`DemomartSite` loads ``site.json``, ``sellers.jsonl`` and ``listings.jsonl`` of a demomart
data folder, builds the search index (:mod:`crawler.demo.demomart_search`), renders the
Jinja2 templates of ``fixtures/sites/demomart/templates`` (autoescaped: every data string is
hostile) and serves GBK sellers' pages in GBK (every third of them declaring it only in the
meta tag, as old pages do). It also makes the block pages (slider captcha, login wall), keeps
the per-client :class:`TokenBuckets` and judges the takedown complaints of the IP intake
(:mod:`crawler.demo.intake`). The routes are in :mod:`crawler.demo.demomart`.

Settings: none; options come from ``crawler.demo.server.SiteOptions``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crawler.demo import intake as intake_mod
from crawler.demo import photos
from crawler.demo.demomart_search import SearchIndex
from crawler.demo.server import SITES_DIR, SiteOptions

SITE_DIR = SITES_DIR / "demomart"
TEMPLATES_DIR = SITE_DIR / "templates"
STATIC_DIR = SITE_DIR / "static"

SEARCH_PAGE_SIZE = 44
SHOP_PAGE_SIZE = 24
LOGIN_PATH = "/member/login.jhtml"


class LRU:
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


class RenderedPage:
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



def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def price_text(value: Any) -> str:
    return f"{float(value):.2f}"


def image_url(path: str) -> str:
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
        self.page_cache = LRU(16384)
        self.search_pages = LRU(512)
        self.search_cache = LRU(1024)
        self.image_cache = LRU(2048)
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

    def encoded(self, html: str, encoding: str, seller_id: str | None) -> RenderedPage:
        if encoding == "gbk":
            body = html.encode("gbk", errors="xmlcharrefreplace")
            if seller_id in self.meta_only_gbk:
                return RenderedPage(body, media_type="text/html")
            return RenderedPage(body, media_type="text/html; charset=GBK")
        return RenderedPage(html.encode("utf-8"))

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
            "price": price_text(x.get("price", 0)),
            "sales": int(x.get("sales") or 0),
            "location": x.get("location") or "",
            "seller_id": str(x.get("seller_id", "")),
            "nick": seller.get("nick", ""),
            "item_url": f"/item.htm?id={listing_id}&ns=1&abbucket=12&spm=a230r.1.14.{position}",
            "shop_url": f"/shop/{quote(str(x.get('seller_id', '')))}?spm=a230r.7195193.1997079397.{position}",
            "thumb": image_url(images[0]) + "_230x230.jpg",
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
        return RenderedPage(html.encode("utf-8")).response()
