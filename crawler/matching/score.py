"""From title hits in a listing to the catalogue titles it names, scored and disambiguated.

Input: the normalised listing text, its word breaks, the catalogue index hits and the lexicon
terms. Steps, each explainable in the decision's signals:

1. A hit inside a longer hit is dropped ("Toy Story" inside "Toy Story 2", "阿甘" inside
   "阿甘正传"); a lexicon term inside a title belongs to the title ("Game of Thrones"), a title
   inside a longer term belongs to the term ("speed cube", "office chair").
2. Years, seasons (``第6季``, ``season 6``), ranges (``1~3部``) and format/quality terms are
   set aside; what remains of the text is cut into segments at those, at ``+`` and at the
   breaks between Chinese words.
3. Each hit is scored with rapidfuzz: how well the matched titles explain their segment
   (``fuzz.ratio``), weighed by how telling the key is alone (long titles count on their own,
   "Speed" or "赌场" among other words do not): ``strength = s + (1 - s) * fit``.
4. Disambiguation: a number after the title that is not in the catalogue is another sequel
   ("玩具总动员3" when only 1 and 2 are members); a year next to the title that differs is
   another film or remake; titles sharing a key (remakes, shared aliases) are told apart by
   the listing's year, else the newest wins and the others are named
   (:mod:`crawler.matching.candidate`); a collection keeps every title it names.
5. Only when nothing matched exactly, segments are looked up fuzzily (n-gram candidates from
   the index, rapidfuzz similarity) to catch misspellings: Latin titles against runs of whole
   words only (filler words like "the" do not cut a run), with one typing slip allowed in a
   title of 8+ letters; a title rejected exactly (another sequel or year) is never found
   again as a typo (:mod:`crawler.matching.fuzzy`).

This module does steps 1 to 4 and runs step 5; cutting the text into segments is
:mod:`crawler.matching.segments`.

Settings: ``thresholds.min_match``, ``thresholds.fuzzy_latin``, ``thresholds.fuzzy_cjk`` and
``ambiguous_prefer`` of the matching configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from crawler.matching.candidate import Candidate, choose_title
from crawler.matching.config import MatchConfig
from crawler.matching.fuzzy import fuzzy_matches, sound_matches
from crawler.matching.index import STOPWORDS, CatalogIndex, Key
from crawler.matching.normalize import Normalized
from crawler.matching.offer import TermHit
from crawler.matching.people import PersonHit
from crawler.matching.segments import CJK_CHAR, mask, segment

__all__ = ["Analysis", "Candidate", "analyse"]

_YEAR = re.compile(r"(?<![0-9])(18[89]\d|19\d\d|20[0-4]\d)(?![0-9])")
_SEASON = re.compile(
    r"第(\d{1,2})季|(?<![a-z0-9])(?:season|series) (\d{1,2})(?![0-9~])"
    r"|(?<![a-z0-9])s (\d{1,2})(?: e \d{1,3})?(?![a-z0-9])"
)
_RANGE = re.compile(
    r"(?:第|(?<![a-z0-9])(?:seasons?|series|parts?|vol|volumes?) ?)?(?<![0-9])(\d{1,2})~(\d{1,2})"
    r"(?![0-9])(?: ?(?:部|季|集|seasons?))?"
)
_AFTER = re.compile(
    r" ?(第|part |chapter |vol |volume )?(\d{1,2})(?![0-9a-z~])"
    r"( ?(?:disc|discs|dvd|dvds|pack|cd|cds|x|碟|张|片|件|套|盒|部|季|集|期|章|k|p|d(?! ?\d))(?![a-z]))?"
)
# Units after a number that make it a count or a format, not a sequel ("3 disc", "4K", "3D").
_QUANTITY_WORDS = {"disc", "discs", "pack", "cd", "cds", "x", "碟", "张", "片", "件", "套", "盒",
                   "部", "k", "p", "d"}
_ANY_DIGIT = re.compile(r"\d")
# A year that dates the product, not the film: "2023新款", "2019 Remastered", "4K修复 2020".
_EDITION_YEAR = re.compile(r" ?(?:年)?(?:新款|新版|款|版|edition|remaster|restor|re ?release|"
                           r"reissue|anniversary|重制|修复|纪念|复刻|upgrade|model|最新)")
_EDITION_BEFORE = re.compile(r"(?:remastered|restored|reissued?|anniversary|修复|重制|纪念版?|"
                             r"edition|updated|release[ds]?) ?$")
# A person's works: "诺兰导演作品集", "films of Christopher Nolan", "Nolan filmography".
_WORKS = re.compile(r"作品|导演|全集|合集|filmograph|works|collection|box set|"
                    r"director s|directors|(?<![a-z])\d{1,2} ?(?:部|films|movies)")
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


@dataclass(slots=True)
class Analysis:
    """What scoring found in a listing title: accepted titles, the best rejected one, context."""

    accepted: list[Candidate]
    rejected: Candidate | None
    terms: list[TermHit]          # lexicon terms outside the titles
    years: list[int]
    ranges: list[str]
    seasons: list[int]


def analyse(norm: Normalized, index: CatalogIndex, terms: list[TermHit], config: MatchConfig,
            glue: frozenset[str] = frozenset()) -> Analysis:
    text, breaks = norm.text, norm.breaks
    hits = _outermost(index.scan(text, glue))
    hits, terms = _resolve_terms(hits, terms, index)

    years: list[tuple[int, int, int]] = []
    seasons: list[int] = []
    ranges: list[str] = []
    spans: list[tuple[int, int]] = [(t.start, t.end) for t in terms]
    people = index.people.scan(text) if index.people.size else []
    people = [p for p in people if not _inside(p.start, p.end, hits)]
    spans.extend((p.start, p.end) for p in people)
    named = frozenset(i for p in people for i in (*p.person.directed, *p.person.acted))
    edition_years: set[int] = set()
    if _ANY_DIGIT.search(text) is not None:
        for m in _YEAR.finditer(text):
            if not _inside(m.start(), m.end(), hits):
                years.append((m.start(), m.end(), int(m.group(1))))
                spans.append((m.start(), m.end()))
                if _EDITION_YEAR.match(text, m.end()) or _EDITION_BEFORE.search(text, 0, m.start()):
                    edition_years.add(m.start())
        for m in _RANGE.finditer(text):
            if not _inside(m.start(), m.end(), hits):
                ranges.append(m.group(0))
                spans.append((m.start(), m.end()))
        for m in _SEASON.finditer(text):
            if not _inside(m.start(), m.end(), hits):
                seasons.append(int(next(g for g in m.groups() if g)))
                spans.append((m.start(), m.end()))
    masked = mask(text, spans)
    listing_years = [y for _, _, y in years]
    sequel_words = [t for t in terms if "sequel" in t.offers]

    candidates: list[Candidate] = []
    if hits:
        candidates = _score_hits(text, masked, norm, hits, index,
                                 [y for y in years if y[0] not in edition_years], sequel_words,
                                 named, single=len(hits) == 1 and not ranges)
    accepted = [c for c in candidates
                if not c.rejected and c.strength >= config.thresholds["min_match"]]
    collection_like = ("+" in text or bool(ranges)
                       or any("collection" in t.offers for t in terms) or len(accepted) > 1)
    if not accepted or collection_like:
        # Filler words ("the", "and", "new") split segments for exact hits, but a misspelt
        # title is looked for across them: "Save the Last Dancce".
        soft = [(t.start, t.end) for t in terms if t.offers == ("noise",)]
        loose = mask(text, [s for s in spans if s not in soft]) if soft else masked
        accepted.extend(fuzzy_matches(loose, breaks, index, config, years, accepted, candidates))
    if not accepted:
        accepted = sound_matches(text, masked, breaks, index, config, years, candidates)
    if not accepted and (collection_like or people):
        accepted = _franchise(text, index, terms, hits) if collection_like else []
        if not accepted and people and _works_cue(text, people[0]):
            accepted = _person_works(text, people, index)
    else:
        accepted = _dedupe(accepted)
    rejected = None
    if not accepted and candidates:
        rejected = max(candidates, key=lambda c: c.strength)
    for cand in accepted:
        if seasons and cand.title.kind == "series":
            cand.season = seasons[0]
    return Analysis(accepted, rejected, terms, listing_years, ranges, seasons)


# -- hits and terms -------------------------------------------------------------------------
def _outermost(hits: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Drop hits that lie inside a longer hit."""
    if len(hits) < 2:
        return hits
    hits.sort(key=lambda h: (h[0] - h[1], h[0]))
    kept: list[tuple[int, int, int]] = []
    for h in hits:
        if not any(k[0] <= h[0] and h[1] <= k[1] for k in kept):
            kept.append(h)
    kept.sort()
    return kept


