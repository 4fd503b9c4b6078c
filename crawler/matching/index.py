"""The catalogue index: every title and alias as normalised keys, searchable in one pass.

Built once per catalogue (:meth:`CatalogIndex.build`): each entry's title and aliases are
normalised (:mod:`crawler.matching.normalize`) into keys, with derived variants a listing is
likely to use: without a leading article ("Sound of Music"), hyphens joined ("spiderman"),
the numbered head of a subtitled sequel ("Speed 2" from "Speed II: Cruise Control", "指环王3"
from "指环王3：王者无敌") and a long subtitle alone ("Return of the King"). All keys go into one
Aho-Corasick automaton (pyahocorasick), so finding every catalogue title in a listing costs
one scan of the listing text whatever the catalogue size; no per-title loop.

For misspelt titles the index also keeps n-gram postings (Chinese character bigrams, Latin
word trigrams) over the longer keys; :mod:`crawler.matching.score` asks them for a handful of
candidates only when the automaton found nothing, and scores those with rapidfuzz.

Settings: ``everyday_titles`` of the lexicon (:mod:`crawler.matching.config`).
"""

from __future__ import annotations

import datetime as dt
import re
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ahocorasick

from crawler.catalog.importer import CatalogEntry
from crawler.matching.normalize import CJK_CLASS, normalize_text
from crawler.matching.people import PeopleIndex
from crawler.matching.pinyin import PinyinIndex

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_CJK_CHARS = re.compile(f"[{CJK_CLASS}]")
_LATIN_TOKENS = re.compile(r"[a-z0-9]+")
_ARTICLES = ("the ", "a ", "an ")
_NO_TITLES: frozenset[int] = frozenset()
_GLUED_YEAR = re.compile(r"(?:18|19|20)\d\d")
_COLON = re.compile(r"\s*[:：]\s*|\s+-\s+|\s*—\s*")
_TRAILING_YEAR = re.compile(r"\s*[\(（\[]\s*(?:18|19|20)\d\d\s*[\)）\]]\s*$")
_NUMBERED_HEAD = re.compile(r"([a-z][a-z0-9 ]*[a-z]) ([1-9][0-9]?)")
STOPWORDS = frozenset({"the", "a", "an", "of", "and", "in", "on", "to", "for", "at", "by",
                       "with", "from", "part", "movie", "film"})
# n-gram postings longer than this are too common to find a candidate with (like "the").
MAX_POSTING = 100
FUZZY_MIN_KEY = 5  # characters: shorter keys are not searched fuzzily


@dataclass(slots=True)
class Title:
    """One catalogue entry, as the matcher needs it."""

    idx: int
    id: str
    member: str
    title: str
    year: int | None
    kind: str
    release_date: dt.date | None
    home_release_date: dt.date | None


@dataclass(slots=True)
class Key:
    """A normalised title/alias form and the catalogue titles that carry it."""

    text: str
    titles: list[int]
    source: str          # the catalogue text it came from (first one)
    derived: bool        # a variant we made, not written in the catalogue (for any title)
    derived_for: frozenset[int]  # titles it is only a variant of ("Mighty Ducks" of "D3: ...")
    specificity: float   # 0..1: how much a bare hit on this key says by itself
    short: bool          # an everyday word or a very short title: needs corroboration
    left_word: bool      # starts with a Latin letter/digit: needs a word boundary
    right_word: bool
    cjk: bool            # mostly Chinese


def specificity(text: str) -> float:
    """How telling a key is on its own: long multi-word titles high, short words low."""
    cjk = len(_CJK_CHARS.findall(text))
    tokens = _LATIN_TOKENS.findall(text)
    if cjk and not tokens:
        return {1: 0.3, 2: 0.45, 3: 0.6, 4: 0.8, 5: 0.88}.get(cjk, 0.93)
    if not cjk:
        if len(tokens) == 1:
            return 0.5 if len(tokens[0]) <= 5 else 0.6
        return {2: 0.75, 3: 0.88}.get(len(tokens), 0.95)
    weight = cjk + 2 * len(tokens)
    return 0.6 if weight <= 3 else 0.8 if weight <= 4 else 0.9


