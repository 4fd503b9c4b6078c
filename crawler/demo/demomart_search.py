"""Demomart's fuzzy search: how a Chinese marketplace matches a keyword against listing titles.

Text is normalised (NFKC folds full-width to half-width, lowercase, spaces and punctuation
dropped); a query becomes its CJK character bigrams plus its Latin/digit words, and a title
matches with the share of those terms it contains. Listings scoring at least
:data:`MIN_SHARE` are returned, best first, then by sales. This is what makes decoys
("流浪猫粮" for "流浪地球") show up, as they do on the real sites.

No settings affect this module.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MIN_SHARE = 0.6

_LATIN = re.compile(r"[a-z0-9]+")


def _is_cjk(ch: str) -> bool:
    # Letters outside Latin/digits (CJK ideographs, kana, hangul) are matched as bigrams.
    return unicodedata.category(ch).startswith(("L", "N")) and not ch.isascii()


def normalise(text: str) -> str:
    """NFKC, lowercase, keep only letters and digits (spaces and punctuation dropped)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if unicodedata.category(ch).startswith(("L", "N")))


def _split(text: str) -> tuple[str, list[str]]:
    """(the CJK characters run together, the Latin/digit words) of ``text``."""
    folded = unicodedata.normalize("NFKC", text).lower()
    cjk = "".join(ch for ch in folded if _is_cjk(ch))
    return cjk, _LATIN.findall(folded)


def query_terms(query: str) -> set[str]:
    """The terms a query is matched by: CJK bigrams (a lone character counts alone) and words."""
    cjk, words = _split(query)
    terms: set[str] = set(words)
    if len(cjk) == 1:
        terms.add(cjk)
    terms.update(cjk[i : i + 2] for i in range(len(cjk) - 1))
    return terms


@dataclass(frozen=True)
class IndexedTitle:
    listing_id: str
    sales: int
    cjk: str  # the title's CJK characters run together
    latin: str  # the title's Latin letters and digits run together


class SearchIndex:
    """Active listings' titles, prepared once; :meth:`search` returns ranked listing ids."""

    def __init__(self, listings: Iterable[Mapping[str, Any]]) -> None:
        self.titles: list[IndexedTitle] = []
        for listing in listings:
            if listing.get("status", "active") != "active":
                continue
            cjk, words = _split(str(listing.get("title", "")))
            self.titles.append(
                IndexedTitle(
                    str(listing["id"]), int(listing.get("sales") or 0), cjk, "".join(words)
                )
            )

    def search(self, query: str) -> list[str]:
        """Ids of the listings whose title holds at least 60% of the query's terms, best first."""
        terms = query_terms(query)
        if not terms:
            return []
        scored: list[tuple[float, int, str]] = []
        for title in self.titles:
            found = 0
            for term in terms:
                haystack = title.latin if term.isascii() else title.cjk
                if term in haystack:
                    found += 1
            share = found / len(terms)
            if share >= MIN_SHARE:
                scored.append((share, title.sales, title.listing_id))
        scored.sort(key=lambda t: (-t[0], -t[1], t[2]))
        return [listing_id for _, _, listing_id in scored]
