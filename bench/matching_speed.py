"""Throughput and memory of the matching engine as the catalogue grows.

    .venv/bin/python bench/matching_speed.py [--listings 100000] [--sizes 1000,10000,50000]

Catalogues of 1,000, 10,000 and 50,000 titles are synthesised from real film titles (the
development catalogue's English titles and Chinese aliases, recombined word by word and
character by character, so that keys share words and prefixes the way real catalogues do);
listings are synthesised from them with marketplace noise (format and bootleg words, years,
spacing, traditional characters, goods words) plus a third of listings that name no title.
``MatchEngine.match`` runs in-process on one core. Reported per size: index build time,
listings/s, and memory (RSS growth for the engine, peak RSS of the process).
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

from crawler.catalog.importer import CatalogEntry
from crawler.matching.engine import MatchEngine

DEV = ROOT.parent / "shared" / "data" / "eval" / "matching-dev" / "catalog.csv"
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
    parser.add_argument("--sizes", default="1000,10000,50000")
    args = parser.parse_args()
    rng = random.Random(7)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'titles':>7} {'keys':>7} {'build s':>8} {'listings':>9} {'listings/s':>11} "
          f"{'engine MB':>10} {'peak RSS MB':>12} {'flagged':>8}")
    for size in sizes:
        entries = synth_catalog(size, rng)
        listings = synth_listings(entries, args.listings, rng)
        gc.collect()
        before = rss_mb()
        started = time.perf_counter()
        engine = MatchEngine(entries, [], today=dt.date(2026, 1, 1))
        engine.match({"id": "warm", "title": "warm up", "marketplace": "x"})
        build = time.perf_counter() - started
        gc.freeze()  # as reelguard match does: the index is long-lived, keep it out of GC scans
        engine_mb = rss_mb() - before
        match = engine.match
        flagged = 0
        started = time.perf_counter()
        for listing in listings:
            if match(listing).decision != "none":
                flagged += 1
        elapsed = time.perf_counter() - started
        print(f"{size:>7} {len(engine.index.keys):>7} {build:>8.2f} {len(listings):>9} "
              f"{len(listings) / elapsed:>11,.0f} {engine_mb:>10.1f} {peak_mb():>12.1f} "
              f"{flagged:>8}")
        del engine, listings
        gc.unfreeze()
        gc.collect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