def _variants(raw: str) -> list[tuple[str, bool]]:
    """(normalised key, derived?) for one catalogue title or alias."""
    out: list[tuple[str, bool]] = []
    raw = _TRAILING_YEAR.sub("", raw)
    base = normalize_text(raw)
    if not base:
        return out
    out.append((base, False))
    lowered = raw.lower()
    if re.search(r"[a-z]-[a-z]", lowered):
        out.append((normalize_text(re.sub(r"(?<=[a-z])-(?=[a-z])", "", lowered)), True))
    parts = _COLON.split(raw, maxsplit=1)
    if len(parts) == 2:
        head, tail = normalize_text(parts[0]), normalize_text(parts[1])
        # "Speed II: Cruise Control" is sold as "Speed 2"; an unnumbered head ("Batman:") is
        # shared by a whole franchise and says too little.
        if head and head[-1].isdigit() and len(head) >= 3:
            out.append((head, True))
        if tail and specificity(tail) >= 0.85:
            out.append((tail, True))
    if "'" in raw or "\u2019" in raw:  # "Sorcerer.s.Stone": the apostrophe became a dot
        out.append((normalize_text(raw.replace("'", " ").replace("\u2019", " ")), True))
    if "+" in base:  # "Face/Off" is also written "Face Off"
        out.append((base.replace("+", " "), True))
    for text, derived in list(out):
        # "Halloween 3" is also sold as "Halloween Part 3" (and "Part III", "Part Three").
        m = _NUMBERED_HEAD.fullmatch(text)
        if m is not None and not m.group(1).endswith(" part"):
            out.append((f"{m.group(1)} part {m.group(2)}", True))
    for text, derived in list(out):
        for article in _ARTICLES:
            if text.startswith(article) and len(text) > len(article) + 2:
                out.append((text[len(article):], derived))
    return out


