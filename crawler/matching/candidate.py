"""A catalogue title named by a listing (:class:`Candidate`), and which title a key names.

Several catalogue titles may share one key (remakes, shared aliases): :func:`choose_title`
tells them apart by the listing's year (a year one off still counts: festival and regional
release years differ), then by a director or cast member the listing names, else the newest
wins and the others are named as ambiguous. A key that
is only a variant of another title ("The Mighty Ducks" of "D3: The Mighty Ducks") gives way to
the title whose own name it is. Step 4 of scoring (:mod:`crawler.matching.score`).

Settings: none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crawler.matching.index import CatalogIndex, Key, Title


@dataclass(slots=True)
class Candidate:
    """One catalogue title named by the listing, with why and how strongly."""

    title: Title
    key: Key
    start: int
    end: int
    matched: str
    strength: float
    fit: float
    fuzzy: float | None = None          # rapidfuzz similarity of a misspelt match
    year_match: int | None = None       # the listing's year that equals the title's
    year_mismatch: int | None = None    # a year next to the title that differs
    sequel_mismatch: str | None = None  # "3" in "Toy Story 3" when 3 is not catalogued
    extended: str | None = None         # "蝙蝠侠黑暗骑士崛起": more title glued on
    season: int | None = None
    ambiguous: list[str] = field(default_factory=list)  # other ids sharing the key
    how: str | None = None              # the normalisation that made the hit ("pinyin: ...")

    @property
    def rejected(self) -> bool:
        return (self.year_mismatch is not None or self.sequel_mismatch is not None
                or self.extended is not None)


def choose_title(key: Key, index: CatalogIndex, years: list[int],
                 named: frozenset[int] = frozenset()) -> tuple[Title, list[str], int | None]:
    """The title ``key`` names in a listing with ``years`` and whose director or cast it
    names (``named``: title indexes), the other ids, the year matched."""
    titles = [index.titles[i] for i in key.titles]
    if key.derived_for and len(titles) > 1:
        # "The Mighty Ducks" is that film's own title, only a variant of "D3: The Mighty Ducks".
        own = [t for t in titles if t.idx not in key.derived_for]
        titles = own or titles
    if len(titles) == 1:
        t = titles[0]
        return t, [], _year_match(t, years)
    if years:
        dated = [(t, _year_match(t, years)) for t in titles]
        matching = [(t, y) for t, y in dated if y is not None]
        if len(matching) == 1:
            return matching[0][0], [], matching[0][1]
        if matching:
            titles = [t for t, _ in matching]
    if named:
        # "Ocean's Eleven Soderbergh", "The Lion King 乔恩·费儒": the remake its people made.
        theirs = [t for t in titles if t.idx in named]
        if len(theirs) == 1:
            return theirs[0], [], _year_match(theirs[0], years)
    if len(titles) == 1:
        return titles[0], [], _year_match(titles[0], years)
    titles.sort(key=lambda t: t.year or 0, reverse=True)
    chosen = titles[0]
    return chosen, [t.id for t in titles[1:]], _year_match(chosen, years)


def _year_match(title: Title, years: list[int]) -> int | None:
    if title.year is None:
        return None
    for y in years:
        if y == title.year:
            return y
    for y in years:
        if abs(y - title.year) == 1:  # festival vs general release, regional release years
            return y
    return None