def _resolve_terms(hits: list[tuple[int, int, int]], terms: list[TermHit],
                   index: CatalogIndex) -> tuple[list[tuple[int, int, int]], list[TermHit]]:
    if not hits or not terms:
        return hits, terms
    kept_terms: list[TermHit] = []
    dropped: set[tuple[int, int, int]] = set()
    for term in terms:
        overlapping = [h for h in hits if h[0] < term.end and term.start < h[1]]
        if not overlapping:
            kept_terms.append(term)
            continue
        same = [h for h in overlapping if (h[0], h[1]) == (term.start, term.end)
                and _article_less(index.keys[h[2]])]
        if same:
            # "Gift" stuffed into a listing is the word, not "The Gift" without its article.
            dropped.update(same)
            kept_terms.append(term)
            continue
        if all(term.start <= h[0] and h[1] <= term.end and (term.end - term.start) > (h[1] - h[0])
               for h in overlapping):
            dropped.update(overlapping)  # "speed cube", "office chair": the term wins
            kept_terms.append(term)
    if dropped:
        hits = [h for h in hits if h not in dropped]
    return hits, kept_terms


def _inside(start: int, end: int, hits: list[tuple[int, int, int]]) -> bool:
    return any(h[0] < end and start < h[1] for h in hits)


# -- scoring --------------------------------------------------------------------------------
def _score_hits(text: str, masked: str, norm: Normalized, hits: list[tuple[int, int, int]],
                index: CatalogIndex, years: list[tuple[int, int, int]],
                sequel_words: list[TermHit], named: frozenset[int] = frozenset(),
                single: bool = False) -> list[Candidate]:
    breaks = norm.breaks
    # "Toy Story 5" when the catalogue has "toy story 5": the number belongs to the title.
    hits = [_sequel_key(h, masked, index) for h in hits]
    segments: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    seg_of: list[tuple[int, int]] = []
    for h in hits:
        seg = segment(masked, breaks, h[0], h[1])
        seg_of.append(seg)
        segments.setdefault(seg, []).append(h)
    fits: dict[tuple[int, int], float] = {}
    for seg, seg_hits in segments.items():
        seg_text = masked[seg[0]:seg[1]].strip()
        matched = " ".join(text[h[0]:h[1]] for h in seg_hits)
        fits[seg] = fuzz.ratio(matched, seg_text) / 100.0 if seg_text else 1.0
    listing_years = [y for _, _, y in years]
    out: list[Candidate] = []
    for h, seg in zip(hits, seg_of):
        key = index.keys[h[2]]
        fit = fits[seg]
        strength = key.specificity + (1.0 - key.specificity) * fit
        title, ambiguous, year_match = choose_title(key, index, listing_years, named)
        cand = Candidate(title=title, key=key, start=h[0], end=h[1], matched=text[h[0]:h[1]],
                         strength=round(strength, 4), fit=fit, year_match=year_match,
                         ambiguous=ambiguous)
        _check_context(cand, masked, years, sequel_words, single)
        if cand.sequel_mismatch is None:
            _check_extension(cand, masked, norm, hits, seg, index)
        out.append(cand)
    return out


