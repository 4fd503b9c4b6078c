"""demobay's data: the data files loaded once, and its search semantics.

:class:`SiteData` loads ``site.json``, ``sellers.jsonl`` and ``listings.jsonl`` of a demobay data
folder (see ``fixtures/sites/README.md``) with the indexes the routes need (active listings
newest first, each seller's active listings, feedback scores). Search works as on the real
site: every query word (stop words aside) must be a title word or a word prefix; whole-word
hits, then words in order, rank higher; ties keep the newest first. Also the formats the pages
show (prices, feedback percentages) and the URLs they link to.

Settings: none; ``site.json`` ``page_size`` overrides :data:`SEARCH_PAGE_SIZE`.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

SEARCH_PAGE_SIZE = 48  # overridden by site.json "page_size"
STOP_WORDS = frozenset({"the", "of", "and", "a", "an"})

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


def text_digest(text: str) -> str:
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
