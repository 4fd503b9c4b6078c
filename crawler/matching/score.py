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
   the listing's year, else the newest wins and the others are named; a collection keeps
   every title it names.
5. Only when nothing matched exactly, segments are looked up fuzzily (n-gram candidates from
   the index, rapidfuzz similarity) to catch misspellings: Latin titles against runs of whole
   words only (filler words like "the" do not cut a run), with one typing slip allowed in a
   title of 8+ letters; a title rejected exactly (another sequel or year) is never found
   again as a typo.

Settings: ``thresholds.min_match``, ``thresholds.fuzzy_latin``, ``thresholds.fuzzy_cjk`` and
``ambiguous_prefer`` of the matching configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from crawler.matching.config import MatchConfig
from crawler.matching.index import STOPWORDS, CatalogIndex, Key, Title
from crawler.matching.normalize import CJK_CLASS, Normalized
from crawler.matching.offer import TermHit

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
_CJK = re.compile(f"[{CJK_CLASS}]")
_CJK_RUNS = re.compile(f"[{CJK_CLASS}]+|[a-z0-9]+")
_DIGITS = re.compile(r"\d+")
_ANY_DIGIT = re.compile(r"\d")
_BOUNDARY = frozenset("|+~")
_WORDS = re.compile(r"[^ |+~]+")
LONG_WORD = 8  # letters: a title this long may be matched with one typing slip
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


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

    @property
    def rejected(self) -> bool:
        return (self.year_mismatch is not None or self.sequel_mismatch is not None
                or self.extended is not None)


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
    hits, terms = _resolve_terms(hits, terms)

    years: list[tuple[int, int, int]] = []
    seasons: list[int] = []
    ranges: list[str] = []
    spans: list[tuple[int, int]] = [(t.start, t.end) for t in terms]
    if _ANY_DIGIT.search(text) is not None:
        for m in _YEAR.finditer(text):
            if not _inside(m.start(), m.end(), hits):
                years.append((m.start(), m.end(), int(m.group(1))))
                spans.append((m.start(), m.end()))
        for m in _RANGE.finditer(text):
            if not _inside(m.start(), m.end(), hits):
                ranges.append(m.group(0))
                spans.append((m.start(), m.end()))
        for m in _SEASON.finditer(text):
            if not _inside(m.start(), m.end(), hits):
                seasons.append(int(next(g for g in m.groups() if g)))
                spans.append((m.start(), m.end()))
    masked = _mask(text, spans)
    listing_years = [y for _, _, y in years]
    sequel_words = [t for t in terms if "sequel" in t.offers]

    candidates: list[Candidate] = []
    if hits:
        candidates = _score_hits(text, masked, norm, hits, index, years, sequel_words)
    accepted = [c for c in candidates
                if not c.rejected and c.strength >= config.thresholds["min_match"]]
    collection_like = ("+" in text or bool(ranges)
                       or any("collection" in t.offers for t in terms) or len(accepted) > 1)
    if not accepted or collection_like:
        # Filler words ("the", "and", "new") split segments for exact hits, but a misspelt
        # title is looked for across them: "Save the Last Dancce".
        soft = [(t.start, t.end) for t in terms if t.offers == ("noise",)]
        loose = _mask(text, [s for s in spans if s not in soft]) if soft else masked
        accepted.extend(_fuzzy(loose, breaks, index, config, years, accepted, candidates))
    if not accepted and collection_like:
        accepted = _franchise(text, index, terms, hits)
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


def _resolve_terms(hits: list[tuple[int, int, int]], terms: list[TermHit]
                   ) -> tuple[list[tuple[int, int, int]], list[TermHit]]:
    if not hits or not terms:
        return hits, terms
    kept_terms: list[TermHit] = []
    dropped: set[tuple[int, int, int]] = set()
    for term in terms:
        overlapping = [h for h in hits if h[0] < term.end and term.start < h[1]]
        if not overlapping:
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


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    chars = list(text)
    for s, e in spans:
        for i in range(s, e):
            chars[i] = "|"
    return "".join(chars)


def _segment(masked: str, breaks: frozenset[int], start: int, end: int) -> tuple[int, int]:
    """The stretch of title text around [start, end) up to the nearest boundary."""
    i = start
    while i > 0:
        c = masked[i - 1]
        if c in _BOUNDARY or i in breaks:
            break
        if c == " " and (i < 2 or _CJK.match(masked[i - 2]) or _CJK.match(masked[i])):
            break
        i -= 1
    j = end
    n = len(masked)
    while j < n:
        c = masked[j]
        if c in _BOUNDARY or j in breaks:
            break
        if c == " " and (j + 1 >= n or _CJK.match(masked[j + 1]) or _CJK.match(masked[j - 1])):
            break
        j += 1
    return i, j