def _sequel_key(hit: tuple[int, int, int], masked: str, index: CatalogIndex
                ) -> tuple[int, int, int]:
    key = index.keys[hit[2]]
    if key.text[-1].isdigit():
        return hit
    end = hit[1]
    if end < len(masked) and masked[end] in _CN_DIGITS and (
            end + 1 >= len(masked) or masked[end + 1] not in _CN_DIGITS):
        # "玩具总动员二资源": a Chinese numeral glued between a title and more text.
        key_id = index.by_text.get(f"{key.text}{_CN_DIGITS[masked[end]]}")
        if key_id is not None:
            return (hit[0], end + 1, key_id)
    m = _AFTER.match(masked, hit[1])
    if m is None or m.group(3) and m.group(3).strip() in _QUANTITY_WORDS and m.group(1) != "第":
        return hit
    number = m.group(2).lstrip("0") or "0"
    end = m.end(2)
    if m.group(1) == "第" and m.group(3):
        end = m.end(3)  # "终结者第二部" is "终结者2"
    for sep in ("", " "):
        key_id = index.by_text.get(f"{key.text}{sep}{number}")
        if key_id is not None:
            return (hit[0], end, key_id)
    return hit


def _check_context(cand: Candidate, masked: str, years: list[tuple[int, int, int]],
                   sequel_words: list[TermHit], single: bool = False) -> None:
    m = _AFTER.match(masked, cand.end)
    if m is not None and not cand.key.text[-1].isdigit():
        number = int(m.group(2))
        marker = (m.group(1) or "").strip()
        unit = (m.group(3) or "").strip()
        if unit in ("季", "集", "期", "章") and not marker:
            pass  # a season or episode count, not a sequel
        elif unit in _QUANTITY_WORDS and marker != "第":
            pass  # "2碟", "3 disc": how many, not which
        elif number >= 2 and cand.title.kind == "film":
            cand.sequel_mismatch = m.group(0).strip()
    for word in sequel_words:
        if 0 <= word.start - cand.end <= 1:
            cand.sequel_mismatch = word.term  # "教父续集", "The Matrix Reloaded"
    if cand.title.kind != "film" or cand.year_match is not None or cand.title.year is None:
        return
    # A year that contradicts the title excludes it: next to the title always, anywhere in a
    # listing that names one title only ("Cinderella Disney Classic DVD 1950" is not 2015's).
    for start, end, year in years:
        near = 0 <= start - cand.end <= 2 or 0 <= cand.start - end <= 2
        if (near or single) and abs(year - cand.title.year) > 1:
            cand.year_mismatch = year
            return


