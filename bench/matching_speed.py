"""Throughput and memory of the matching engine as the catalogue grows.

    .venv/bin/python bench/matching_speed.py [--listings 100000] [--sizes 2000,50000]

Catalogues of 1,000, 10,000 and 50,000 titles are synthesised from real film titles (the
development catalogue's English titles and Chinese aliases, recombined word by word and
character by character, so that keys share words and prefixes the way real catalogues do);
listings are synthesised from them with marketplace noise (format and bootleg words, years,
spacing, traditional characters, goods words), keyword-stuffed listings (a dozen search words
around the title) and obfuscated ones (the evasions of ``bench/matching_evasion.py``: split
letters, zero-width characters, emoji, leetspeak, look-alike letters), plus a third of listings
that name no title. ``MatchEngine.match`` runs in-process on one core. Reported per size: index
build time, listings/s, memory (RSS growth for the engine, peak RSS of the process), and the
matcher's cost per listing as a multiple of one Aho-Corasick pass (the engine's own automaton,
``iter`` over every hit) over the same listings' normalised titles, timed in the same run.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gc
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.matching_evasion import (
    DEV as DEV_FOLDER,
)
from bench.matching_evasion import (
    confusable,
    emoji_inside,
    leetspeak,
    split_letters,
    zero_width,
)
from crawler.catalog.importer import CatalogEntry
from crawler.matching.engine import MatchEngine
from crawler.matching.normalize import normalize_text

DEV = DEV_FOLDER / "catalog.csv"
STUFF = ["Movie", "Film", "Classic", "Hollywood", "Full HD", "Free Shipping", "Rare", "Region Free",
         "Widescreen", "Collector", "Fast Ship", "Gift", "Sealed", "Family", "Kids", "Action",
         "Oscar", "Christmas", "Cheap", "Lot", "US Seller", "Best", "Blockbuster"]
EVASIONS = [split_letters, zero_width, emoji_inside, leetspeak, confusable]
NOISE_EN = ["DVD", "Blu-ray", "4K UHD", "Region Free", "New Sealed", "Digital Download Link",
            "Rare Cam Copy", "Box Set", "Widescreen", "Fast Ship", "Poster", "T-Shirt",
            "Soundtrack CD", "Free Shipping", "1080p", "Complete Collection"]
NOISE_ZH = ["蓝光", "DVD", "高清", "碟片", "百度网盘", "枪版", "国语中字", "全新未拆", "海报", "手办",
            "合集", "4K", "D9", "自动发货", "原声CD", "正版"]
UNRELATED = ["USB Charger 20W", "运动鞋 男 透气", "Stainless Steel Water Bottle", "手机壳 防摔",
             "LED Desk Lamp", "纯棉四件套", "Wireless Earbuds", "猫粮 10斤装", "Yoga Mat",
             "保温杯 500ml"]


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def real_titles() -> tuple[list[str], list[str]]:
    english, chinese = [], []
    with DEV.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            english.append(row["title"])
            chinese.extend(a for a in row["aliases"].split("|") if a)
    return english, chinese


def synth_catalog(size: int, rng: random.Random) -> list[CatalogEntry]:
    english, chinese = real_titles()
    words = sorted({w for t in english for w in t.replace(":", "").split() if w.isalpha()})
    chars = sorted({c for a in chinese for c in a if "\u4e00" <= c <= "\u9fff"})
    entries: list[CatalogEntry] = []
    seen: set[str] = set()
    real = iter(english)
    while len(entries) < size:
        title = next(real, None)
        if title is None:
            title = " ".join(rng.choice(words) for _ in range(rng.randint(2, 4)))
            if rng.random() < 0.15:
                title += f" {rng.randint(2, 5)}"
        if title.lower() in seen:
            continue
        seen.add(title.lower())
        aliases = ["".join(rng.choice(chars) for _ in range(rng.randint(3, 7)))
                   for _ in range(rng.randint(1, 3))]
        year = rng.randint(1930, 2025)
        entries.append(CatalogEntry(id=f"syn-{len(entries)}", member=f"Member {len(entries) % 7}",
                                    title=title, year=year, aliases=aliases, kind="film"))
    return entries


def synth_listings(entries: list[CatalogEntry], n: int, rng: random.Random) -> list[dict]:
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.33:
            title = rng.choice(UNRELATED)
        elif r < 0.5:  # keyword-stuffed
            e = rng.choice(entries)
            words = rng.sample(STUFF, rng.randint(6, 12))
            cut = rng.randint(0, len(words))
            title = " ".join([*words[:cut], e.title, rng.choice(NOISE_EN), *words[cut:]])
        elif r < 0.67:  # obfuscated
            e = rng.choice(entries)
            if rng.random() < 0.3:
                name = rng.choice([emoji_inside, zero_width])(rng.choice(e.aliases), rng)
                title = f"{rng.choice(NOISE_ZH)} {name} {rng.choice(NOISE_ZH)}"
            else:
                name = rng.choice(EVASIONS)(e.title, rng)
                title = f"{name} {' '.join(rng.sample(NOISE_EN, 2))} {rng.choice(STUFF)}"
        else:
            e = rng.choice(entries)
            if rng.random() < 0.5:
                name = e.title
                noise = rng.sample(NOISE_EN, 2)
                title = f"{name} ({e.year}) {noise[0]} {noise[1]}" if rng.random() < 0.5 \
                    else f"NEW {name} {noise[0]} {noise[1]}"
            else:
                name = rng.choice(e.aliases)
                noise = rng.sample(NOISE_ZH, 2)
                if rng.random() < 0.3:
                    name = " ".join(name)  # spaced out
                title = f"{noise[0]}{name} {noise[1]}"
        out.append({"id": str(i), "marketplace": "taobao" if i % 2 else "ebay", "title": title,
                    "price": round(rng.uniform(1, 80), 2), "currency": "CNY" if i % 2 else "USD",
                    "seller": f"seller{i % 500}", "url": f"https://example.test/{i}"})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--sizes", default="2000,50000")
    args = parser.parse_args()
    rng = random.Random(7)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'titles':>7} {'keys':>7} {'build s':>8} {'listings':>9} {'listings/s':>11} "
          f"{'engine MB':>10} {'peak RSS MB':>12} {'flagged':>8} {'AC us':>6} {'match us':>8} "
          f"{'x AC':>5}")
    for size in sizes:
        entries = synth_catalog(size, rng)
        listings = synth_listings(entries, args.listings, rng)
        gc.collect()
        before = rss_mb()
        started = time.perf_counter()
        engine = MatchEngine(entries, [], today=dt.date(2026, 1, 1))
        engine.match({"id": "warm", "title": "warm up", "marketplace": "x"})
        engine.index.candidates("warm up")  # the fuzzy postings and the pinyin index are built
        _ = engine.index.pinyin              # on first use: count them in the build
        build = time.perf_counter() - started
        gc.freeze()  # as reelguard match does: the index is long-lived, keep it out of GC scans
        engine_mb = rss_mb() - before
        match = engine.match
        texts = [normalize_text(listing["title"]) for listing in listings]
        automaton = engine.index.automaton
        started = time.perf_counter()
        for text in texts:
            for _hit in automaton.iter(text):
                pass
        ac = (time.perf_counter() - started) / len(texts)
        flagged = 0
        started = time.perf_counter()
        for listing in listings:
            if match(listing).decision != "none":
                flagged += 1
        elapsed = time.perf_counter() - started
        per = elapsed / len(listings)
        print(f"{size:>7} {len(engine.index.keys):>7} {build:>8.2f} {len(listings):>9} "
              f"{len(listings) / elapsed:>11,.0f} {engine_mb:>10.1f} {peak_mb():>12.1f} "
              f"{flagged:>8} {ac * 1e6:>6.2f} {per * 1e6:>8.1f} {per / ac:>5.1f}")
        del engine, listings
        gc.unfreeze()
        gc.collect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
