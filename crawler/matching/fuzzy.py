"""Step 5 of scoring: misspelt or oddly spaced titles, looked up fuzzily.

Only when nothing matched exactly (or the listing looks like a collection),
:mod:`crawler.matching.score` hands the segments no exact hit explains to :func:`fuzzy_matches`:
n-gram candidates from the index, rapidfuzz similarity, to catch misspellings. Latin titles are
compared with runs of whole words only (filler words like "the" do not cut a run), with one
typing slip allowed in a title of ``LONG_WORD``+ letters; adjacent words that spell a title when
joined ("Brave Heart") count too. A title rejected exactly (another sequel or year) is never
found again as a typo, nor is a title with other sequel numbers.

Settings: ``thresholds.min_match``, ``thresholds.fuzzy_latin`` and ``thresholds.fuzzy_cjk`` of
the matching configuration.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from crawler.matching.candidate import Candidate, choose_title
from crawler.matching.config import MatchConfig
from crawler.matching.index import STOPWORDS, CatalogIndex
from crawler.matching.segments import BOUNDARY, CJK_CHAR, segment

_DIGITS = re.compile(r"\d+")
_WORDS = re.compile(r"[^ |+~]+")
LONG_WORD = 8  # letters: a title this long may be matched with one typing slip


def fuzzy_matches(masked: str, breaks: frozenset[int], index: CatalogIndex, config: MatchConfig,
                  years: list[tuple[int, int, int]], accepted: list[Candidate],
                  candidates: list[Candidate]) -> list[Candidate]:
    """Misspelt or oddly spaced titles in the segments no exact hit explains."""
    out: list[Candidate] = []
    listing_years = [y for _, _, y in years]
    taken = [(c.start, c.end) for c in accepted]
    # A segment that was a catalogue title exactly, of another year or sequel, is that film:
    # not a typo of a third ("Dawn of the Dead (1979)" is not "Day of the Dead").
    other_film = [(c.start, c.end) for c in candidates
                  if c.sequel_mismatch is not None or c.year_mismatch is not None]
    for seg_start, seg_end in _content_segments(masked, breaks):
        if any(s < seg_end and seg_start < e for s, e in taken + other_film):
            continue
        seg = masked[seg_start:seg_end].strip()
        cjk = bool(CJK_CHAR.search(seg))
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
        title, ambiguous, year_match = choose_title(key, index, listing_years)
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
            # "Harry Potter Goblet of Fire"; but "The One" is not any "one".
            if bare != target and sim < 100 and " " in bare:
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
            title, ambiguous, year_match = choose_title(key, index, years)
            return Candidate(title=title, key=key, start=start, end=start + len(phrase),
                             matched=phrase, strength=round(strength, 4), fit=fit,
                             fuzzy=95.0, year_match=year_match, ambiguous=ambiguous)
    return None


def _content_segments(masked: str, breaks: frozenset[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    n = len(masked)
    i = 0
    while i < n:
        while i < n and (masked[i] in BOUNDARY or masked[i] == " "):
            i += 1
        if i >= n:
            break
        s, e = segment(masked, breaks, i, i + 1)
        out.append((s, e))
        i = max(e, i + 1)
    return out


def _strip_stopwords(text: str) -> str:
    return " ".join(w for w in text.split() if w not in STOPWORDS)


def _numbers_agree(target: str, probe: str) -> bool:
    wanted = set(_DIGITS.findall(target))
    found = set(_DIGITS.findall(probe))
    return wanted <= found and {d for d in found if len(d) <= 2} <= wanted


def sound_matches(text: str, masked: str, breaks: frozenset[int], index: CatalogIndex,
                  config: MatchConfig, years: list[tuple[int, int, int]],
                  candidates: list[Candidate]) -> list[Candidate]:
    """Chinese titles written with same-sounding characters or partly in pinyin (step 6: only
    when nothing else matched): :class:`crawler.matching.pinyin.PinyinIndex`."""
    if not CJK_CHAR.search(text) and not _PINYINISH.search(text):
        return []
    # Another sequel or another year is another film; a character glued on ("甘地钏") may be
    # the homophone itself.
    refused = {c.title.idx for c in candidates
               if c.sequel_mismatch is not None or c.year_mismatch is not None}
    listing_years = [y for _, _, y in years]
    out: list[Candidate] = []
    for start, end, key_id, reading in index.pinyin.scan(text):
        key = index.keys[key_id]
        if set(masked[start:end]) <= {"|", " "} or not refused.isdisjoint(key.titles):
            continue
        written = text[start:end]
        if written.replace(" ", "") == key.text:
            continue  # written as in the catalogue: the exact pass had its say
        seg = segment(masked, breaks, start, end)
        fit = min(1.0, (end - start) / max(len(masked[seg[0]:seg[1]].strip()), 1))
        strength = (key.specificity + (1 - key.specificity) * fit) * 0.9
        if strength < config.thresholds["min_match"]:
            continue
        title, ambiguous, year_match = choose_title(key, index, listing_years)
        out.append(Candidate(title=title, key=key, start=start, end=end, matched=written,
                             strength=round(strength, 4), fit=fit, year_match=year_match,
                             ambiguous=ambiguous,
                             how=f'pinyin: "{written}" -> "{reading}" = "{key.text}"'))
    return out


# A Latin word that could be pinyin: syllables of initial + final only.
_PINYINISH = re.compile(
    r"(?<![a-z])(?:(?:[bpmfdtnlgkhjqxrzcsyw]|zh|ch|sh)?(?:iang|iong|uang|ang|eng|ing|ong|ian|iao"
    r"|uai|uan|ai|ei|ao|ou|an|en|er|in|un|ia|ie|iu|ua|uo|ui|ve|a|o|e|i|u|v)){2,}(?![a-z])"
)