# -- scoring --------------------------------------------------------------------------------
def _score_hits(text: str, masked: str, norm: Normalized, hits: list[tuple[int, int, int]],
                index: CatalogIndex, years: list[tuple[int, int, int]],
                sequel_words: list[TermHit]) -> list[Candidate]:
    breaks = norm.breaks
    # "Toy Story 5" when the catalogue has "toy story 5": the number belongs to the title.
    hits = [_sequel_key(h, masked, index) for h in hits]
    segments: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    seg_of: list[tuple[int, int]] = []
    for h in hits:
        seg = _segment(masked, breaks, h[0], h[1])
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
        title, ambiguous, year_match = _choose_title(key, index, listing_years)
        cand = Candidate(title=title, key=key, start=h[0], end=h[1], matched=text[h[0]:h[1]],
                         strength=round(strength, 4), fit=fit, year_match=year_match,
                         ambiguous=ambiguous)
        _check_context(cand, masked, years, sequel_words)
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


def _choose_title(key: Key, index: CatalogIndex, years: list[int]
                  ) -> tuple[Title, list[str], int | None]:
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


def _check_context(cand: Candidate, masked: str, years: list[tuple[int, int, int]],
                   sequel_words: list[TermHit]) -> None:
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
    for start, end, year in years:
        near = 0 <= start - cand.end <= 2 or 0 <= cand.start - end <= 2
        if near and abs(year - cand.title.year) > 1:
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
        while j < n and j not in norm.breaks and _CJK.match(masked[j]):
            if any(h[0] <= j < h[1] for h in hits):
                break
            j += 1
        i = cand.start
        while i > 0 and i not in norm.breaks and _CJK.match(masked[i - 1]):
            if any(h[0] <= i - 1 < h[1] for h in hits):
                break
            i -= 1
        if j - cand.end >= (1 if key.short else 2) or (key.short and cand.start - i >= 2):
            cand.extended = masked[i:j]
            return
    elif key.short:
        # "Speed Racer", "Ghost Rider": a one-word title as the first word of a longer name.
        # (A word before it is more often a studio or director: "Pixar Cars".)
        after = masked[cand.end:seg[1]].split()
        word = after[0] if after else ""
        if word and word.isalpha() and len(word) >= 3 and not _in_hit(masked, hits, cand, 1):
            cand.extended = f"{cand.matched} {word}"
            return
    colon = cand.end if cand.end in norm.colons else cand.end + 1
    if colon in norm.colons:
        stop = _segment(masked, norm.breaks, colon, colon + 1)[1] if colon < n else colon
        rest = masked[colon:stop]
        if any(h[0] >= colon and h[0] < stop for h in hits):
            return
        own = index.title_keys[cand.title.idx]
        compact = rest.replace(" ", "").replace("|", "")
        if compact and any(compact in k.replace(" ", "") for k in own):
            return  # its own subtitle: "终结者第二部：末日审判"
        letters = len(_CJK.findall(rest)) + sum(len(w) for w in rest.split()
                                                 if w.isalpha() and w.isascii() and len(w) >= 3)
        if letters >= 2:
            cand.extended = f"{cand.matched}: {rest.strip()}"


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


# -- fuzzy ----------------------------------------------------------------------------------
def _fuzzy(masked: str, breaks: frozenset[int], index: CatalogIndex, config: MatchConfig,
           years: list[tuple[int, int, int]], accepted: list[Candidate],
           candidates: list[Candidate]) -> list[Candidate]:
    """Misspelt or oddly spaced titles in the segments no exact hit explains."""
    out: list[Candidate] = []
    listing_years = [y for _, _, y in years]
    taken = [(c.start, c.end) for c in accepted]
    for seg_start, seg_end in _content_segments(masked, breaks):
        if any(s < seg_end and seg_start < e for s, e in taken):
            continue
        seg = masked[seg_start:seg_end].strip()
        cjk = bool(_CJK.search(seg))
        if not cjk:
            found = _compact(seg, seg_start, masked, index, listing_years)
            if found is not None:
                out.append(found)
                continue
        if len(seg) < (4 if cjk else 6):
            continue
        probe = seg if cjk else _strip_stopwords(seg)
        # A title found exactly here and rejected (another sequel, another year) is no typo.
        refused = {c.title.idx for c in candidates
                   if (c.sequel_mismatch is not None or c.year_mismatch is not None)
                   and c.start < seg_end and seg_start < c.end}
        best: tuple[float, int, int, int] | None = None
        for key_id in index.candidates(probe):
            key = index.keys[key_id]
            if refused and not refused.isdisjoint(key.titles):
                continue
            if not _numbers_agree(key.text, probe):
                continue  # a different sequel number is a different film, however close
            # One long word ("Unbreakable") may still be misspelt; short ones may not.
            if (key.short or key.specificity < 0.75) and (
                key.cjk or " " in key.text or len(key.text) < LONG_WORD
            ):
                continue
            if key.text in seg:
                continue  # found exactly (and rejected, or it would be taken): not a typo
            if key.cjk:
                target = key.text
                sim = fuzz.ratio(target, probe)
                if len(probe) > len(target):
                    sim = max(sim, fuzz.partial_ratio(target, probe))
                span = (seg_start, seg_end)
            else:
                window = _word_window(key.text, masked, seg_start, seg_end)
                if window is None:
                    continue
                sim, span = window
            need = config.thresholds["fuzzy_cjk" if key.cjk else "fuzzy_latin"]
            if sim >= need and (best is None or sim > best[0]):
                best = (sim, key_id, span[0], span[1])
        if best is None:
            continue
        sim, key_id, start, end = best
        key = index.keys[key_id]
        fit = min(1.0, len(key.text) / max(len(seg), 1))
        strength = (key.specificity + (1 - key.specificity) * fit) * sim / 100.0
        if strength < config.thresholds["min_match"]:
            continue
        title, ambiguous, year_match = _choose_title(key, index, listing_years)
        out.append(Candidate(title=title, key=key, start=start, end=end,
                             matched=masked[start:end], strength=round(strength, 4), fit=fit,
                             fuzzy=round(sim, 1),
                             year_match=year_match, ambiguous=ambiguous))
    return out