class CatalogIndex:
    """All keys of a catalogue in one Aho-Corasick automaton, plus fuzzy n-gram postings."""

    def __init__(self, titles: list[Title], keys: list[Key],
                 franchises: list[Key] | None = None) -> None:
        self.titles = titles
        self.keys = keys
        self.by_text = {key.text: key_id for key_id, key in enumerate(keys)}
        self.automaton = ahocorasick.Automaton()
        for key_id, key in enumerate(keys):
            self.automaton.add_word(key.text, key_id)
        if keys:
            self.automaton.make_automaton()
        # Latin titles written with their words run together or split ("Brave Heart").
        self.compact: dict[str, int] = {}
        for key_id, key in enumerate(keys):
            if not key.cjk and key.specificity >= 0.5:
                self.compact.setdefault(key.text.replace(" ", ""), key_id)
        # Franchise names ("harry potter", "哈利波特", "终结者") shared by numbered or subtitled
        # titles: a collection listing may name only the franchise.
        self.franchises = franchises or []
        self._franchise_automaton = ahocorasick.Automaton()
        for fid, key in enumerate(self.franchises):
            self._franchise_automaton.add_word(key.text, fid)
        if self.franchises:
            self._franchise_automaton.make_automaton()
        self._postings: dict[str, array] | None = None
        self._gram_counts: array | None = None
        self._pinyin: PinyinIndex | None = None
        self.people = PeopleIndex(())
        self.title_keys: list[set[str]] = [set() for _ in titles]
        # Latin words of the catalogue (leetspeak is only undone when it spells one of them)
        # and the catalogue's own spellings of words with digits ("se7en"), left alone.
        self.vocabulary: frozenset[str] = frozenset(
            w for key in keys for w in key.text.split() if w.isalpha() and w.isascii())
        self.written: frozenset[str] = frozenset(
            w for key in keys for w in re.findall(r"[a-z0-9@$]+", key.source.lower())
            if not w.isalpha() and not w.isdigit())

    @property
    def pinyin(self) -> PinyinIndex:
        """Chinese keys by sound, built on first use (only listings nothing else matched)."""
        if self._pinyin is None:
            self._pinyin = PinyinIndex((i, k.text) for i, k in enumerate(self.keys)
                                       if k.cjk and not k.derived)
        return self._pinyin

    def scan_franchises(self, text: str) -> list[tuple[int, int, Key]]:
        out: list[tuple[int, int, Key]] = []
        if not self.franchises:
            return out
        n = len(text)
        for end, fid in self._franchise_automaton.iter(text):
            key = self.franchises[fid]
            start = end - len(key.text) + 1
            if key.left_word and start > 0 and text[start - 1] in _ALNUM:
                continue
            if key.right_word and end + 1 < n and text[end + 1] in _ALNUM:
                continue
            out.append((start, end + 1, key))
        out.sort(key=lambda f: f[0] - f[1])
        return out

    @classmethod
    def build(cls, entries: Sequence[CatalogEntry], everyday: Iterable[str] = ()) -> CatalogIndex:
        everyday_keys = set()
        for word in everyday:
            text = normalize_text(word)
            everyday_keys.add(text)
            for article in _ARTICLES:
                if text.startswith(article):
                    everyday_keys.add(text[len(article):])
        titles: list[Title] = []
        keys: list[Key] = []
        by_text: dict[str, int] = {}
        franchise_titles: dict[str, set[int]] = {}
        for entry in entries:
            title = Title(len(titles), entry.id, entry.member, entry.title, entry.year,
                          entry.kind, entry.release_date, entry.home_release_date)
            titles.append(title)
            seen: set[str] = set()
            for raw in (entry.title, *entry.aliases):
                for text, derived in _variants(raw):
                    if text in seen or not _usable(text):
                        continue
                    seen.add(text)
                    key_id = by_text.get(text)
                    if key_id is not None:
                        key = keys[key_id]
                        key.titles.append(title.idx)
                        if derived:
                            key.derived_for = key.derived_for | {title.idx}
                        if key.derived and not derived:
                            key.derived = False
                            key.source = raw
                        continue
                    by_text[text] = len(keys)
                    keys.append(_make_key(text, title.idx, raw, derived, everyday_keys))
            for raw in (entry.title, *entry.aliases):
                name = franchise_name(raw)
                if name:
                    franchise_titles.setdefault(name, set()).add(title.idx)
            for names in entry.franchise:  # the catalogue's own franchise column
                for raw in names:
                    name = normalize_text(raw)
                    if name and _usable(name):
                        franchise_titles.setdefault(name, set()).add(title.idx)
        title_keys: list[set[str]] = [set() for _ in titles]
        for key in keys:
            for idx in key.titles:
                title_keys[idx].add(key.text)
        franchises = [
            Key(text=name, titles=sorted(idxs), source=name, derived=True,
                derived_for=frozenset(idxs),
                specificity=0.8, short=False, left_word=name[0] in _ALNUM,
                right_word=name[-1] in _ALNUM, cjk=bool(_CJK_CHARS.search(name)))
            for name, idxs in franchise_titles.items()
        ]
        index = cls(titles, keys, franchises)
        index.title_keys = title_keys
        index.people = PeopleIndex(entries)
        return index

    # -- exact ------------------------------------------------------------------------------
    def scan(self, text: str, glue: frozenset[str] = frozenset()) -> list[tuple[int, int, int]]:
        """(start, end, key id) of every key found in ``text`` on word boundaries.

        A format word glued to a title ("bd50102 dalmatians", "ghost1990") still leaves a
        boundary: ``glue`` holds the Latin terms and the check accepts them (and years).
        """
        out: list[tuple[int, int, int]] = []
        if not self.keys:
            return out
        n = len(text)
        keys = self.keys
        for end, key_id in self.automaton.iter(text):
            key = keys[key_id]
            start = end - len(key.text) + 1
            if key.left_word and start > 0 and text[start - 1] in _ALNUM:
                i = start - 1
                while i > 0 and text[i - 1] in _ALNUM:
                    i -= 1
                head = text[i:start]
                if head not in glue:
                    # "bd50102真狗" was split into "bd 50102真狗": try "bd 50" too.
                    j = i - 1
                    while j > 0 and text[j - 1] in _ALNUM:
                        j -= 1
                    if not (head.isdigit() and i >= 2 and text[i - 1] == " "
                            and text[j:start] in glue):
                        continue
            if key.right_word and end + 1 < n and text[end + 1] in _ALNUM:
                j = end + 1
                while j < n and text[j] in _ALNUM:
                    j += 1
                tail = text[end + 1:j]
                if tail not in glue and not _GLUED_YEAR.fullmatch(tail):
                    continue
            out.append((start, end + 1, key_id))
        return out

    # -- fuzzy ------------------------------------------------------------------------------
    def _build_postings(self) -> None:
        lists: dict[str, list[int]] = {}
        counts = array("H")
        for key_id, key in enumerate(self.keys):
            grams = set(grams_of(key.text)) if len(key.text) >= FUZZY_MIN_KEY else set()
            counts.append(min(len(grams), 65535))
            for gram in grams:
                lists.setdefault(gram, []).append(key_id)
        self._postings = {g: array("I", ids) for g, ids in lists.items() if len(ids) <= MAX_POSTING}
        self._gram_counts = counts

    def candidates(self, segment: str, limit: int = 6) -> list[int]:
        """Key ids sharing the most rare n-grams with ``segment`` (at least half their own)."""
        if self._postings is None:
            self._build_postings()
        postings = self._postings
        counts = self._gram_counts
        assert postings is not None and counts is not None
        tally: dict[int, int] = {}
        for gram in set(grams_of(segment)):
            ids = postings.get(gram)
            if ids is None:
                continue
            for key_id in ids:
                tally[key_id] = tally.get(key_id, 0) + 1
        if not tally:
            return []
        ranked = sorted(tally.items(), key=lambda kv: kv[1] / (counts[kv[0]] or 1), reverse=True)
        return [k for k, c in ranked[:limit] if c * 2 >= counts[k]]


