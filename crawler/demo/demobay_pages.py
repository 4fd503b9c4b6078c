"""demobay's pages: the Jinja2 templates rendered over the data, cached as bytes.

:class:`Demobay` holds the data (:mod:`crawler.demo.demobay_data`), the template environment
(``fixtures/sites/demobay/templates/``, or the data folder's own ``templates/``) and bounded
caches of rendered pages; each page method returns the page's bytes (``None`` for an unknown
listing or store). It also judges the takedown complaints of the IP intake
(:mod:`crawler.demo.intake`). Every data string is treated as hostile: templates autoescape
and URLs are built with ``quote``.

Settings: none; options come from ``crawler.demo.server.SiteOptions``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from crawler.demo import intake as intake_mod
from crawler.demo import photos
from crawler.demo.demobay_data import (
    Listing,
    SiteData,
    image_name,
    money,
    positive_pct,
    query_terms,
    search_path,
    store_path,
    text_digest,
)
from crawler.demo.server import SiteOptions

STORE_PAGE_SIZE = 24
# Rendered pages kept: search pages (~100 KB each, keyed by free-text query) get a smaller cache
# than the pages keyed by data (items, stores, images: a few KB each).
PAGE_CACHE_SIZE = 8192
SEARCH_CACHE_SIZE = 512
HTML = "text/html; charset=utf-8"

TEMPLATES_DIR = (
    Path(__file__).resolve().parents[2] / "fixtures" / "sites" / "demobay" / "templates"
)
STATIC_DIR = TEMPLATES_DIR.parent / "static"


def placeholder_png(name: str, size: int = 96) -> bytes:
    """A deterministic placeholder photo for ``name`` (see ``crawler.demo.photos``)."""
    return photos.photo_png(name, size=size)


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
            else jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
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
        digest = text_digest(lst.id)
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
        n = int(text_digest(lid)[:6], 16)
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
