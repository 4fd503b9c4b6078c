"""Chinese titles by their sound: homophone characters and pinyin fragments meet the title.

Sellers swap characters of a Chinese title for others that sound the same (``到梦空间`` for
``盗梦空间``) or write part of it in pinyin (``盗梦kongjian``, ``Dao Meng Kong Jian``) so that
keyword filters miss it. :class:`PinyinIndex` holds every Chinese title and alias of three
characters or more as tone-less pinyin with the spaces removed (``daomengkongjian``; pypinyin,
reading polyphonic characters by its phrase dictionary and by their first reading), in one
Aho-Corasick automaton. :meth:`PinyinIndex.scan` turns a normalised listing text into the
same form (each Chinese character by its first reading, Latin words as they are) and keeps
hits that start and end on a syllable or word edge.

Only used when nothing matched exactly or fuzzily (:mod:`crawler.matching.score`); a pinyin
hit is weaker than an exact one and needs bootleg or disc words before it decides
``takedown`` (:mod:`crawler.matching.decide`).

No settings affect this module.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import ahocorasick

from crawler.matching.normalize import CJK_CLASS

_CJK_RUN = re.compile(f"[{CJK_CLASS}]+")
_TOKENS = re.compile(f"[{CJK_CLASS}]|[a-z]+|[0-9]+")
MIN_CHARS = 3  # Chinese characters a title needs to be looked up by sound


@lru_cache(maxsize=1)
def syllables() -> dict[int, str]:
    """Code point -> tone-less pinyin of its first reading (``ü`` as ``v``)."""
    from pypinyin.pinyin_dict import pinyin_dict

    table: dict[int, str] = {}
    for cp, readings in pinyin_dict.items():
        first = readings.split(",")[0]
        plain = "".join(c for c in unicodedata.normalize("NFD", first.replace("ü", "v"))
                        if not unicodedata.combining(c))
        if plain.isascii() and plain.isalpha():
            table[cp] = plain
    return table


def spoken(text: str) -> list[str]:
    """Tone-less pinyin readings of a Chinese title: by phrase, and by first readings."""
    from pypinyin import Style, lazy_pinyin

    table = syllables()
    first = "".join(table.get(ord(c), c) for c in text if not c.isspace())
    readings = [first]
    if any(c in _polyphonic() for c in text):
        phrase = "".join(p.strip() for p in lazy_pinyin(text, style=Style.NORMAL, v_to_u=False))
        if phrase != first:
            readings.append(phrase)
    return readings


@lru_cache(maxsize=1)
def _polyphonic() -> frozenset[str]:
    from pypinyin.pinyin_dict import pinyin_dict

    return frozenset(chr(cp) for cp, r in pinyin_dict.items() if "," in r)


class PinyinIndex:
    """Chinese catalogue keys by sound (key ids of :class:`crawler.matching.index.CatalogIndex`)."""

    def __init__(self, keys: Iterable[tuple[int, str]]) -> None:
        self.automaton = ahocorasick.Automaton()
        self.size = 0
        for key_id, text in keys:
            if len(_CJK_RUN.findall(text)) != 1 or len(text) < MIN_CHARS:
                continue  # Chinese-only keys: "蝙蝠侠3" is found by its exact form
            if not _CJK_RUN.fullmatch(text):
                continue
            for reading in spoken(text):
                if reading.isascii() and self.automaton.get(reading, None) is None:
                    self.automaton.add_word(reading, (key_id, reading))
                    self.size += 1
        if self.size:
            self.automaton.make_automaton()

    def scan(self, text: str) -> list[tuple[int, int, int, str]]:
        """(start, end, key id, reading) in ``text`` (normalised) of titles spelt by sound,
        offsets into ``text``; each hit spans whole syllables or words."""
        if not self.size:
            return []
        table = syllables()
        parts: list[str] = []
        starts: dict[int, int] = {}
        ends: dict[int, int] = {}
        pos = 0
        for m in _TOKENS.finditer(text):
            token = m.group(0)
            if len(token) == 1 and not token.isascii():
                token = table.get(ord(token), "")
                if not token:
                    continue
            starts[pos] = m.start()
            pos += len(token)
            ends[pos] = m.end()
            parts.append(token)
        compact = "".join(parts)
        out: list[tuple[int, int, int, str]] = []
        for end, (key_id, reading) in self.automaton.iter(compact):
            start = end - len(reading) + 1
            if start in starts and end + 1 in ends:
                out.append((starts[start], ends[end + 1], key_id, reading))
        return out