_FRANCHISE_CUT = re.compile(rf"\s*[:：]|(?<=[{CJK_CLASS}])[与之]|\s+and the\s|\s*\d|\s+part\s")


def franchise_name(raw: str) -> str | None:
    """"哈利波特" of "哈利·波特与魔法石", "harry potter" of "Harry Potter and the ...",
    "terminator" of "Terminator 2: Judgment Day"; None when the title has no such head."""
    m = _FRANCHISE_CUT.search(raw.lower())
    if m is None or m.start() == 0:
        return None
    head = normalize_text(raw[: m.start()])
    for article in _ARTICLES:
        head = head.removeprefix(article)
    if _CJK_CHARS.search(head):
        return head if len(head) >= 2 else None
    return head if len(head) >= 4 and head not in STOPWORDS else None


def grams_of(text: str) -> list[str]:
    """Chinese character bigrams and Latin-word trigrams (with word-edge marks)."""
    grams: list[str] = []
    for run in re.findall(f"[{CJK_CLASS}]+|[a-z0-9]+", text):
        if _CJK_CHARS.match(run):
            grams.extend(run[i:i + 2] for i in range(len(run) - 1))
        elif run not in STOPWORDS:
            padded = f"<{run}>"
            grams.extend(padded[i:i + 3] for i in range(len(padded) - 2))
    return grams


def _usable(text: str) -> bool:
    if _CJK_CHARS.search(text):
        return len(text.replace(" ", "")) >= 2
    compact = text.replace(" ", "")
    if compact.isdigit():
        return len(compact) >= 3  # "9" or "10" would match any number; "1917" is a title
    return len(compact) >= 2 and text not in STOPWORDS


def _make_key(text: str, title_idx: int, raw: str, derived: bool, everyday: set[str]) -> Key:
    cjk_count = len(_CJK_CHARS.findall(text))
    tokens = _LATIN_TOKENS.findall(text)
    short = (text in everyday
             or (cjk_count == 0 and len(tokens) == 1)
             or (cjk_count and not tokens and cjk_count <= 3))
    spec = specificity(text)
    if derived:
        spec *= 0.95
    if text in everyday:
        spec = min(spec, 0.5)
    return Key(text=text, titles=[title_idx], source=raw, derived=derived,
               derived_for=frozenset((title_idx,)) if derived else _NO_TITLES, specificity=spec,
               short=bool(short), left_word=text[0] in _ALNUM, right_word=text[-1] in _ALNUM,
               cjk=cjk_count >= len(tokens))