def _check_extension(cand: Candidate, masked: str, norm: Normalized,
                     hits: list[tuple[int, int, int]], seg: tuple[int, int],
                     index: CatalogIndex) -> None:
    """More name glued to the title, or after its colon, makes another title."""
    key = cand.key
    n = len(masked)
    if key.cjk:
        # Chinese has no spaces: characters glued on make a longer, other title.
        j = cand.end
        while j < n and j not in norm.breaks and CJK_CHAR.match(masked[j]):
            if any(h[0] <= j < h[1] for h in hits):
                break
            j += 1
        i = cand.start
        while i > 0 and i not in norm.breaks and CJK_CHAR.match(masked[i - 1]):
            if any(h[0] <= i - 1 < h[1] for h in hits):
                break
            i -= 1
        if j - cand.end >= (1 if key.short else 2) or (key.short and cand.start - i >= 2):
            cand.extended = masked[i:j]
            return
    elif key.short:
        # "Speed Racer", "Ghost Rider", "Planet of the Apes": a one-word title as the first word
        # of a longer name. (A word before it is more often a studio or director: "Pixar
        # Cars"; but "Boom Town" is not "The Town" without its article.)
        after = masked[cand.end:seg[1]].split()
        word = after[0] if after else ""
        if word and word.isalpha() and (len(word) >= 3 or word in STOPWORDS) \
                and not _in_hit(masked, hits, cand, 1):
            cand.extended = f"{cand.matched} {word}"
            return
        before = masked[seg[0]:cand.start].split()
        word = before[-1] if before else ""
        if word and word.isalpha() and len(word) >= 3 and _article_less(key) \
                and not _in_hit(masked, hits, cand, -1):
            cand.extended = f"{word} {cand.matched}"
            return
    colon = cand.end if cand.end in norm.colons else cand.end + 1
    if colon in norm.colons:
        stop = segment(masked, norm.breaks, colon, colon + 1)[1] if colon < n else colon
        rest = masked[colon:stop]
        if any(h[0] >= colon and h[0] < stop for h in hits):
            return
        own = index.title_keys[cand.title.idx]
        compact = rest.replace(" ", "").replace("|", "")
        if compact and any(compact in k.replace(" ", "") for k in own):
            return  # its own subtitle: "终结者第二部：末日审判"
        letters = len(CJK_CHAR.findall(rest)) + sum(len(w) for w in rest.split()
                                                 if w.isalpha() and w.isascii() and len(w) >= 3)
        if letters >= 2:
            cand.extended = f"{cand.matched}: {rest.strip()}"


