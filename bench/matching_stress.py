"""A labelled stress set for the matching engine: real-world title variations, other films.

    .venv/bin/python bench/matching_stress.py OUT_FOLDER [--movies PATH] [--seed 7] [--per 60]
    .venv/bin/python bench/matching_quality.py OUT_FOLDER --show-errors 5

Writes ``catalog.csv``, ``authorized.csv``, ``listings.jsonl`` and ``expected.jsonl`` in the
development-set format (see ``bench/matching_quality.py``). It is a *stress* test of the
variations sellers use, not a scoring set: nothing in the engine may be tuned to its rows.

Where the titles come from (neither is the development set's film list):

* English films: ``data/movies.json`` of the npm package ``vega-datasets`` (not committed;
  ``cd /tmp && npm pack vega-datasets && tar xzf vega-datasets-*.tgz``), given by ``--movies``
  or ``$VEGA_MOVIES`` (default ``/tmp/package/data/movies.json``). Films whose normalised title
  is in the development catalogue are left out; those of the six member studios' distributors
  form the catalogue, the others are non-member decoys. Titles sharing a normalised form
  (remakes) are left out so every label is unambiguous.
* Chinese titles: the demo catalogue ``fixtures/catalogs/sample_catalog.csv`` (simplified
  Chinese aliases with Hong Kong and Taiwan ones), whose entries join the catalogue as they are.

How listings are made: every family is one *variation* (a pure function of a title and the
random generator) put into one of a few *templates* (title + offer words, noise, seller,
price). A family is labelled once, by construction: infringing families expect the source
title's catalogue id; goods, unrelated, authorised-seller and non-member families expect no
flag. The generator is deterministic for a given ``--seed`` and movies file.

Families (``en_``/``cn_`` by script of the title):
  *_plain            the title and a format word (the control group)
  cn_traditional     simplified alias in traditional characters (OpenCC s2t / s2hk / s2tw)
  cn_trad_mixed      half of the characters converted
  *_fullwidth        full-width Latin letters and digits (Ｉｎｃｅｐｔｉｏｎ ＤＶＤ)
  cn_spaced          spaces or punctuation between every Chinese character (蝙 蝠 侠, 蝙·蝠·侠)
  en_typo            one letter dropped, swapped with its neighbour or doubled (titles >= 8)
  en_article         "Matrix, The", "Matrix (The)" or the article dropped
  *_numeral          sequel numbers as Roman, Arabic, Chinese, financial or Unicode numerals
  *_glued_numeral    a sequel number glued to a format word (IIDVD, 2蓝光, "2DVD")
  *_glued_format     a format word glued to the title (黑客帝国DVD, InceptionBluRay)
  en_scene           scene-release names (Title.2010.1080p.BluRay.x264-GRP, [YTS.MX] tags)
  *_decorated        decorative brackets, stars and emoji around the title
  en_case            ALL CAPS, lower case, alternating case
  en_year            the year bare, in (), [] or 【】, or absent
  *_seo              several unrelated search keywords around the title
  *_collection       2-5 titles joined by + / 、 & and | , (all ids expected)
  tv_season / tv_complete   seasons, ranges and complete series of catalogue series
  *_merch            goods with the same variations (never flagged)
  en_everyday_decoy  unrelated goods whose name contains an everyday-word title (never)
  *_authorized       an authorised seller of the title's member (never)
  en_non_member      films of other distributors with the same variations (never)
  cn_pinyin          a Chinese alias romanised by a tiny table: no catalogue key (never)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEV_CATALOG = ROOT.parent / "shared" / "data" / "eval" / "matching-dev" / "catalog.csv"
SAMPLE_CATALOG = ROOT / "fixtures" / "catalogs" / "sample_catalog.csv"
DEFAULT_MOVIES = "/tmp/package/data/movies.json"

STUDIOS = {
    "Warner Bros. Entertainment": ("war", ["Warner Bros."]),
    "Sony Pictures Entertainment": ("son", ["Sony Pictures", "Sony/Columbia", "Sony/Screen Gems",
                                            "Sony Pictures Classics"]),
    "Paramount Pictures": ("par", ["Paramount Pictures", "Paramount Vantage"]),
    "Universal City Studios": ("uni", ["Universal", "Focus Features"]),
    "Walt Disney Studios": ("wal", ["Walt Disney Pictures"]),
    "Twentieth Century Fox": ("twe", ["20th Century Fox", "Fox Searchlight"]),
}
AUTHORIZED = {
    "Warner Bros. Entertainment": ("华纳影业旗舰店", "warner-home-video"),
    "Sony Pictures Entertainment": ("索尼影业旗舰店", "sony-home-ent"),
    "Paramount Pictures": ("派拉蒙旗舰店", "paramount-store"),
    "Universal City Studios": ("环球影业旗舰店", "universal-home"),
    "Walt Disney Studios": ("迪士尼影业旗舰店", "disney-home-ent"),
    "Twentieth Century Fox": ("福斯影业旗舰店", "fox-home-ent"),
}

EN_FORMATS = ["DVD", "Blu-ray", "4K UHD Blu-ray", "Digital Download", "DVD Region 1",
              "Blu-ray + DVD", "DVD Widescreen", "Digital HD Code", "Bluray Disc", "DVD New Sealed"]
CN_FORMATS = ["DVD", "蓝光", "高清 DVD", "百度网盘", "D9 光盘", "蓝光碟", "网盘链接 秒发", "4K 高清",
              "DVD光盘", "国语中字 碟片"]
EN_MERCH = ["Poster 24x36", "T-Shirt", "Action Figure", "Coffee Mug", "Keychain", "Soundtrack CD",
            "Novel Paperback", "Costume Adult", "Lego Set", "Art Print Framed", "Vinyl LP",
            "Enamel Pin", "Funko Pop"]
CN_MERCH = ["海报", "手办 模型", "同款T恤", "原声CD", "原著小说", "钥匙扣", "马克杯", "cos服 服装",
            "毛绒玩具", "拼图 1000片", "明信片 套装", "积木 玩具"]
EN_SEO = ["Movies", "Classic", "Hollywood", "Cheap", "Hot", "Kids", "Family", "Action", "Comedy",
          "Thriller", "Drama", "Lot", "Sale", "Gift", "Christmas", "Best", "Film", "Cinema",
          "Oscar", "Blockbuster"]
CN_SEO = ["经典", "老电影", "动作片", "高清", "收藏", "好莱坞", "大片", "儿童", "家庭", "喜剧",
          "特价", "包邮", "热卖", "现货", "奥斯卡", "影视"]
EN_NOISE = ["", "", "New", "Free Shipping", "Fast Ship", "US Seller", "Rare", ""]
DECOR = [("【", "】"), ("『", "』"), ("「", "」"), ("★", "★"), ("《", "》"), ("〖", "〗"),
         ("🔥", "🔥"), ("✨", "✨"), ("🎬 ", ""), ("☆", "☆"), ("◆", "◆"), ("[", "]"),
         ("<<", ">>"), ("~", "~"), ("❤", "❤")]
SCENE_GROUPS = ["SPARKS", "YIFY", "RARBG", "FGT", "EVO", "GECKOS", "AMIABLE", "NTb"]
SCENE_TAGS = ["[YTS.MX]", "[YTS.AG]", "[RARBG]", "[TGx]", "[ETRG]", "www.torrent9.example -"]
SEPARATORS = [" + ", "+", " / ", "/", "、", " & ", " and ", " | ", "|", ", ", " + "]
EVERYDAY_GOODS = ["Car Seat Cover Universal", "Pet Bed Large", "Kitchen Knife Set",
                  "Phone Case iPhone", "Wall Clock Silent", "Garden Hose 50ft",
                  "Yoga Mat Non Slip", "LED Desk Lamp", "Running Shoes Men",
                  "Board Game Family", "Candle Scented Soy", "Dog Collar Leather"]
EVERYDAY_WORDS = {"speed", "hook", "cars", "crash", "signs", "twister", "casino", "ghost", "up",
                  "heat", "big", "jaws", "gravity", "taken", "gladiator", "chicago", "titanic",
                  "clueless", "contact", "unbreakable", "sideways", "scream", "twilight", "wanted",
                  "hitch", "click", "elf", "cats", "frozen", "hancock", "memento", "fargo",
                  "rocky", "psycho", "jumanji", "tomorrow", "stealth", "vertigo", "tangled",
                  "bolt", "monster", "ray", "traffic", "ransom", "volcano", "daylight", "eraser",
                  "payback", "swordfish", "thirteen", "seven", "push", "doubt", "gamer",
                  "salt", "knowing", "shooter", "ali", "greenberg", "brooklyn"}
PINYIN = {"黑": "hei", "客": "ke", "帝": "di", "国": "guo", "盗": "dao", "梦": "meng", "空": "kong",
          "间": "jian", "蝙": "bian", "蝠": "fu", "侠": "xia", "暗": "an", "骑": "qi", "士": "shi",
          "玩": "wan", "具": "ju", "总": "zong", "动": "dong", "员": "yuan", "阿": "a", "甘": "gan",
          "正": "zheng", "传": "zhuan", "狮": "shi", "子": "zi", "王": "wang", "泰": "tai",
          "坦": "tan", "尼": "ni", "克": "ke", "号": "hao", "搏": "bo", "击": "ji", "俱": "ju",
          "乐": "le", "部": "bu", "凡": "fan", "达": "da", "越": "yue", "狱": "yu", "教": "jiao",
          "父": "fu", "大": "da", "白": "bai", "鲨": "sha", "勇": "yong", "敢": "gan", "的": "de",
          "心": "xin", "侏": "zhu", "罗": "luo", "纪": "ji", "公": "gong", "园": "yuan"}


# -- catalogue --------------------------------------------------------------------------------
def _norm(title: str) -> str:
    from crawler.matching.normalize import normalize_text

    text = normalize_text(title)
    for article in ("the ", "a ", "an "):
        text = text.removeprefix(article)
    return text


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def load_movies(path: Path) -> tuple[list[dict], list[dict]]:
    """(member films, non-member films) of the movies file, without the development ones."""
    dev = set()
    with DEV_CATALOG.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            dev.add(_norm(row["title"]))
    with SAMPLE_CATALOG.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            dev.add(_norm(row["title"]))
    member_of = {d: member for member, (_, ds) in STUDIOS.items() for d in ds}
    rows = json.loads(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    films = []
    for row in rows:
        title = row.get("Title")
        date = row.get("Release Date") or ""
        if not isinstance(title, str) or not re.search(r"\d{4}$", date):
            continue
        title = title.strip()
        if not re.fullmatch(r"[A-Za-z0-9 :,'.&!?\-]+", title) or not re.search("[A-Za-z]{2}", title):
            continue
        year = int(date[-4:])
        if year > 2011:  # two-digit years read as 20xx by the dataset's makers
            year -= 100
        key = _norm(title)
        if not key or key in dev:
            continue
        seen[key] = seen.get(key, 0) + 1
        films.append({"title": title, "year": year, "key": key,
                      "member": member_of.get(row.get("Distributor") or "")})
    films = [f for f in films if seen[f["key"]] == 1]
    members = [f for f in films if f["member"]]
    others = [f for f in films if not f["member"]]
    for f in members:
        f["id"] = f"{STUDIOS[f['member']][0]}-{_slug(f['title'])}-{f['year']}"
        f["aliases"] = []
        f["kind"] = "film"
    # A non-member whose title contains a member's (or the reverse) would have two right
    # answers; keep decoys that share no title with the catalogue.
    member_keys = {f["key"] for f in members}
    others = [f for f in others
              if not any(re.search(rf"(?<![a-z0-9]){re.escape(k)}(?![a-z0-9])", f["key"])
                         or re.search(rf"(?<![a-z0-9]){re.escape(f['key'])}(?![a-z0-9])", k)
                         for k in member_keys)]
    return members, others


def load_sample() -> list[dict]:
    out = []
    with SAMPLE_CATALOG.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            aliases = [a for a in row["aliases"].split("|") if a]
            out.append({"id": row["id"], "member": row["member"], "title": row["title"],
                        "year": int(row["year"]), "aliases": aliases, "kind": row["kind"],
                        "key": _norm(row["title"]), "release_date": row["release_date"],
                        "home_release_date": row["home_release_date"]})
    return out


# -- variations (title -> varied title) -------------------------------------------------------
def fullwidth(text: str, rng: random.Random) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c)
                   for c in text)


def typo(text: str, rng: random.Random) -> str:
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    i = rng.choice(letters[1:-1])
    kind = rng.choice(["drop", "swap", "double"])
    if kind == "drop":
        return text[:i] + text[i + 1:]
    if kind == "double":
        return text[:i] + text[i] + text[i:]
    if text[i + 1].isalpha() and text[i + 1] != text[i]:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return text[:i] + text[i + 1:]


def article(text: str, rng: random.Random) -> str:
    m = re.match(r"(The|A|An) (.+)$", text)
    if m is None:
        return text
    style = rng.choice(["comma", "paren", "drop", "comma"])
    if style == "comma":
        return f"{m.group(2)}, {m.group(1)}"
    if style == "paren":
        return f"{m.group(2)} ({m.group(1)})"
    return m.group(2)


def case(text: str, rng: random.Random) -> str:
    style = rng.choice(["upper", "lower", "alt", "title"])
    if style == "upper":
        return text.upper()
    if style == "lower":
        return text.lower()
    if style == "title":
        return text.title()
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(text))


def decorate(text: str, rng: random.Random) -> str:
    left, right = rng.choice(DECOR)
    return f"{left}{text}{right}"


def spaced(text: str, rng: random.Random) -> str:
    sep = rng.choice([" ", " ", "·", "-", "_", " . ", "*", "/"])
    return sep.join(c for c in text if c not in "：:·・ ")


def traditional(text: str, rng: random.Random) -> str:
    return _converter(rng.choice(["s2t", "s2hk", "s2tw", "s2twp"])).convert(text)


def trad_mixed(text: str, rng: random.Random) -> str:
    full = traditional(text, rng)
    if len(full) != len(text):
        return full
    return "".join(t if rng.random() < 0.5 else s for s, t in zip(text, full))


_CONVERTERS: dict[str, object] = {}


def _converter(name: str):  # type: ignore[no-untyped-def]
    if name not in _CONVERTERS:
        import opencc

        _CONVERTERS[name] = opencc.OpenCC(name)
    return _CONVERTERS[name]


ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI"}
UNICODE_ROMAN = {1: "Ⅰ", 2: "Ⅱ", 3: "Ⅲ", 4: "Ⅳ", 5: "Ⅴ", 6: "Ⅵ"}
CN_NUM = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五", 6: "六"}
CN_FIN = {1: "壹", 2: "贰", 3: "叁", 4: "肆", 5: "伍", 6: "陆"}
EN_WORD = {1: "One", 2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six"}
_TRAILING_NUMBER = re.compile(r"^(.*?)(?: |(?<=[\u4e00-\u9fff]))(\d|II|III|IV|V|VI)$")


def sequel_number(text: str) -> tuple[str, int] | None:
    """("Toy Story", 2) of "Toy Story 2"; None when the title ends in no small number."""
    head = re.split(r"[:：]", text)[0].strip()
    m = _TRAILING_NUMBER.match(head)
    if m is None or not m.group(1) or m.group(1)[-1].isdigit():
        return None
    raw = m.group(2)
    value = int(raw) if raw.isdigit() else {v: k for k, v in ROMAN.items()}[raw]
    name = re.sub(r" (Part|Ep\.?|Episode|Chapter)$", "", m.group(1))
    return (name, value) if 1 <= value <= 6 else None


def renumber(head: str, value: int, rng: random.Random, cjk: bool) -> str:
    if cjk:
        style = rng.choice(["cn", "fin", "roman", "uroman", "arabic", "part"])
        num = {"cn": CN_NUM, "fin": CN_FIN, "roman": ROMAN, "uroman": UNICODE_ROMAN}.get(style)
        if num is not None:
            return f"{head}{num[value]}"
        if style == "part":
            return f"{head}第{CN_NUM[value]}部"
        return f"{head}{value}"
    style = rng.choice(["roman", "uroman", "arabic", "part", "partword"])
    if style == "roman":
        return f"{head} {ROMAN[value]}"
    if style == "uroman":
        return f"{head} {UNICODE_ROMAN[value]}"
    if style == "part":
        return f"{head} Part {value}"
    if style == "partword":
        return f"{head} Part {EN_WORD[value]}"
    return f"{head} {value}"


def pinyin(text: str) -> str | None:
    if not all(c in PINYIN for c in text):
        return None
    return " ".join(PINYIN[c] for c in text).title()


# -- listings ---------------------------------------------------------------------------------
class Writer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.listings: list[dict] = []
        self.expected: list[dict] = []

    def add(self, family: str, title: str, ids: list[str], infringing: bool, *,
            cjk: bool, seller: str | None = None, price: float | None = None) -> None:
        rng = self.rng
        lid = f"s{len(self.listings):05d}"
        if cjk:
            market, currency = "taobao", "CNY"
            seller = seller or rng.choice(["光影小店", "碟片仓库", "高清影音", "老李影碟"])
            price = price if price is not None else rng.choice([5, 9.9, 12, 15, 19.9])
        else:
            market, currency = "ebay", "USD"
            seller = seller or rng.choice(["dvd_bargains", "flix-outlet", "movie_barn_22",
                                           "discdepot"])
            price = price if price is not None else rng.choice([2.99, 4.5, 6.99, 9.99])
        title = re.sub(r"\s{2,}", " ", title).strip()
        self.listings.append({"id": lid, "marketplace": market, "title": title, "price": price,
                              "currency": currency, "seller": seller,
                              "url": f"https://{market}.example/item/{lid}"})
        self.expected.append({"id": lid, "catalog_ids": ids if infringing else [],
                              "infringing": infringing, "family": family})


def _with_format(title: str, rng: random.Random, cjk: bool, year: int | None = None) -> str:
    fmt = rng.choice(CN_FORMATS if cjk else EN_FORMATS)
    noise = "" if cjk else rng.choice(EN_NOISE)
    if year is not None and rng.random() < 0.4:
        title = f"{title} ({year})"
    return f"{title} {fmt} {noise}" if rng.random() < 0.8 else f"{noise} {fmt} {title}"


def _chinese_alias(entry: dict, rng: random.Random) -> str | None:
    simplified = [a for a in entry["aliases"] if _is_cjk_only(a)]
    return rng.choice(simplified) if simplified else None


def _is_cjk_only(text: str) -> bool:
    return bool(re.fullmatch(r"[\u4e00-\u9fff0-9：:·・]+", text))


def generate(members: list[dict], others: list[dict], sample: list[dict], rng: random.Random,
             per: int) -> Writer:
    w = Writer(rng)
    en_films = members + [s for s in sample if s["kind"] == "film"]
    cn_films = [s for s in sample if s["kind"] == "film" and _chinese_alias(s, rng)]
    series = [s for s in sample if s["kind"] == "series"]

    def pick(pool: list[dict]) -> dict:
        return rng.choice(pool)

    def en_family(name: str, vary: Callable[[str, random.Random], str],
                  pool: list[dict] | None = None, fmt: bool = True) -> None:
        for _ in range(per):
            f = pick(pool or en_films)
            t = vary(f["title"], rng)
            w.add(name, _with_format(t, rng, False, f["year"]) if fmt else t, [f["id"]], True,
                  cjk=False)

    def cn_family(name: str, vary: Callable[[str, random.Random], str]) -> None:
        for _ in range(per):
            f = pick(cn_films)
            alias = _chinese_alias(f, rng)
            assert alias is not None
            w.add(name, _with_format(vary(alias, rng), rng, True), [f["id"]], True, cjk=True)

    ident = lambda t, r: t
    en_family("en_plain", ident)
    cn_family("cn_plain", ident)
    cn_family("cn_traditional", traditional)
    cn_family("cn_trad_mixed", trad_mixed)
    en_family("en_fullwidth", fullwidth)
    cn_family("cn_fullwidth", lambda t, r: fullwidth(t, r))
    for _ in range(per):  # format words full-width too
        f = pick(cn_films)
        alias = _chinese_alias(f, rng)
        w.add("cn_fullwidth", fullwidth(_with_format(alias, rng, True), rng), [f["id"]], True,
              cjk=True)
    cn_family("cn_spaced", spaced)
    long_titles = [f for f in en_films if len(re.sub("[^A-Za-z]", "", f["title"])) >= 8]
    en_family("en_typo", typo, long_titles)
    with_article = [f for f in en_films if re.match(r"(The|A|An) ", f["title"])]
    en_family("en_article", article, with_article)
    en_family("en_case", case)
    en_family("en_decorated", decorate)
    cn_family("cn_decorated", decorate)

    # sequel numbers
    numbered_en = [(f, sequel_number(f["title"])) for f in en_films]
    numbered_en = [(f, n) for f, n in numbered_en if n]
    numbered_cn = []
    for f in cn_films:
        for a in f["aliases"]:
            n = sequel_number(a)
            if n and _is_cjk_only(n[0]):
                numbered_cn.append((f, n))
    for _ in range(per):
        f, (head, value) = rng.choice(numbered_en)
        w.add("en_numeral", _with_format(renumber(head, value, rng, False), rng, False),
              [f["id"]], True, cjk=False)
        f, (head, value) = rng.choice(numbered_cn)
        w.add("cn_numeral", _with_format(renumber(head, value, rng, True), rng, True),
              [f["id"]], True, cjk=True)
    for _ in range(per):
        f, (head, value) = rng.choice(numbered_en)
        num = rng.choice([str(value), ROMAN[value]])
        fmt = rng.choice(["DVD", "BluRay", "4K", "Bluray", "dvd", "HD"])
        w.add("en_glued_numeral", f"{head} {num}{fmt} {rng.choice(EN_NOISE)}", [f["id"]], True,
              cjk=False)
        f, (head, value) = rng.choice(numbered_cn)
        num = rng.choice([str(value), CN_NUM[value], ROMAN[value]])
        fmt = rng.choice(["蓝光", "DVD", "4K", "高清", "碟片", "D9"])
        w.add("cn_glued_numeral", f"{head}{num}{fmt}", [f["id"]], True, cjk=True)

    # format words glued to titles
    for _ in range(per):
        f = pick(en_films)
        t = rng.choice([f["title"].replace(" ", ""), f["title"]])
        fmt = rng.choice(["DVD", "BluRay", "Bluray", "4K", "UHD", "HD", "1080p"])
        w.add("en_glued_format", f"{t}{fmt} {rng.choice(['New', 'Region 1', ''])}", [f["id"]],
              True, cjk=False)
        f = pick(cn_films)
        alias = _chinese_alias(f, rng)
        fmt = rng.choice(["DVD", "蓝光", "高清", "碟片", "光盘", "BD", "4K"])
        w.add("cn_glued_format", f"{alias}{fmt}{rng.choice(['', ' 国语中字', ' 正版'])}",
              [f["id"]], True, cjk=True)

    # scene names
    for _ in range(per):
        f = pick(en_films)
        words = re.sub(r"[^A-Za-z0-9' ]", " ", f["title"]).split()
        sep = rng.choice([".", "_", ".", " "])
        quality = rng.choice(["1080p.BluRay.x264", "720p.WEB-DL.x265", "2160p.UHD.BluRay.HEVC",
                              "DVDRip.XviD", "1080p.WEBRip.AAC"])
        quality = quality.replace(".", sep)
        name = sep.join(words + [str(f["year"])]) + sep + quality + "-" + rng.choice(SCENE_GROUPS)
        if rng.random() < 0.4:
            name = f"{rng.choice(SCENE_TAGS)} {name}"
        w.add("en_scene", name, [f["id"]], True, cjk=False)

    # years
    for _ in range(per):
        f = pick(en_films)
        style = rng.choice(["({})", "[{}]", "【{}】", "{}", "", "- {} -"])
        y = style.format(f["year"]) if style else ""
        w.add("en_year", f"{f['title']} {y} {rng.choice(EN_FORMATS)}", [f["id"]], True, cjk=False)

    # SEO stuffing
    member_keys = {f["key"] for f in en_films}
    seo_en = [s for s in EN_SEO if _norm(s) not in member_keys]
    for _ in range(per):
        f = pick(en_films)
        before = " ".join(rng.sample(seo_en, rng.randint(2, 4)))
        after = " ".join(rng.sample(seo_en, rng.randint(1, 3)))
        w.add("en_seo", f"{rng.choice(EN_FORMATS)} {before} {f['title']} {after}", [f["id"]],
              True, cjk=False)
        f = pick(cn_films)
        alias = _chinese_alias(f, rng)
        before = " ".join(rng.sample(CN_SEO, rng.randint(2, 4)))
        after = " ".join(rng.sample(CN_SEO, rng.randint(1, 3)))
        w.add("cn_seo", f"{before} {alias} {rng.choice(CN_FORMATS)} {after}", [f["id"]], True,
              cjk=True)

    # collections
    for _ in range(per):
        films = rng.sample(en_films, rng.randint(2, 5))
        sep = rng.choice([s for s in SEPARATORS if s != "、"])
        text = sep.join(f["title"] for f in films)
        w.add("en_collection", f"{text} {rng.choice(['DVD Lot', 'Blu-ray Collection', 'DVD Bundle', 'Movie Collection DVD'])}",
              [f["id"] for f in films], True, cjk=False)
        films = rng.sample(cn_films, rng.randint(2, 5))
        sep = rng.choice(SEPARATORS)
        text = sep.join(_chinese_alias(f, rng) or "" for f in films)
        w.add("cn_collection", f"{text} {rng.choice(['电影合集 DVD', '合集 高清', '套装 蓝光', '全集 网盘'])}",
              [f["id"] for f in films], True, cjk=True)

    # TV
    for _ in range(per // 2):
        s = rng.choice(series)
        alias = rng.choice(s["aliases"])
        n = rng.randint(1, 6)
        m = n + rng.randint(1, 5)
        template = rng.choice([
            f"{alias} 第{n}季 DVD", f"{alias} 第{n}-{m}季 全集 高清", f"{alias} 全季 DVD光盘",
            f"{alias} 1-{m}季 网盘", f"{alias}第{CN_NUM.get(n, n)}季 蓝光"])
        w.add("tv_season", template, [s["id"]], True, cjk=True)
        template = rng.choice([
            f"{s['title']} Season {n} DVD", f"{s['title']} Season {n}-{m} DVD Box Set",
            f"{s['title']} Seasons {n} - {m} Blu-ray", f"{s['title']} The Complete Series DVD",
            f"{s['title']} Complete Series Season 1-{m}", f"{s['title']} S{n:02d} 1080p WEB-DL"])
        w.add("tv_complete", template, [s["id"]], True, cjk=False)

    # never flagged: goods, unrelated, authorised, non-members, pinyin
    varies = [ident, case, decorate, fullwidth]
    for _ in range(per):
        f = pick(en_films)
        t = rng.choice(varies)(f["title"], rng)
        w.add("en_merch", f"{t} {rng.choice(EN_MERCH)}", [f["id"]], False, cjk=False)
        f = pick(cn_films)
        t = rng.choice([ident, traditional, spaced, decorate])(_chinese_alias(f, rng) or "", rng)
        w.add("cn_merch", f"{t} {rng.choice(CN_MERCH)}", [f["id"]], False, cjk=True)
    everyday = [f for f in en_films if f["key"] in EVERYDAY_WORDS]
    for _ in range(per):
        f = pick(everyday)
        word = f["key"].title() if rng.random() < 0.7 else f["key"]
        goods = rng.choice(EVERYDAY_GOODS)
        w.add("en_everyday_decoy", rng.choice([f"{word} {goods}", f"{goods} {word}"]), [f["id"]],
              False, cjk=False)
    for _ in range(per):
        f = pick(en_films)
        w.add("en_authorized", _with_format(rng.choice(varies)(f["title"], rng), rng, False),
              [f["id"]], False, cjk=False, seller=AUTHORIZED[f["member"]][1], price=19.99)
        f = pick(cn_films)
        alias = traditional(_chinese_alias(f, rng) or "", rng) if rng.random() < 0.5 else \
            _chinese_alias(f, rng) or ""
        w.add("cn_authorized", _with_format(alias, rng, True), [f["id"]], False, cjk=True,
              seller=AUTHORIZED[f["member"]][0], price=99.0)
    for _ in range(per):
        f = pick(others)
        vary = rng.choice([ident, case, ident, typo if len(f["title"]) >= 8 else ident])
        w.add("en_non_member", _with_format(vary(f["title"], rng), rng, False, f["year"]), [],
              False, cjk=False)
    for f in cn_films:
        for a in f["aliases"]:
            p = pinyin(a)
            if p and len(a) >= 3:
                w.add("cn_pinyin", f"{p} DVD", [], False, cjk=False)
    return w


def write(folder: Path, catalog: list[dict], w: Writer) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "catalog.csv").open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "member", "title", "year", "aliases", "kind", "release_date",
                      "home_release_date"])
        for f in catalog:
            out.writerow([f["id"], f["member"], f["title"], f["year"], "|".join(f["aliases"]),
                          f["kind"], f.get("release_date", ""), f.get("home_release_date", "")])
    with (folder / "authorized.csv").open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["marketplace", "seller", "member"])
        for member, (taobao, ebay) in AUTHORIZED.items():
            out.writerow(["taobao", taobao, member])
            out.writerow(["ebay", ebay, member])
    with (folder / "listings.jsonl").open("w", encoding="utf-8") as fh:
        for row in w.listings:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (folder / "expected.jsonl").open("w", encoding="utf-8") as fh:
        for row in w.expected:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--movies", type=Path,
                        default=Path(os.environ.get("VEGA_MOVIES", DEFAULT_MOVIES)))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per", type=int, default=60, help="listings per family (about)")
    args = parser.parse_args()
    if not args.movies.exists():
        raise SystemExit(f"{args.movies} not found: npm pack vega-datasets and unpack it "
                         "(see the module docstring), or give --movies")
    rng = random.Random(args.seed)
    members, others = load_movies(args.movies)
    sample = load_sample()
    catalog = sorted(members, key=lambda f: f["id"]) + sample
    w = generate(members, others, sample, rng, args.per)
    write(args.folder, catalog, w)
    fams: dict[str, int] = {}
    for e in w.expected:
        fams[e["family"]] = fams.get(e["family"], 0) + 1
    print(f"{args.folder}: {len(catalog)} catalogue titles ({len(members)} from the movies file, "
          f"{len(sample)} from the demo catalogue), {len(w.listings)} listings in {len(fams)} "
          f"families; {len(others)} non-member films as decoys")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
