"""The matching engine: one listing in, one explainable decision out.

``MatchEngine.from_files(catalog, authorized, config=None)`` loads and validates the files
(:mod:`crawler.catalog.importer`: a malformed catalogue raises
:class:`crawler.exceptions.CatalogError`); ``MatchEngine(entries, sellers)`` takes catalogue
entries from anywhere (the database included). Everything expensive (the catalogue automaton,
the term automaton, the normalisation tables) is built once; :meth:`MatchEngine.match` is a
pure function of the listing and ``today``.

A listing is a mapping with ``id``, ``title``, ``marketplace`` and optionally ``price``,
``currency``, ``seller``, ``url``, ``description``; :func:`check_listing` says what is wrong
with one that is malformed (:class:`ListingError`).

Settings: the matching configuration (:mod:`crawler.matching.config`).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from crawler.catalog.importer import AuthorizedSeller, CatalogEntry, load_authorized, load_catalog
from crawler.matching.config import MatchConfig
from crawler.matching.decide import Decision, SellerStatus, decide
from crawler.matching.index import CatalogIndex
from crawler.matching.normalize import normalize
from crawler.matching.offer import Lexicon, classify
from crawler.matching.score import analyse

MAX_TITLE = 1000
MAX_DESCRIPTION = 2000


class ListingError(ValueError):
    """A listing that cannot be decided: not an object, a missing or mistyped field."""


_NO_SELLER = SellerStatus(frozenset())


class MatchEngine:
    """Decide listings against one catalogue and its authorised sellers."""

    def __init__(self, entries: Sequence[CatalogEntry],
                 authorized: Iterable[AuthorizedSeller] = (),
                 config: MatchConfig | None = None, today: dt.date | None = None) -> None:
        self.config = config or MatchConfig.load()
        self.index = CatalogIndex.build(entries, self.config.everyday_titles)
        self.lexicon = Lexicon(self.config)
        self.today = today
        sellers: dict[tuple[str, str], set[str]] = {}
        for row in authorized:
            sellers.setdefault((row.marketplace.casefold(), row.seller.casefold()),
                               set()).add(row.member)
        self._sellers = {k: SellerStatus(frozenset(v)) for k, v in sellers.items()}

    @classmethod
    def from_files(cls, catalog: str | Path, authorized: str | Path | None = None,
                   config: str | Path | MatchConfig | None = None,
                   today: dt.date | None = None) -> MatchEngine:
        cfg = config if isinstance(config, MatchConfig) else MatchConfig.load(config)
        entries = load_catalog(catalog)
        sellers = load_authorized(authorized) if authorized is not None else []
        return cls(entries, sellers, cfg, today)

    def seller_status(self, marketplace: str | None, seller: str | None) -> SellerStatus:
        if not seller or not self._sellers:
            return _NO_SELLER
        return self._sellers.get(((marketplace or "").casefold(), seller.casefold()), _NO_SELLER)

    def match(self, listing: Mapping[str, Any]) -> Decision:
        """Decide one listing (checked with :func:`check_listing` first)."""
        item = check_listing(listing)
        norm = normalize(item["title"][:MAX_TITLE], self.index.vocabulary, self.index.written)
        terms = self.lexicon.scan(norm.text)
        analysis = analyse(norm, self.index, terms, self.config, self.lexicon.glue)
        description = item.get("description")
        desc_terms = []
        if description and analysis.accepted:
            desc_terms = self.lexicon.scan(normalize(description[:MAX_DESCRIPTION]).text)
        offer = classify(analysis.terms, desc_terms)
        return decide(
            item["id"], analysis, offer, norm.folds, config=self.config, seller=item.get("seller"),
            seller_status=self.seller_status(item.get("marketplace"), item.get("seller")),
            price=item.get("price"), currency=item.get("currency"),
            today=self.today or _today(),
        )


_day: list[Any] = [0.0, dt.date.today()]


def _today() -> dt.date:
    """Today's date, looked up at most once a minute (it is asked for every listing)."""
    now = time.monotonic()
    if now - _day[0] > 60:
        _day[0], _day[1] = now, dt.date.today()
    return _day[1]


_TEXT_FIELDS = ("marketplace", "seller", "currency", "url", "description")


def check_listing(obj: Any) -> dict[str, Any]:
    """The listing with ``id`` as text and ``price`` as a float; ListingError if malformed."""
    if type(obj) is dict:
        # Fast path for the common, well-formed line.
        lid, title, price = obj.get("id"), obj.get("title"), obj.get("price")
        if (type(lid) is str and lid.strip() and type(title) is str and title.strip()
                and (price is None or (type(price) in (int, float) and 0 <= price < math.inf))
                and all(type(obj.get(k)) in (str, type(None)) for k in _TEXT_FIELDS)):
            item = dict(obj)
            item["price"] = float(price) if price is not None else None
            return item
    if not isinstance(obj, Mapping):
        raise ListingError(f"expected a JSON object, got {type(obj).__name__}")
    problems: list[str] = []
    lid = obj.get("id")
    if isinstance(lid, bool) or not isinstance(lid, (str, int)) or str(lid).strip() == "":
        problems.append("missing or empty id")
    title = obj.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append("missing or empty title")
    for name in _TEXT_FIELDS:
        field = obj.get(name)
        if field is not None and not isinstance(field, str):
            problems.append(f"{name} must be text, not {type(field).__name__}")
    price = obj.get("price")
    value: float | None = None
    if price is not None:
        if isinstance(price, bool):
            problems.append("price must be a number")
        elif isinstance(price, (int, float)):
            value = float(price)
        elif isinstance(price, str):
            try:
                value = float(price.replace(",", "").strip())
            except ValueError:
                problems.append(f"price {price!r} is not a number")
        else:
            problems.append("price must be a number")
        if value is not None and (math.isnan(value) or math.isinf(value) or value < 0):
            problems.append(f"price {price!r} is not a valid amount")
            value = None
    if problems:
        raise ListingError("; ".join(problems))
    item = dict(obj)
    item["id"] = str(lid)
    item["price"] = value
    return item
