"""Listing and catalogue text in one comparable form, with where its word breaks were.

The same function normalises catalogue titles and listing titles, so whatever it does to one
side it does to the other: Unicode NFKC (full-width to half-width, ``Ⅱ`` to ``II``), lower
case, traditional to simplified Chinese (OpenCC's character tables, Hong Kong and Taiwan
variants included, applied with ``str.translate`` because the phrase converter costs ~90 µs a
call), punctuation to spaces (apostrophes dropped, ``&`` to ``and``, scene-release dots and
underscores to spaces), sequel numbers written as Arabic numerals (Roman ``II``, Chinese
``二``/``贰`` next to a title or in ``第二部``, English ``part two``), number ranges kept as
``1~3``, format words split from a title they are glued to (``InceptionBluRay``, ``IIDVD``,
``终结者二蓝光``, ``Toy Story 34K`` = 3 in 4K), Chinese spelt out with ``/`` or ``|`` joined
(``大/白/鲨``), and the spaces *between* Chinese characters removed (``人 鬼 情 未 了``): those removed
spaces are remembered as soft word breaks, so scoring can still tell ``龙卷风 瓶子`` (two
words) from ``龙卷风瓶`` (one).

Before all that, the evasions sellers use against keyword filters are undone (zero-width
characters, emoji inside a word, look-alike letters of other scripts, letters split by
separators, and on the listing side leetspeak): :mod:`crawler.matching.evasion`, each change
kept in ``Normalized.folds``.

Format and quality words are not removed here: :mod:`crawler.matching.offer` finds them as
signals in this same normalised text.

No settings affect this module.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from crawler.matching.evasion import Fold, unleet, unmask

CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{CJK_CLASS}]")

# ASCII punctuation and the common CJK / typographic marks all become a space; these keep a
# meaning of their own.
_KEEP = {"~": "~", "+": "+", "/": "+", "|": "+", ":": "\x1e"}
_DROP = "'\u2019\u2018`\u00b4"
_PUNCT = (
    "!\"#$%()*,-.;<=>?@[\\]^_{}"
    "\u00a0\u00b7\u2010\u2011\u2012\u2013\u2014\u2015\u2022\u2027\u2026\u201c\u201d\u300c\u300d"
    "\u300e\u300f\u3010\u3011\u3008\u3009\u300a\u300b\u3014\u3015\u3016\u3017\u3001\u3002"
    "\u30fb\u2605\u2606\u25c6\u25c7\u25cf\u25cb\u25a0\u25a1\u2714\u2705\u2764\u2665\u00d7"
    "\uff5e\u301c\u00ae\u2122\u00a9"
)


def _opencc_dir() -> Path:
    import opencc  # opencc-python-reimplemented: we use its dictionaries only

    return Path(opencc.__file__).resolve().parent / "dictionary"


def _read_pairs(path: Path) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and len(parts[0]) == 1:
            pairs[parts[0]] = parts[1].split(" ")[0]
    return pairs


@lru_cache(maxsize=1)
def translate_table() -> dict[int, str]:
    """One ``str.translate`` table: traditional/variant -> simplified, punctuation -> space."""
    folder = _opencc_dir()
    ts = _read_pairs(folder / "TSCharacters.txt")
    table: dict[int, str] = {}
    for name in ("HKVariantsRev.txt", "TWVariantsRev.txt"):
        for variant, standard in _read_pairs(folder / name).items():
            table[ord(variant)] = ts.get(standard, standard)
    for trad, simp in ts.items():
        table[ord(trad)] = simp
    for ch in _PUNCT:
        table[ord(ch)] = " "
    for ch in _DROP:
        table[ord(ch)] = ""
    for ch, out in _KEEP.items():
        table[ord(ch)] = out
    table[ord("&")] = " and "
    for ch in "\t\n\r\x0b\x0c":
        table[ord(ch)] = " "
    return table


def to_simplified(text: str) -> str:
    """Traditional (and HK/TW variant) characters to simplified, one character at a time."""
    table = translate_table()
    return "".join(table.get(ord(c), c) if is_cjk(c) else c for c in text)


# -- numerals -------------------------------------------------------------------------------
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8,
          "ix": 9, "x": 10}
# "i" and "x" are an English word and a letter too ("I, Robot", "3 x DVD"): only read as
# numerals next to Chinese. "V" is read everywhere ("Toy Story V", and "V for Vendetta" is
# "5 for vendetta" on both sides alike).
# A Roman numeral may be glued to a format word: "Speed IIDVD", "Star Wars VIHD".
_ROMAN_ALWAYS = re.compile(r"(?<![a-z0-9])(iii|ii|iv|v|vi|vii|viii|ix)"
                           r"(?=(dvd|bluray|uhd|hd|bd|vcd)?(?![a-z0-9]))")
_ROMAN_CJK = re.compile(
    rf"(?<=[{CJK_CLASS}])(viii|vii|iii|vi|iv|ix|ii|i|v|x)(?![a-z0-9])"
    rf"|(?<![a-z0-9])(viii|vii|iii|vi|iv|ix|ii|i|v|x)(?=[{CJK_CLASS}])"
)
_EN_NUMBER = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
              "eight": 8, "nine": 9, "ten": 10}
_EN_SEQUEL = re.compile(r"(?<![a-z])(part|chapter|episode|volume|vol|season)\s+"
                        r"(one|two|three|four|five|six|seven|eight|nine|ten)(?![a-z])")
_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3,
             "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8,
             "捌": 8, "九": 9, "玖": 9}
_CN_NUM = "零〇一壹二贰两三叁四肆五伍六陆七柒八捌九玖十拾"
_CN_ORDINAL = re.compile(f"第([{_CN_NUM}]{{1,3}})(?=[季部集辑章卷篇期])")
# A Chinese numeral right after a title character and before a break: 指环王三：王者无敌.
_CN_TRAILING = re.compile(
    f"(?<=[{CJK_CLASS}])(?<![{_CN_NUM}第])([{_CN_NUM}]{{1,2}})"
    f"(?=[ \x1e~+]|$|[a-z0-9]|蓝光|高清|超清|光盘|光碟|网盘|国语|粤语|中字|原盘)"
)
# "终结者第二部" is "终结者2": a part number right after a title is its sequel number.
_PART_ORDINAL = re.compile(f"(?<=[{CJK_CLASS}])第([0-9]{{1,2}})部")
_RANGE = re.compile(r"(?<=\d)\s*(?:-|~|至|到|—|–)\s*(?=\d)")


def chinese_number(text: str) -> int | None:
    """``二`` -> 2, ``十二`` -> 12, ``二十`` -> 20, ``贰`` -> 2; None if it is not a number."""
    if not text:
        return None
    if all(c in _CN_DIGIT for c in text):
        value = 0
        for c in text:
            value = value * 10 + _CN_DIGIT[c]
        return value
    if text.count("十") + text.count("拾") != 1:
        return None
    head, _, tail = text.replace("拾", "十").partition("十")
    if len(head) > 1 or len(tail) > 1:
        return None
    tens = _CN_DIGIT.get(head, -1) if head else 1
    ones = _CN_DIGIT.get(tail, -1) if tail else 0
    if tens < 0 or ones < 0:
        return None
    return tens * 10 + ones


def _cn_sub(match: re.Match[str]) -> str:
    value = chinese_number(match.group(1))
    if value is None:
        return match.group(0)
    return match.group(0).replace(match.group(1), str(value), 1)


def _roman_sub(match: re.Match[str]) -> str:
    token = match.group(1) or match.group(2)
    return str(_ROMAN[token])


def _roman_glued_sub(match: re.Match[str]) -> str:
    number = str(_ROMAN[match.group(1)])
    return f"{number} " if match.group(2) else number


def _en_sub(match: re.Match[str]) -> str:
    return f"{match.group(1)} {_EN_NUMBER[match.group(2)]}"


# -- spaces between Chinese characters ------------------------------------------------------
_SPACED_OUT = re.compile(rf"(?<![{CJK_CLASS}])[{CJK_CLASS}](?: [{CJK_CLASS}]){{2,}}(?![{CJK_CLASS}])")
_CJK_GAP = re.compile(
    rf"(?<=[{CJK_CLASS}])[ \x1e](?=[{CJK_CLASS}]|[0-9]{{1,2}}(?![0-9a-z]))"
    rf"|(?:(?<=[{CJK_CLASS}][0-9])|(?<=[{CJK_CLASS}][0-9][0-9]))[ \x1e](?=[{CJK_CLASS}])"
)
_SPACES = re.compile(r"[ \x1e]{2,}")
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")
# Format words glued to a title: "InceptionBluRay", "CasperUHD" (a case change says where the
# title ends), "swordfishdvd" (these two words end no English word).
_GLUED_FORMAT_CASE = re.compile(
    r"(?<=[a-z])(?=(?:DVD|Dvd|BLU-?RAY|Blu-?[Rr]ay|UHD|HD|BD|4K|1080[pPi]|720[pP]|2160[pP])"
    r"(?![a-z]))"
)
_GLUED_FORMAT = re.compile(r"(?<=[a-z]{2})(?=(?:dvd|bluray)(?![a-z]))")
# "Toy Story 34K" is "Toy Story 3" in 4K: a digit glued to 4K/8K right after a title word.
_GLUED_4K = re.compile(rf"(?:(?<=[a-z] )|(?<=[{CJK_CLASS}]))([1-9])(?=[48] k(?![a-z0-9]))")
# "大/白/鲨": Chinese characters spelt out with a separator ("/" and "|" became "+").
_PLUS_SPACED = re.compile(
    rf"(?<![{CJK_CLASS}0-9+])(?:[{CJK_CLASS}]|[0-9]{{1,2}})(?: ?\+ ?(?:[{CJK_CLASS}]|[0-9]{{1,2}})){{2,}}"
    rf"(?![{CJK_CLASS}0-9+])"
)
_COLON = "\x1e"


def _unspace(m: re.Match[str]) -> str:
    spelt = m.group(0)
    if len(_CJK_RE.findall(spelt)) < 3:
        return spelt
    return spelt.replace(" ", "").replace("+", "")


def _collapse(m: re.Match[str]) -> str:
    return _COLON if _COLON in m.group(0) else " "


@dataclass(slots=True)
class Normalized:
    """Normalised text, where spaces between Chinese words were removed (``breaks``: the offset
    of the character after the gap) and where a colon was (``colons``: the offset of the first
    character after it), for "Title: Subtitle" listings of another film; ``folds``: the
    evasions undone (:mod:`crawler.matching.evasion`)."""

    text: str
    breaks: frozenset[int]
    colons: frozenset[int] = frozenset()
    folds: tuple[Fold, ...] = ()


_EMPTY: frozenset[int] = frozenset()


def normalize(text: str, vocabulary: Container[str] | None = None,
              written: Container[str] = frozenset()) -> Normalized:
    """The comparison form of a title, alias or listing text (see the module docstring).

    With a ``vocabulary`` (the catalogue's words, listing side only), leetspeak words that
    spell one of them are spelt in letters; ``written`` are words left as they are."""
    s = unicodedata.normalize("NFKC", text)
    s, folds = unmask(s)
    s = _GLUED_FORMAT_CASE.sub(" ", s).lower()
    if vocabulary is not None:
        s, leet = unleet(s, vocabulary, written)
        folds.extend(leet)
    if "dvd" in s or "bluray" in s:
        s = _GLUED_FORMAT.sub(" ", s)
    if "-" in s or "~" in s or "至" in s or "到" in s or "\u2014" in s or "\u2013" in s:
        s = _RANGE.sub("~", s)
    s = s.translate(translate_table())
    s = _LETTER_DIGIT.sub(" ", s)
    if " k" in s:
        s = _GLUED_4K.sub(r"\1 ", s)
    ascii_only = s.isascii()
    if not ascii_only or "part" in s or "season" in s or "chapter" in s or "vol" in s:
        s = _EN_SEQUEL.sub(_en_sub, s)
    s = _ROMAN_ALWAYS.sub(_roman_glued_sub, s)
    s = _SPACES.sub(_collapse, s).strip(" \x1e")
    breaks: list[int] = []
    colons: list[int] = []
    if not ascii_only:
        s = _SPACED_OUT.sub(lambda m: m.group(0).replace(" ", ""), s)
        if "+" in s:
            s = _PLUS_SPACED.sub(_unspace, s)
        s = _ROMAN_CJK.sub(_roman_sub, s)
        s = _CN_ORDINAL.sub(_cn_sub, s)
        s = _CN_TRAILING.sub(_cn_sub, s)
        if " k" in s:
            s = _GLUED_4K.sub(r"\1 ", s)  # "终结者二4K" is now "终结者24 k"
        if "第" in s and "部" in s:
            s = _PART_ORDINAL.sub(r"\1", s)
        s = _LETTER_DIGIT.sub(" ", s)  # "教父二d5" became "教父2d 5"
        if " " in s or _COLON in s:
            pieces: list[str] = []
            last = 0
            for removed, m in enumerate(_CJK_GAP.finditer(s)):
                pieces.append(s[last:m.start()])
                breaks.append(m.start() - removed)
                if m.group(0) == _COLON:
                    colons.append(m.start() - removed)
                last = m.end()
            if breaks:
                pieces.append(s[last:])
                s = "".join(pieces)
    if "第" in s and "部" in s:
        s = _PART_ORDINAL.sub(r"\1", s)
    if _COLON in s:
        i = s.find(_COLON)
        while i >= 0:
            colons.append(i + 1)
            i = s.find(_COLON, i + 1)
        s = s.replace(_COLON, " ")
    return Normalized(s, frozenset(breaks) if breaks else _EMPTY,
                      frozenset(colons) if colons else _EMPTY, tuple(folds))


def normalize_text(text: str) -> str:
    """Just the normalised string (catalogue keys, lexicon terms)."""
    return normalize(text).text


def has_cjk(text: str) -> bool:
    return _CJK_RE.search(text) is not None


def is_cjk(ch: str) -> bool:
    return _CJK_RE.match(ch) is not None
