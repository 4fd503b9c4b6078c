"""Cutting a normalised listing title into the segments a title may fill.

Scoring (:mod:`crawler.matching.score`) and the fuzzy lookup (:mod:`crawler.matching.fuzzy`)
both work on a *masked* text: the listing text with years, seasons, ranges and lexicon terms
overwritten by ``|``, so that what remains is the candidate title text. A segment is the stretch
of that text around a position up to the nearest boundary: a mask, a ``+`` or ``~``, a break
between Chinese words, or a space next to a Chinese character.

Settings: none.
"""

from __future__ import annotations

import re

from crawler.matching.normalize import CJK_CLASS

CJK_CHAR = re.compile(f"[{CJK_CLASS}]")
BOUNDARY = frozenset("|+~")


def mask(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with every character of ``spans`` replaced by ``|`` (offsets unchanged)."""
    if not spans:
        return text
    chars = list(text)
    for s, e in spans:
        for i in range(s, e):
            chars[i] = "|"
    return "".join(chars)


def segment(masked: str, breaks: frozenset[int], start: int, end: int) -> tuple[int, int]:
    """The stretch of title text around [start, end) up to the nearest boundary."""
    i = start
    while i > 0:
        c = masked[i - 1]
        if c in BOUNDARY or i in breaks:
            break
        if c == " " and (i < 2 or CJK_CHAR.match(masked[i - 2]) or CJK_CHAR.match(masked[i])):
            break
        i -= 1
    j = end
    n = len(masked)
    while j < n:
        c = masked[j]
        if c in BOUNDARY or j in breaks:
            break
        if c == " " and (j + 1 >= n or CJK_CHAR.match(masked[j + 1])
                         or CJK_CHAR.match(masked[j - 1])):
            break
        j += 1
    return i, j