def _word_window(target: str, masked: str, seg_start: int, seg_end: int
                 ) -> tuple[float, tuple[int, int]] | None:
    """The best similarity of a Latin title to a run of whole words of the segment, and where.

    Whole words only, so a title never matches inside a longer word ("wood" in "hollywood"),
    and words around the title (search keywords, seller filler) do not dilute it. A title of
    at least ``LONG_WORD`` letters one typing slip away (a letter dropped, doubled, replaced or
    two swapped: optimal string alignment distance 1) counts as 95 whatever its length.
    """
    words = [m.span() for m in _WORDS.finditer(masked, seg_start, seg_end)]
    size = target.count(" ") + 1
    bare = _strip_stopwords(target)
    least = bare.count(" ") + 1 if bare else size
    best: tuple[float, tuple[int, int]] | None = None
    long_title = len(target.replace(" ", "")) >= LONG_WORD
    for width in range(max(1, least - 1), min(size + 1, len(words)) + 1):
        for i in range(len(words) - width + 1):
            start, end = words[i][0], words[i + width - 1][1]
            probe = masked[start:end]
            if not _numbers_agree(target, probe):
                continue  # a different sequel number is a different film, however close
            sim = fuzz.ratio(target, probe)
            if bare != target and sim < 100:  # "Harry Potter Goblet of Fire"
                sim = max(sim, fuzz.ratio(bare, _strip_stopwords(probe)))
            if long_title and sim < 95 and OSA.distance(target, probe, score_cutoff=1) <= 1:
                sim = 95.0
            if best is None or sim > best[0]:
                best = (sim, (start, end))
    return best


def _compact(seg: str, seg_start: int, masked: str, index: CatalogIndex,
             years: list[int]) -> Candidate | None:
    """"Brave Heart" for "Braveheart": adjacent words that spell a title when joined."""
    words = seg.split()
    if not index.compact:
        return None
    for size in (1, 2, 3):
        for i in range(len(words) - size + 1):
            joined = "".join(words[i:i + size])
            if size == 1 and len(joined) < LONG_WORD:
                continue
            key_id = index.compact.get(joined)
            if key_id is None:
                continue
            key = index.keys[key_id]
            phrase = " ".join(words[i:i + size])
            if phrase == key.text:
                continue  # written as in the catalogue: the exact scan had its say
            start = masked.find(phrase, seg_start)
            fit = fuzz.ratio(phrase, seg) / 100.0
            strength = (key.specificity + (1 - key.specificity) * fit) * 0.95
            title, ambiguous, year_match = _choose_title(key, index, years)
            return Candidate(title=title, key=key, start=start, end=start + len(phrase),
                             matched=phrase, strength=round(strength, 4), fit=fit,
                             fuzzy=95.0, year_match=year_match, ambiguous=ambiguous)
    return None


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


def _content_segments(masked: str, breaks: frozenset[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    n = len(masked)
    i = 0
    while i < n:
        while i < n and (masked[i] in _BOUNDARY or masked[i] == " "):
            i += 1
        if i >= n:
            break
        s, e = _segment(masked, breaks, i, i + 1)
        out.append((s, e))
        i = max(e, i + 1)
    return out


def _strip_stopwords(text: str) -> str:
    return " ".join(w for w in text.split() if w not in STOPWORDS)


def _numbers_agree(target: str, probe: str) -> bool:
    wanted = set(_DIGITS.findall(target))
    found = set(_DIGITS.findall(probe))
    return wanted <= found and {d for d in found if len(d) <= 2} <= wanted
