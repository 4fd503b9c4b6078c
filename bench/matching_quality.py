"""Precision and recall of ``reelguard match`` on a labelled folder.

    .venv/bin/python bench/matching_quality.py [FOLDER] [--demo] [--show-errors N]

FOLDER (default ``../shared/data/eval/matching-dev`` from the repository root) holds
``catalog.csv``, ``authorized.csv``, ``listings.jsonl`` and the labels ``expected.jsonl``
(``{"id", "catalog_ids", "infringing", "family"}``). The command runs as a subprocess, exactly
as a user would run it. A listing is *flagged* when its decision is ``takedown`` or
``review``; a flagged listing is a true positive only if it is infringing and its
``catalog_id`` is one of the expected ids. Figures are printed overall, per family, for
takedown only, and as a confusion summary (expected family x decision).

``--demo`` scores the demo marketplaces instead (``fixtures/sites/*/listings.jsonl`` against
``fixtures/catalogs/``): their ground truth counts a listing as infringing only when one of
its works is in the sample catalogue. Exits 0.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "data" / "eval" / "matching-dev"


def run_match(catalog: Path, authorized: Path | None, listings: Path, out: Path) -> float:
    cmd = [sys.executable, "-m", "crawler.cli", "match", "--catalog", str(catalog),
           "--listings", str(listings), "--out", str(out)]
    if authorized is not None:
        cmd += ["--authorized", str(authorized)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        raise SystemExit(f"reelguard match failed with exit code {proc.returncode}")
    tail = proc.stderr.strip().splitlines()
    if tail:
        print(tail[-1])
    return elapsed


def demo_inputs(tmp: Path) -> tuple[Path, Path, Path, list[dict]]:
    catalog = ROOT / "fixtures" / "catalogs" / "sample_catalog.csv"
    ids = {line.split(",", 1)[0] for line in catalog.read_text(encoding="utf-8").splitlines()[1:]}
    listings = tmp / "listings.jsonl"
    expected: list[dict] = []
    with listings.open("w", encoding="utf-8") as fh:
        for site in ("demomart", "demobay"):
            currency = json.loads((ROOT / "fixtures" / "sites" / site / "site.json")
                                  .read_text(encoding="utf-8"))["currency"]
            for line in (ROOT / "fixtures" / "sites" / site / "listings.jsonl").open(encoding="utf-8"):
                row = json.loads(line)
                lid = f"{site}:{row['id']}"
                fh.write(json.dumps({
                    "id": lid, "marketplace": site, "title": row["title"], "price": row["price"],
                    "currency": currency, "seller": row["seller_id"],
                    "url": f"https://{site}.example/item/{row['id']}",
                    "description": row.get("description"),
                }, ensure_ascii=False) + "\n")
                members = [c for c in row["catalog_ids"] if c in ids]
                expected.append({"id": lid, "catalog_ids": members,
                                 "infringing": bool(row["infringing"] and members),
                                 "family": f"{site}/{row['category']}"
                                           + ("" if members or not row["catalog_ids"] else "/non-member")})
    return catalog, ROOT / "fixtures" / "catalogs" / "authorized.csv", listings, expected


def score(expected: list[dict], decisions: dict[str, dict], flagged_when: tuple[str, ...]
          ) -> tuple[dict, dict[str, dict]]:
    overall: Counter = Counter()
    per_family: dict[str, Counter] = defaultdict(Counter)
    for exp in expected:
        got = decisions.get(exp["id"])
        flagged = got is not None and got["decision"] in flagged_when
        right_id = got is not None and got["catalog_id"] in exp["catalog_ids"]
        for c in (overall, per_family[exp["family"]]):
            c["n"] += 1
            if exp["infringing"]:
                c["pos"] += 1
                if flagged and right_id:
                    c["tp"] += 1
                elif flagged:
                    c["fp"] += 1  # flagged with the wrong work
                    c["wrong_id"] += 1
                    c["fn"] += 1
                else:
                    c["fn"] += 1
            elif flagged:
                c["fp"] += 1
    return overall, per_family


def _pr(c: Counter) -> tuple[str, str]:
    flagged = c["tp"] + c["fp"]
    p = f"{c['tp'] / flagged:.3f}" if flagged else "  -  "
    r = f"{c['tp'] / c['pos']:.3f}" if c["pos"] else "  -  "
    return p, r


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--demo", action="store_true", help="score the demo marketplaces")
    parser.add_argument("--show-errors", type=int, default=0, metavar="N",
                        help="print up to N wrong listings per family")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        if args.demo:
            catalog, authorized, listings, expected = demo_inputs(tmp)
            label = "demo marketplaces (fixtures/sites)"
        else:
            folder = args.folder.resolve()
            catalog, listings = folder / "catalog.csv", folder / "listings.jsonl"
            authorized = folder / "authorized.csv" if (folder / "authorized.csv").exists() else None
            expected = [json.loads(line) for line in (folder / "expected.jsonl").open(encoding="utf-8")]
            label = str(folder)
        out = tmp / "decisions.jsonl"
        elapsed = run_match(catalog, authorized, listings, out)
        decisions = {}
        for line in out.open(encoding="utf-8"):
            row = json.loads(line)
            decisions[row["id"]] = row
        titles = {json.loads(line)["id"]: json.loads(line)["title"]
                  for line in listings.open(encoding="utf-8") if line.strip()}

    print(f"\n{label}: {len(expected)} listings, {elapsed:.1f} s for the whole command")
    overall, families = score(expected, decisions, ("takedown", "review"))
    strict, strict_families = score(expected, decisions, ("takedown",))
    p, r = _pr(overall)
    sp, sr = _pr(strict)
    print(f"\nflagged = takedown or review:  precision {p}  recall {r}  "
          f"(tp {overall['tp']}, fp {overall['fp']}, fn {overall['fn']}, "
          f"wrong work {overall['wrong_id']})")
    print(f"takedown only:                 precision {sp}  recall {sr}")
    print(f"\n{'family':32} {'n':>5} {'pos':>5} {'prec':>6} {'recall':>6} {'td-prec':>7} {'td-rec':>6}")
    for fam in sorted(families):
        c = families[fam]
        p, r = _pr(c)
        sp, sr = _pr(strict_families[fam])
        print(f"{fam:32} {c['n']:>5} {c['pos']:>5} {p:>6} {r:>6} {sp:>7} {sr:>6}")

    print("\nconfusion (family: decisions)")
    by_family: dict[str, Counter] = defaultdict(Counter)
    for exp in expected:
        got = decisions.get(exp["id"])
        by_family[exp["family"]][got["decision"] if got else "missing"] += 1
    for fam in sorted(by_family):
        cnt = by_family[fam]
        print(f"  {fam:32} " + "  ".join(f"{k} {cnt[k]}" for k in ("takedown", "review", "none", "missing") if cnt[k]))

    if args.show_errors:
        shown: Counter = Counter()
        print("\nerrors")
        for exp in expected:
            got = decisions.get(exp["id"]) or {"decision": "missing", "catalog_id": None, "signals": []}
            flagged = got["decision"] in ("takedown", "review")
            ok = (flagged and got["catalog_id"] in exp["catalog_ids"]) if exp["infringing"] else not flagged
            if ok or shown[exp["family"]] >= args.show_errors:
                continue
            shown[exp["family"]] += 1
            sig = "; ".join(f"{s['name']} {s['weight']:+g} [{s['evidence']}]" for s in got["signals"])
            print(f"  [{exp['family']}] {titles.get(exp['id'])!r} expected {exp['catalog_ids']} "
                  f"got {got['decision']} {got['catalog_id']} score {got.get('score')} :: {sig}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