def _article_less(key: Key) -> bool:
    """A one-word key made by dropping the title's article ("gift" of "The Gift")."""
    return " " not in key.text and key.source.lower().startswith(("the ", "a ", "an "))


def _in_hit(masked: str, hits: list[tuple[int, int, int]], cand: Candidate, side: int) -> bool:
    """Is the word next to the candidate (side -1 before, +1 after) part of another hit?"""
    if side < 0:
        pos = cand.start - 2
    else:
        pos = cand.end + 1
    return any(h[0] <= pos < h[1] for h in hits)


def _dedupe(cands: list[Candidate]) -> list[Candidate]:
    """One candidate per title (the strongest); of overlapping hits, the stronger one."""
    if len(cands) < 2:
        return cands
    best: dict[int, Candidate] = {}
    for c in sorted(cands, key=lambda c: -c.strength):
        if c.title.idx in best:
            continue
        if any(o.start < c.end and c.start < o.end for o in best.values()):
            continue
        best[c.title.idx] = c
    return sorted(best.values(), key=lambda c: c.start)


def _works_cue(text: str, hit: PersonHit) -> bool:
    """A listing of a person's works says so; a family name alone must say so next to it."""
    if hit.full:
        return _WORKS.search(text) is not None
    return _WORKS.search(text[hit.end:hit.end + 14]) is not None


def _person_works(text: str, people: list[PersonHit], index: CatalogIndex) -> list[Candidate]:
    """Every member work of the person a collection is named by (directed first, else cast)."""
    hit = people[0]
    person = hit.person
    role = "director" if person.directed else "cast"
    idxs = person.directed or person.acted
    titles = sorted((index.titles[i] for i in idxs), key=lambda t: (t.year or 0, t.idx))
    key = Key(text=text[hit.start:hit.end], titles=[t.idx for t in titles], source=person.name,
              derived=True, derived_for=frozenset(idxs), specificity=0.8, short=False,
              left_word=False, right_word=False, cjk=False)
    how = f'person: "{key.text}" = {person.name} ({role} of {len(titles)} catalogue titles)'
    return [Candidate(title=t, key=key, start=hit.start + n, end=hit.end, matched=key.text,
                      strength=0.8, fit=1.0, how=how) for n, t in enumerate(titles)]


def _franchise(text: str, index: CatalogIndex, terms: list[TermHit],
               hits: list[tuple[int, int, int]]) -> list[Candidate]:
    """"哈利·波特 系列 合集", "Harry Potter Complete Collection": every member title of it."""
    for start, end, franchise in index.scan_franchises(text):
        if any(t.start < end and start < t.end for t in terms):
            continue
        titles = [index.titles[i] for i in franchise.titles]
        titles.sort(key=lambda t: (t.year or 0, t.idx))
        return [Candidate(title=t, key=franchise, start=start + n, end=end, matched=text[start:end],
                          strength=franchise.specificity, fit=1.0)
                for n, t in enumerate(titles)]
    return []
