"""Evidence capture cost: milliseconds per captured listing, alone and on top of a crawl.

Starts the demo marketplaces (``DemoServerProcess``, anti-bot limit off) and measures two ways:

* ``capture``: in this process, N active demomart listing pages are fetched over HTTP (as
  Scrapy ``HtmlResponse``s) and each is captured one after the other with
  ``crawler.evidence.capture.capture_listing`` on a warm dedicated chromium: WARC, rendered HTML,
  full-page PNG, fields and decision JSON, SHA-256, content-addressed files (fsync'd) and the
  chain append into a fresh SQLite file. Median and p90 ms per listing; the first capture
  (browser start) is reported apart. This is the latency a captured listing adds.
* ``crawl``: ``reelguard crawl search`` of catalogue keywords on demomart, in a child process,
  with ``REELGUARD_EVIDENCE=false`` and ``true`` (interleaved, ``--repeat`` times, medians).
  The wall-clock difference divided by the listings captured is the cost per listing *on top
  of the crawl* (captures overlap with the crawl's own fetching); the pipeline's own per-capture
  latency (stats ``reelguard/evidence/capture_ms_median``/``_p90``, which include waiting for a
  page and the browser's start) is printed beside it.

Aim: median under 200 ms per captured listing on top of the crawl.
Writes ``var/bench/evidence.json``.

``python bench/evidence.py [--listings 40] [--repeat 3] [--keywords 盗梦空间,黑客帝国]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from crawler.demo.server import DemoServerProcess, SiteOptions


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def listing_urls(base: str, n: int) -> list[tuple[str, str]]:
    from crawler.demo.demomart import DemomartSite
    from crawler.demo.server import SITES_DIR
    from crawler.pages import get_pages

    site = DemomartSite(SITES_DIR / "demomart", SiteOptions())
    pages = get_pages("demomart")
    ids = [k for k, v in site.listings.items() if v.get("status") == "active"][:n]
    return [(i, pages.listing_url(base, i)) for i in ids]


async def bench_capture(base: str, n: int, workdir: Path) -> dict[str, Any]:
    from scrapy.http import HtmlResponse, Request

    from crawler.db.session import session_factory, upgrade
    from crawler.evidence.capture import DedicatedRenderer, capture_listing
    from crawler.evidence.store import EvidenceStore
    from crawler.items import CrawledListing, ListingItem
    from crawler.storage import open_database

    url = f"sqlite:///{workdir / 'capture.db'}"
    upgrade(url)
    db = open_database(url, migrate=False)
    sessions = session_factory(db.engine)
    store = EvidenceStore(workdir / "evidence")
    renderer = DedicatedRenderer(max_pages=1)
    responses = []
    for key, page_url in listing_urls(base, n + 1):
        req = Request(page_url)
        with urllib.request.urlopen(page_url, timeout=10) as fh:  # noqa: ASYNC210 - setup
            body = fh.read()
            headers = dict(fh.headers.items())
        responses.append((key, HtmlResponse(page_url, body=body, headers=headers, request=req)))
    durations: list[float] = []
    parts: dict[str, list[float]] = {"render": [], "write": []}
    first = None
    try:
        for i, (key, response) in enumerate(responses):
            item = CrawledListing(
                listing=ListingItem(listing_id=key, url=response.url, title=key,
                                    marketplace="demomart"),
                response=response,
                decision={"decision": "takedown", "member": "bench", "score": 1.0},
                members=["bench"],
            )
            start = time.perf_counter()
            result = await capture_listing(item, sessions=sessions, store=store,
                                           renderer=renderer, user_agent="bench")
            elapsed = (time.perf_counter() - start) * 1000
            if i == 0:
                first = elapsed
                continue
            durations.append(elapsed)
            for part, values in parts.items():
                values.append(result.timings_ms.get(part, 0.0))
    finally:
        await renderer.close()
        db.engine.dispose()
    return {
        "listings": len(durations),
        "first_ms": round(first or 0.0, 1),
        "median_ms": round(statistics.median(durations), 1),
        "p90_ms": round(pct(durations, 0.9), 1),
        "render_median_ms": round(statistics.median(parts["render"]), 1),
        "write_median_ms": round(statistics.median(parts["write"]), 1),
    }


def run_crawl(urls: dict[str, str], keywords: str, evidence: bool, workdir: Path,
              tag: str) -> dict[str, Any]:
    run_dir = workdir / tag
    run_dir.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{run_dir / 'x.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REELGUARD_", "SCRAPY_"))}
    env["REELGUARD_ALLOWED_PRIVATE_HOSTS"] = "127.0.0.1"
    cli = [sys.executable, "-m", "crawler.cli"]
    subprocess.run([*cli, "catalog", "import", str(REPO / "fixtures/catalogs/sample_catalog.csv"),
                    "--authorized", str(REPO / "fixtures/catalogs/authorized.csv"), "--db", db],
                   cwd=run_dir, env=env, check=True, capture_output=True)
    start = time.perf_counter()
    proc = subprocess.run(
        [*cli, "crawl", "search", "-m", "demomart", "--url", f"demomart={urls['demomart']}",
         "--keywords", keywords, "--db", db, "--set",
         f"REELGUARD_EVIDENCE={'true' if evidence else 'false'}"],
        cwd=run_dir, env=env, capture_output=True, text=True, check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"crawl failed ({proc.returncode}): {proc.stderr[-2000:]}")
    con = sqlite3.connect(run_dir / "x.db")
    try:
        stats = json.loads(con.execute(
            "SELECT stats FROM crawl_runs ORDER BY id DESC LIMIT 1").fetchone()[0] or "{}")
        started, finished = con.execute(
            "SELECT started_at, finished_at FROM crawl_runs ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        con.close()
    from datetime import datetime
    crawl_s = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    return {
        "wall_s": wall,
        "crawl_s": crawl_s,
        "listings": stats.get("item_scraped_count", 0),
        "captured": stats.get("reelguard/evidence/captured", 0),
        "failed": stats.get("reelguard/evidence/failed", 0),
        "capture_ms_median": stats.get("reelguard/evidence/capture_ms_median"),
        "capture_ms_p90": stats.get("reelguard/evidence/capture_ms_p90"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keywords", default="盗梦空间,黑客帝国,蝙蝠侠：黑暗骑士")
    parser.add_argument("--skip-crawl", action="store_true")
    args = parser.parse_args()
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    server = DemoServerProcess(sites=("demomart",), options=SiteOptions(rate_limit=0))
    server.start()
    out: dict[str, Any] = {"machine": platform.node(), "cpus": os.cpu_count()}
    try:
        with tempfile.TemporaryDirectory(prefix="rg-bench-evidence-") as tmp:
            work = Path(tmp)
            cap = asyncio.run(bench_capture(server.urls["demomart"], args.listings, work))
            out["capture"] = cap
            print(f"capture, {cap['listings']} listings one at a time (warm browser): "
                  f"median {cap['median_ms']} ms, p90 {cap['p90_ms']} ms "
                  f"(render+screenshot median {cap['render_median_ms']} ms, hash+store+chain "
                  f"median {cap['write_median_ms']} ms; first capture incl. browser start "
                  f"{cap['first_ms']} ms)")
            if not args.skip_crawl:
                runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
                for r in range(args.repeat):
                    for mode in ("off", "on"):
                        runs[mode].append(run_crawl(server.urls, args.keywords, mode == "on",
                                                    work, f"{mode}-{r}"))
                off = statistics.median(x["crawl_s"] for x in runs["off"])
                on = statistics.median(x["crawl_s"] for x in runs["on"])
                captured = statistics.median(x["captured"] for x in runs["on"])
                per = (on - off) * 1000 / captured if captured else float("nan")
                crawl = {
                    "repeat": args.repeat, "keywords": args.keywords,
                    "listings": runs["on"][0]["listings"], "captured": captured,
                    "crawl_s_without": round(off, 2), "crawl_s_with": round(on, 2),
                    "ms_per_captured_listing_on_top": round(per, 1),
                    "pipeline_capture_ms_median": statistics.median(
                        x["capture_ms_median"] or 0 for x in runs["on"]),
                    "pipeline_capture_ms_p90": statistics.median(
                        x["capture_ms_p90"] or 0 for x in runs["on"]),
                    "failed": sum(x["failed"] for x in runs["on"]),
                    "runs": runs,
                }
                out["crawl"] = crawl
                print(f"crawl search ({crawl['listings']} listings, {captured} captured), median "
                      f"of {args.repeat}: {off:.2f} s without evidence, {on:.2f} s with: "
                      f"{per:.0f} ms per captured listing on top of the crawl; the pipeline's "
                      f"own capture latency median {crawl['pipeline_capture_ms_median']} ms, "
                      f"p90 {crawl['pipeline_capture_ms_p90']} ms")
    finally:
        server.stop()
    aim = out["capture"]["median_ms"] < 200
    print(f"aim (median < 200 ms per captured listing): {'met' if aim else 'NOT met'}")
    path = REPO / "var" / "bench" / "evidence.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, ensure_ascii=False, indent=2, default=str))
    print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
