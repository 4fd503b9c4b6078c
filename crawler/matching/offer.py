"""What a listing offers: a copy of the work, goods that share its name, or something else.

The term lexicon (``lexicon.yaml``, see :mod:`crawler.matching.config`) is compiled once into
an Aho-Corasick automaton over normalised terms; :meth:`Lexicon.scan` finds every term in a
normalised text (Latin terms on word boundaries only, longest term first, no overlaps) and
:func:`classify` turns the terms that are not part of a matched title into an
:class:`Offer`: its kind (``copy`` | ``quality`` | ``goods`` | ``unrelated`` | ``unknown``) and
the terms behind it, kept as evidence for the decision.

Precedence, most specific first: goods words (poster, 手办, novel, OST, game) make it goods
even next to a disc word ("电影原声 OST CD", "PS2 游戏光盘"), unless a "bonus"/"赠" word
introduces them ("DVD 送海报"); a negation ("不含影片光盘") cancels the next term; then copy
words (disc, file, link, account, bootleg terms); then format/quality words alone; then
unrelated goods (players, blank media, household).

Settings: ``--config`` (its ``lexicon`` file).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ahocorasick

from crawler.matching.config import MatchConfig
from crawler.matching.normalize import normalize_text

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
COPY_CATEGORIES = ("disc", "digital", "stream", "bootleg")


@dataclass(slots=True)
class TermHit:
    start: int
    end: int
    term: str
    categories: tuple[str, ...]
    offers: tuple[str, ...]


class Lexicon:
    """The term automaton, built once from the configuration."""

    def __init__(self, config: MatchConfig) -> None:
        table: dict[str, tuple[list[str], list[str]]] = {}
        for category in config.categories:
            for raw in category.terms:
                term = normalize_text(raw)
                if not term:
                    continue
                cats, offers = table.setdefault(term, ([], []))
                if category.name not in cats:
                    cats.append(category.name)
                    offers.append(category.offer)
        self.automaton = ahocorasick.Automaton()
        for term, (cats, offers) in table.items():
            self.automaton.add_word(term, (term, tuple(cats), tuple(offers),
                                           term[0] in _ALNUM, term[-1] in _ALNUM, len(term)))
        if table:
            self.automaton.make_automaton()
        self._empty = not table
        # Latin terms that may be glued to a title: "bd50" in "bd50102 dalmatians".
        self.glue = frozenset(t for t in table
                              if t.isascii() and t.replace(" ", "").isalnum() and len(t) <= 8)

    def scan(self, text: str) -> list[TermHit]:
        """Non-overlapping term hits in ``text`` (normalised), longest first, in text order."""
        if self._empty or not text:
            return []
        found: list[tuple[int, int, tuple]] = []
        n = len(text)
        alnum = _ALNUM
        overlap = False
        last_end = -1
        for end, value in self.automaton.iter(text):
            start = end - value[5] + 1
            if value[3] and start > 0 and text[start - 1] in alnum:
                continue
            if value[4] and end + 1 < n and text[end + 1] in alnum:
                continue
            if start < last_end:
                overlap = True
            last_end = end + 1
            found.append((start, end + 1, value))
        if not found:
            return found  # type: ignore[return-value]
        if overlap:
            found.sort(key=lambda f: (f[0] - f[1], f[0]))
            chosen: list[tuple[int, int, tuple]] = []
            for cand in found:
                s, e = cand[0], cand[1]
                if all(e <= c[0] or s >= c[1] for c in chosen):
                    chosen.append(cand)
            chosen.sort(key=lambda f: f[0])
            found = chosen
        else:
            found.sort(key=lambda f: f[0])
        return [TermHit(s, e, v[0], v[1], v[2]) for s, e, v in found]


@dataclass(slots=True)
class Offer:
    """The offer kind and the terms that made it so, by category."""

    kind: str  # copy | quality | goods | unrelated | unknown
    terms: dict[str, list[str]] = field(default_factory=dict)

    def has(self, category: str) -> bool:
        return category in self.terms

    def first(self, *categories: str) -> str:
        for category in categories:
            if category in self.terms:
                return self.terms[category][0]
        return ""

    def all_terms(self, *categories: str) -> list[str]:
        out: list[str] = []
        for category in categories:
            out.extend(self.terms.get(category, ()))
        return out


_GOODS = ("merch", "book", "soundtrack", "game")
_MODIFIER_GAP = 8  # characters between "赠"/"不含" and the word it applies to


def classify(title_terms: list[TermHit], description_terms: list[TermHit] = ()) -> Offer:  # type: ignore[assignment]
    """The offer behind a listing's terms; description terms only fill what the title leaves open."""
    terms = _apply_modifiers(title_terms)
    by_cat: dict[str, list[str]] = {}
    for hit in terms:
        for cat in hit.categories:
            by_cat.setdefault(cat, []).append(hit.term)
    if description_terms:
        extra: dict[str, list[str]] = {}
        for hit in _apply_modifiers(list(description_terms)):
            for cat in hit.categories:
                extra.setdefault(cat, []).append(hit.term)
        title_kind = _kind(by_cat)
        for cat, words in extra.items():
            # The description confirms piracy and says what goods are; it never turns a
            # disc in the title into goods, nor a poster in the title into a disc.
            if cat in ("bootleg", "digital", "stream") and title_kind in ("copy", "quality", "unknown") or cat in _GOODS and title_kind == "unknown":
                by_cat.setdefault(cat, []).extend(f"{w} (description)" for w in words)
    return Offer(_kind(by_cat), by_cat)


def _kind(by_cat: dict[str, list[str]]) -> str:
    if any(c in by_cat for c in _GOODS):
        return "goods"
    if any(c in by_cat for c in COPY_CATEGORIES):
        return "copy"
    if "unrelated" in by_cat or "product" in by_cat:
        return "unrelated"  # water, food, a gift box: goods of another kind
    if "quality" in by_cat or "collection" in by_cat:
        return "quality"  # format words or "complete collection": a copy, weakly said
    return "unknown"


def _apply_modifiers(hits: list[TermHit]) -> list[TermHit]:
    """Drop goods words introduced by a bonus word and any word introduced by a negation."""
    if not any("bonus" in h.offers or "negation" in h.offers for h in hits):
        return hits
    out: list[TermHit] = []
    pending: tuple[str, int] | None = None
    for hit in hits:
        if "negation" in hit.offers or "bonus" in hit.offers:
            pending = ("negation" if "negation" in hit.offers else "bonus", hit.end)
            continue
        if pending is not None and hit.start - pending[1] <= _MODIFIER_GAP:
            mode = pending[0]
            if all(o in ("context", "noise") for o in hit.offers):
                # "不含影片光盘": the film word does not end the negation's reach.
                pending = (mode, hit.end)
                if mode == "negation":
                    continue
                out.append(hit)
                continue
            pending = None
            if mode == "negation":
                continue
            if mode == "bonus" and "goods" in hit.offers:
                continue
        pending = None
        out.append(hit)
    return out
