"""What kind of offence a removed listing was: ``disc``, ``download``, ``streaming`` or ``other``.

The points policy weighs offences differently, so each strike records one. The words come from
the matching lexicon (``crawler/matching/lexicon.yaml``: the ``disc``, ``digital`` and
``stream`` categories, with its negations such as "不含影片光盘"), scanned by the matcher's own
automaton over the normalised text; only a handful of terms that the lexicon files under a
broader category are sorted here, because the lexicon answers "is it a copy?" and we need
"how is the copy delivered?".

Rules, in order (the first that finds a word decides):

1. **Title, delivery words.** Access to watch (accounts, memberships, "在线观看", streaming
   links) is ``streaming``; a file, link, cloud drive or a rip/encode tag (x264, WEBRip,
   remux: a file by definition) is ``download``. Delivery words beat format words because
   download listings name the disc they were ripped from ("蓝光原盘 网盘"), while a disc is
   never delivered as a link.
2. **Title, physical words** (DVD, 蓝光, 光盘, box set, burned DVD-R) are ``disc``.
3. **Description**, only when the title said nothing: physical words first (a description that
   talks about the disc it ships describes the goods; pirate disc sellers also advertise "more
   sources, add my WeChat" on the side), then streaming, then download.
4. Source words alone ("原盘": a disc image, sold both ways) fall back to ``disc``.
5. Otherwise ``other``: the removal counts, with the policy's points for an unknown format.

The work's own title and aliases are blanked first, so "The Missing Link" is not a link.

Settings: none (the default matching configuration's lexicon).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable

from crawler.matching.config import MatchConfig
from crawler.matching.normalize import normalize_text
from crawler.matching.offer import Lexicon, classify

OFFENCES = ("disc", "download", "streaming", "other")

# Lexicon "digital" terms that mean watching online rather than receiving a file.
_WATCH_TERMS = ("在线观看", "在线看", "在线播放", "watch online", "stream link")
# Lexicon "bootleg" terms that only exist for files (scene encode and rip tags).
_RIP_TERMS = (
    "x264",
    "x265",
    "h264",
    "h265",
    "hevc",
    "webrip",
    "web rip",
    "web dl",
    "webdl",
    "bdrip",
    "brrip",
    "dvdrip",
    "hdrip",
    "remux",
)
# Lexicon "bootleg" terms for burned physical discs.
_BURNED_TERMS = ("dvd r", "dvdr", "dvd rw", "burned", "burnt", "刻录", "刻录版")
# Lexicon "disc" terms that name a disc image, the source of downloads as often as a disc.
_SOURCE_TERMS = ("原盘", "蓝光原盘")


@functools.lru_cache(maxsize=1)
def _lexicon() -> tuple[Lexicon, frozenset[str], frozenset[str], frozenset[str], frozenset[str]]:
    def norm(terms: Iterable[str]) -> frozenset[str]:
        return frozenset(normalize_text(t) for t in terms)

    return (
        Lexicon(MatchConfig.load()),
        norm(_WATCH_TERMS),
        norm(_RIP_TERMS),
        norm(_BURNED_TERMS),
        norm(_SOURCE_TERMS),
    )


def _blank(text: str, works: Iterable[str]) -> str:
    for work in sorted({normalize_text(w) for w in works if w}, key=len, reverse=True):
        if len(work) >= 2:
            text = text.replace(work, " ")
    return text


def delivery_words(text: str | None, works: Iterable[str] = ()) -> Counter[str]:
    """``{"streaming"|"download"|"disc"|"source": hits}`` in ``text`` (negations applied)."""
    found: Counter[str] = Counter()
    if not text:
        return found
    lexicon, watch, rip, burned, source = _lexicon()
    offer = classify(lexicon.scan(_blank(normalize_text(text), works)))
    for category, words in offer.terms.items():
        for word in words:
            if category == "stream" or (category == "digital" and word in watch):
                found["streaming"] += 1
            elif category == "digital" or (category == "bootleg" and word in rip):
                found["download"] += 1
            elif category == "bootleg" and word in burned:
                found["disc"] += 1
            elif category == "disc":
                found["source" if word in source else "disc"] += 1
    return found


def classify_offence(
    title: str | None, description: str | None = None, works: Iterable[str] = ()
) -> str:
    """The offence of a listing (see the module docstring for the rules)."""
    works = list(works)
    in_title = delivery_words(title, works)
    for kind in ("streaming", "download", "disc"):
        if in_title[kind]:
            return kind
    in_description = delivery_words(description, works)
    for kind in ("disc", "streaming", "download"):
        if in_description[kind]:
            return kind
    if in_title["source"] or in_description["source"]:
        return "disc"
    return "other"
