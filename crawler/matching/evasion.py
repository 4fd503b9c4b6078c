"""Undoing the tricks sellers use to slip a title past keyword filters, and saying what was undone.

Runs inside :func:`crawler.matching.normalize.normalize` (on catalogue and listing text alike,
right after NFKC) and returns each change as a :class:`Fold`, so a decision can say which
normalisation made its hit (``confusable: "Іnсерtіоn" -> "inception"``):

* ``zero-width``: format characters (zero-width space and joiners, word joiner, BOM, soft
  hyphen, variation selectors, tag characters) are removed.
* ``emoji``: a pictograph between two letters or two Chinese characters (``盗🔥梦空间``) is
  removed; elsewhere it becomes a space.
* ``confusable``: look-alike letters of other scripts (Cyrillic ``а``, Greek ``ο``, Cherokee,
  mathematical letters NFKC leaves alone...) become the Latin letter they imitate, by the
  per-character TR39 prototypes of Unicode's ``confusables.txt`` as shipped by the
  ``confusable-homoglyphs`` package. Only in a word that has Latin letters or that folds to
  Latin entirely (a real Russian word stays as it is). Accents on Latin letters are dropped
  too (``Ïñçëptïøñ``), so ``Amélie`` and ``Amelie`` meet.
* ``split``: letters spelt out with one separator between each (``I*n*c*e*p*t*i*o*n``,
  ``T-I-T-A-N-I-C``, ``M a t r i x``) are joined; a longer gap between letter runs stays a
  word break (``T h e   M a t r i x``).
* ``leetspeak`` (:func:`unleet`, listing side only, given the catalogue's vocabulary): digits
  and symbols inside a word (``Inc3pt1on``, ``T3rm1nat0r``, ``H@rry``) become the letters they
  stand for, but only when that spells a word the catalogue uses, so ``x264``, ``bd50``,
  ``dvd9`` or ``Se7en`` (a title as written) are left alone.

No settings affect this module.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Container
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Fold:
    """One change made to undo an evasion: its kind, the text before and after."""

    kind: str
    before: str
    after: str

    def describe(self) -> str:
        return f'{self.kind}: "{visible(self.before)}" -> "{visible(self.after)}"'


_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u206a-\u206f"
                        "\ufeff\ufe00-\ufe0f\U000e0000-\U000e007f]")
_PICTO = ("\u2190-\u21ff\u2300-\u23ff\u2460-\u24ff\u25a0-\u27bf\u2900-\u297f\u2b00-\u2bff"
          "\u3297\u3299\U0001f000-\U0001faff")
_PICTO_RE = re.compile(f"[{_PICTO}]+")
_WORDISH = re.compile(r"[^\W_]")
# One alphanumeric character, the same separator, and again, at least three characters long.
_SPLIT = re.compile(
    r"(?<![^\W_'])([^\W_])( ?[*\-._·•~|/+\\,] ?| )([^\W_']|')(?:\2(?:[^\W_]|'))+(?![^\W_'])"
)
# Two letters with a separator that is not a space ("o.f", "M-e") once a listing splits letters.
_SPLIT_TWO = re.compile(r"(?<![^\W_'])([^\W\d_])([*\-._·•])([^\W\d_])(?![^\W_'])")
_LEET_WORD = re.compile(r"(?<![a-z0-9@$])(?=[a-z0-9@$]*[a-z])(?=[a-z0-9@$]*[0-9@$])[a-z0-9@$]{3,}")
_LEET = {"0": "o", "1": "il", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a",
         "$": "s"}


def visible(text: str) -> str:
    """``text`` with invisible and control characters written as ``<U+200B>``."""
    return "".join(f"<U+{ord(c):04X}>" if _INVISIBLE.match(c) or not c.isprintable() and c != " "
                   else c for c in text)


@lru_cache(maxsize=1)
def confusable_table() -> dict[str, str]:
    """Non-ASCII character -> the ASCII letter or digit it imitates (lower case)."""
    import json
    from pathlib import Path

    import confusable_homoglyphs

    data = json.loads((Path(confusable_homoglyphs.__file__).parent / "confusables.json")
                      .read_text(encoding="utf-8"))
    table: dict[str, str] = {}
    for char, glyphs in data.items():
        if len(char) != 1 or char.isascii() or _is_east_asian(char):
            continue
        targets = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii()
                   and g["c"].isalnum()]
        if not targets:
            continue
        letters = [t for t in targets if t.isalpha()]
        table[char] = (letters or targets)[0].lower()
    return table


def _is_east_asian(char: str) -> bool:
    cp = ord(char)
    return (0x2e80 <= cp <= 0x9fff or 0xac00 <= cp <= 0xd7af or 0xf900 <= cp <= 0xfaff
            or 0xff00 <= cp <= 0xffef or 0x20000 <= cp)


def unmask(text: str) -> tuple[str, list[Fold]]:
    """``text`` (NFKC already) with invisible characters, emoji, look-alikes and split letters
    undone, and what was undone."""
    folds: list[Fold] = []
    if not text.isascii():
        if _INVISIBLE.search(text):
            cleaned = _INVISIBLE.sub("", text)
            for word in _changed_words(text, _INVISIBLE):
                folds.append(Fold("zero-width", word, _INVISIBLE.sub("", word)))
            text = cleaned
        if _PICTO_RE.search(text):
            text = _PICTO_RE.sub(lambda m: _emoji_sub(m, folds), text)
        text = _confusables(text, folds)
    if _SPLIT.search(text):
        text = _SPLIT.sub(lambda m: _join(m, folds), text)
    two = _SPLIT_TWO.search(text)
    if two is not None and (folds and folds[-1].kind == "split"
                            or len(_SPLIT_TWO.findall(text)) >= 2):
        text = _SPLIT_TWO.sub(lambda m: _join2(m, folds), text)
    return text, folds


def _join2(m: re.Match[str], folds: list[Fold]) -> str:
    joined = m.group(1) + m.group(3)
    folds.append(Fold("split", m.group(0), joined.lower()))
    return joined


def _changed_words(text: str, pattern: re.Pattern[str]) -> list[str]:
    return [w for w in text.split() if pattern.search(w)][:3]


def _emoji_sub(m: re.Match[str], folds: list[Fold]) -> str:
    s = m.string
    before = s[m.start() - 1] if m.start() > 0 else ""
    after = s[m.end()] if m.end() < len(s) else ""
    cjk = _is_east_asian(before) and _is_east_asian(after) if before and after else False
    # Inside a word ("Inc🔥eption", "盗🔥梦空间"), not between two ("Speed★Cars").
    if before and after and _WORDISH.match(before) and (cjk or after.islower()):
        lo, hi = max(0, m.start() - 6), min(len(s), m.end() + 6)
        folds.append(Fold("emoji", s[lo:hi], s[lo:m.start()] + s[m.end():hi]))
        return ""
    return " "


def _confusables(text: str, folds: list[Fold]) -> str:
    table = confusable_table()
    if not any(c in table or _accented_latin(c) for c in text):
        return text
    out: list[str] = []
    for word in re.split(r"([^\w]+)", text):
        if not word or not any(c in table or _accented_latin(c) for c in word):
            out.append(word)
            continue
        folded = "".join(_fold_char(c, table) for c in _strip_accents(word))
        latin = any(c.isascii() and c.isalpha() for c in word)
        if latin or folded.isascii():
            if folded != word:
                folds.append(Fold("confusable", word, folded.lower()))
            out.append(folded)
        else:
            out.append(word)
    return "".join(out)


def _fold_char(c: str, table: dict[str, str]) -> str:
    # Capitals by their own glyph (Greek "Ν" is "N", though its small "ν" is "v"), except where
    # TR39's prototype is "l", which is also the prototype of "I" (Cyrillic "І" is "I").
    if c.isupper():
        out = table.get(c)
        if out is None or out == "l":
            out = table.get(c.lower()) or out
        return out.upper() if out else c
    return table.get(c, c)


def _accented_latin(c: str) -> bool:
    return "\u00c0" <= c <= "\u024f" and c not in "\u00d7\u00f7"


def _strip_accents(word: str) -> str:
    if not any(_accented_latin(c) for c in word):
        return word
    out = []
    for c in word:
        if _accented_latin(c):
            base = unicodedata.normalize("NFD", c)[0]
            out.append(base if base.isascii() else {"ø": "o", "Ø": "O", "ł": "l", "đ": "d",
                                                    "ß": "ss", "æ": "ae"}.get(c, c))
        else:
            out.append(c)
    return "".join(out)


def _join(m: re.Match[str], folds: list[Fold]) -> str:
    run = m.group(0)
    sep = m.group(2)
    letters = run.split(sep) if sep.strip() else run.split(" ")
    if sum(ch.isalpha() for ch in letters) < 3 or any(len(ch) != 1 for ch in letters):
        return run
    joined = "".join(letters)
    folds.append(Fold("split", run, joined.lower()))
    return joined


def _touches_letter(word: str, i: int) -> bool:
    j = i
    while j > 0 and not word[j - 1].isalpha():
        j -= 1
    k = i
    while k + 1 < len(word) and not word[k + 1].isalpha():
        k += 1
    return (j > 0 or k + 1 < len(word)) and k - j < 3


def unleet(text: str, vocabulary: Container[str], written: Container[str]) -> tuple[str, list[Fold]]:
    """Lower-case ``text`` with leetspeak words spelt in letters when that spells a word of
    ``vocabulary``; words in ``written`` (the catalogue's own spellings) are left alone."""
    folds: list[Fold] = []
    if not _LEET_WORD.search(text):
        return text, folds

    def sub(m: re.Match[str]) -> str:
        word = m.group(0)
        if word in written:
            return word
        options = []
        for i, c in enumerate(word):
            alt = _LEET.get(c)
            # Digits touching letters: "inc3ption", "s157ers"; "x264" or "bd50" only spell no
            # catalogue word.
            if alt and _touches_letter(word, i):
                options.append(alt)
            else:
                options.append(c)
        if sum(len(o) > 1 or o != c for o, c in zip(options, word)) == 0:
            return word
        for combo in itertools.islice(itertools.product(*options), 32):
            folded = "".join(combo)
            if folded != word and sum(ch.isalpha() for ch in folded) >= 3 and folded in vocabulary:
                folds.append(Fold("leetspeak", word, folded))
                return folded
        return word

    return _LEET_WORD.sub(sub, text), folds
