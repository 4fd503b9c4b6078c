"""Crawl throughput: the full Reelguard pipeline beside bare Scrapy and bare Playwright.

Starts the demo marketplaces (``DemoServerProcess``, anti-bot limit off) and fetches one fixed
list of active listing pages from both marketplaces four ways, each in its own child process
(Twisted's reactor runs once per process, and a fresh process keeps the runs independent):

* ``http/bare``: a minimal Scrapy spider, default components, title extracted with parsel;
* ``http/pipeline``: the ``listing`` spider with every Reelguard middleware, the normalise and
  store pipelines (a fresh SQLite file), block detection and the SSRF guard;
* ``http/bare+items``: the same spider with the project's ``CONCURRENT_ITEMS`` as well (the
  project lowers it from Scrapy's 100; this row shows what that knob alone gives bare Scrapy);
* ``browser/bare``: Playwright's async API, Debian's chromium, K pages reused, ``goto`` +
  ``content()``;
* ``browser/pipeline``: the ``listing`` spider with ``REELGUARD_BROWSER=always``
  (scrapy-playwright through ``PagePoolPlaywrightHandler``).

Both sides of a pair use the same concurrency, robots.txt and AutoThrottle settings. A rate is
pages (or listings) divided by the time from the crawl's start (``spider_opened``; for bare
Playwright, starting Playwright) to its end (the engine going idle; the last page): browser
start-up is inside the window on both sides. Prints a table and writes ``var/bench/crawl.json``.

``python bench/crawl.py [--pages 1500] [--browser-pages 200] [--repeat 1] [--skip-browser]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUT_PATH = ROOT / "var" / "bench" / "crawl.json"
AIM_HTTP = 0.70
AIM_BROWSER = 0.80

# Politeness and concurrency shared by both sides of each pair (bare Scrapy takes them from here
# so a change in crawler/settings.py changes both).
SHARED_SETTINGS = (
    "CONCURRENT_REQUESTS",
    "CONCURRENT_REQUESTS_PER_DOMAIN",
    "DOWNLOAD_DELAY",
    "AUTOTHROTTLE_ENABLED",
    "AUTOTHROTTLE_START_DELAY",
    "AUTOTHROTTLE_MAX_DELAY",
    "AUTOTHROTTLE_TARGET_CONCURRENCY",
    "ROBOTSTXT_OBEY",
    "USER_AGENT",
    "LOG_LEVEL",
    "TWISTED_REACTOR",
    "DOWNLOAD_TIMEOUT",
    "TELNETCONSOLE_ENABLED",
)

TITLE_QUERY = "#J_Title ::text, h1#itemTitle::text"


# --------------------------------------------------------------------------- the URL list


def listing_targets(urls: dict[str, str], n: int) -> list[tuple[str, str]]:
    """``n`` (marketplace, listing URL) pairs, the marketplaces interleaved, active listings."""
    from crawler.pages import get_pages

    per: dict[str, list[str]] = {}
    for market, base in urls.items():
        pages = get_pages(market)
        path = ROOT / "fixtures" / "sites" / market / "listings.jsonl"
        ids = []
        with path.open(encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                if row.get("status", "active") == "active":
                    ids.append(row["id"])
        per[market] = [pages.listing_url(base, i) for i in ids]
    out: list[tuple[str, str]] = []
    i = 0
    while len(out) < n:
        added = False
        for market, lst in per.items():
            if i < len(lst) and len(out) < n:
                out.append((market, lst[i]))
                added = True
        if not added:
            break  # fewer active listings than asked for: use them all
        i += 1
    return out


# --------------------------------------------------------------------------- timing (children)


class RateTimer:
    """Scrapy extension: time from ``spider_opened`` to the last ``spider_idle``; count pages."""

    def __init__(self, crawler: Any) -> None:
        from scrapy import signals

        self.crawler = crawler
        self.opened = self.idle = 0.0
        self.cpu_opened = self.cpu_idle = 0.0
        self.pages = 0
        self.listings = 0
        crawler.signals.connect(self.on_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.on_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.on_response, signal=signals.response_received)
        crawler.signals.connect(self.on_item, signal=signals.item_scraped)
        crawler.signals.connect(self.on_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> RateTimer:
        return cls(crawler)

    def on_opened(self, **_: Any) -> None:
        self.opened = time.perf_counter()
        self.cpu_opened = time.process_time()

    def on_idle(self, **_: Any) -> None:
        self.idle = time.perf_counter()
        self.cpu_idle = time.process_time()

    def on_response(self, response: Any, **_: Any) -> None:
        if not response.url.endswith("/robots.txt"):
            self.pages += 1

    def on_item(self, item: Any, **_: Any) -> None:
        # The pipeline's items are ListingItems (or CrawledListings wrapping one); bare
        # Scrapy's are dicts with the title.
        if type(item).__name__ in ("ListingItem", "CrawledListing") or (
            isinstance(item, dict) and item.get("title")
        ):
            self.listings += 1

    def on_closed(self, **_: Any) -> None:
        stats = self.crawler.stats
        stats.set_value("bench/seconds", self.idle - self.opened)
        stats.set_value("bench/cpu_seconds", self.cpu_idle - self.cpu_opened)
        stats.set_value("bench/pages", self.pages)
        stats.set_value("bench/listings", self.listings)


def _figures(stats: dict[str, Any], **extra: Any) -> dict[str, Any]:
    seconds = float(stats["bench/seconds"])
    pages, listings = int(stats["bench/pages"]), int(stats["bench/listings"])
    return {
        "pages": pages,
        "listings": listings,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(float(stats["bench/cpu_seconds"]), 3),
        "cpu_ms_per_page": round(1000 * float(stats["bench/cpu_seconds"]) / pages, 3)
        if pages else None,
        "pages_per_s": round(pages / seconds, 1) if seconds > 0 else None,
        "listings_per_s": round(listings / seconds, 1) if seconds > 0 else None,
        **extra,
    }


def child_bare_scrapy(spec: dict[str, Any]) -> dict[str, Any]:
    import scrapy
    from scrapy.crawler import AsyncCrawlerProcess
    from scrapy.settings import Settings

    from crawler.monitor.runner import project_settings

    project = project_settings()
    settings = Settings()
    for key in SHARED_SETTINGS + tuple(spec.get("also_share", ())):
        settings.set(key, project.get(key))
    settings.set("EXTENSIONS", {f"{__name__}.RateTimer": 900})
    targets = spec["targets"]

    class BareSpider(scrapy.Spider):
        name = "bare"

        async def start(self):  # type: ignore[no-untyped-def]
            for market, url in targets:
                # The pipeline gives each marketplace its own download slot; so does this.
                yield scrapy.Request(url, meta={"download_slot": market})

        def parse(self, response):  # type: ignore[no-untyped-def]
            yield {"title": response.css(TITLE_QUERY).get()}

    process = AsyncCrawlerProcess(settings)
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler)
    process.start()
    assert crawler.stats is not None
    return _figures(crawler.stats.get_stats())


def child_pipeline(spec: dict[str, Any]) -> dict[str, Any]:
    from crawler.monitor.runner import project_settings, run_single_crawl

    extensions = dict(project_settings().getdict("EXTENSIONS"))
    extensions[f"{__name__}.RateTimer"] = 900
    overrides: dict[str, Any] = {
        "EXTENSIONS": extensions,
        "REELGUARD_ALLOWED_PRIVATE_HOSTS": ["127.0.0.1"],
        "REELGUARD_BROWSER": spec["browser_mode"],
        **spec.get("settings", {}),
    }
    if spec.get("profile"):
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    with tempfile.TemporaryDirectory(prefix="rg-bench-") as tmp:
        result = run_single_crawl(
            "listing",
            marketplace_urls=spec["urls"],
            database_url=f"sqlite:///{tmp}/bench.db",
            spider_args={"urls": ",".join(u for _, u in spec["targets"])},
            overrides=overrides,
        )
    if spec.get("profile"):
        prof.disable()
        prof.dump_stats(spec["profile"])
    stats = result.crawls[0].stats
    return _figures(
        stats,
        status=result.status,
        stored_listings=result.totals.get("listings"),
        blocked=stats.get("reelguard/blocked", 0),
        errors=stats.get("reelguard/errors", 0),
        browser_pages_created=stats.get("reelguard/browser/pages_created"),
    )


async def _bare_playwright(spec: dict[str, Any]) -> dict[str, Any]:
    from parsel import Selector
    from playwright.async_api import async_playwright

    from crawler.browser.launch import launch_options
    from crawler.monitor.runner import project_settings

    k = project_settings().getint("PLAYWRIGHT_MAX_PAGES_PER_CONTEXT")
    queue: asyncio.Queue[str] = asyncio.Queue()
    for _, url in spec["targets"]:
        queue.put_nowait(url)
    counts = {"pages": 0, "listings": 0}
    started, cpu_started = time.perf_counter(), time.process_time()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**launch_options())
        context = await browser.new_context()

        async def worker() -> None:
            page = await context.new_page()
            while not queue.empty():
                url = queue.get_nowait()
                await page.goto(url)
                html = await page.content()
                counts["pages"] += 1
                if Selector(text=html).css(TITLE_QUERY).get():
                    counts["listings"] += 1

        await asyncio.gather(*(worker() for _ in range(k)))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        chromium = browser.version
        await browser.close()
    stats = {
        "bench/seconds": seconds,
        "bench/cpu_seconds": cpu,
        "bench/pages": counts["pages"],
        "bench/listings": counts["listings"],
    }
    return _figures(stats, pages_in_browser=k, chromium=chromium)


def child_bare_playwright(spec: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_bare_playwright(spec))


CHILDREN = {
    "http/bare": child_bare_scrapy,
    "http/bare+items": child_bare_scrapy,  # bare, with the project's CONCURRENT_ITEMS too
    "http/pipeline": child_pipeline,
    "browser/bare": child_bare_playwright,
    "browser/pipeline": child_pipeline,
}


def run_child(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measured crawl in a fresh interpreter; return its figures."""
    with tempfile.TemporaryDirectory(prefix="rg-bench-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps({**spec, "out": str(out_path)}), encoding="utf-8")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, str(spec_path)]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0 or not out_path.exists():
            sys.stderr.write(proc.stderr[-4000:])
            raise RuntimeError(f"{kind}: the measured crawl failed (exit code {proc.returncode})")
        return json.loads(out_path.read_text(encoding="utf-8"))


def child_main(kind: str, spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    figures = CHILDREN[kind](spec)
    Path(spec["out"]).write_text(json.dumps(figures), encoding="utf-8")


# --------------------------------------------------------------------------- report


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 0
    return {
        "cpu": cpu,
        "cores": cores,
        "python": platform.python_version(),
        "scrapy": version("scrapy"),
        "scrapy_playwright": version("scrapy-playwright"),
        "playwright": version("playwright"),
        "platform": platform.platform(),
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median page rate (its own figures stay consistent)."""
    ordered = sorted(runs, key=lambda r: r["pages_per_s"] or 0)
    best = dict(ordered[len(ordered) // 2])
    if len(runs) > 1:
        best["all_pages_per_s"] = [r["pages_per_s"] for r in runs]
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1500, help="listing pages over HTTP")
    parser.add_argument("--browser-pages", type=int, default=200, help="pages in the browser")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each crawl (median kept)")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--only", choices=sorted(CHILDREN), help="run one crawl kind only")
    parser.add_argument("--profile", metavar="PATH", help="cProfile the pipeline runs to PATH.*")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=JSON",
                        help="override a setting in the pipeline runs (experiments)")
    parser.add_argument("--out", type=Path, default=OUT_PATH)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(*args.child)
        return 0

    from crawler.demo.server import DemoServerProcess, SiteOptions

    kinds = [k for k in CHILDREN if not (
        (args.skip_browser and k.startswith("browser/"))
        or (args.skip_http and k.startswith("http/"))
        or (args.only and k != args.only)
    )]
    extra = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    results: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    with DemoServerProcess(options=SiteOptions(rate_limit=0)) as server:
        urls = server.urls
        specs = {
            "http": {"urls": urls, "targets": listing_targets(urls, args.pages),
                     "browser_mode": "auto", "settings": extra},
            "browser": {"urls": urls, "targets": listing_targets(urls, args.browser_pages),
                        "browser_mode": "always", "settings": extra},
        }
        # Warm the server's page cache so neither side of a pair pays for rendering.
        run_child("http/bare", {**specs["http"], "targets": specs["http"]["targets"]})
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
        for i in range(args.repeat):
            for kind in kinds:  # interleaved, so drift in the machine hits both sides
                spec = dict(specs[kind.split("/")[0]])
                if kind == "http/bare+items":
                    spec["also_share"] = ["CONCURRENT_ITEMS"]
                if args.profile and kind.endswith("/pipeline"):
                    spec["profile"] = f"{args.profile}.{kind.replace('/', '-')}.{i}"
                runs[kind].append(run_child(kind, spec))
                r = runs[kind][-1]
                print(f"  {kind:<17} {r['pages']:>5} pages in {r['seconds']:6.2f} s "
                      f"= {r['pages_per_s']:7.1f} pages/s", file=sys.stderr, flush=True)
        results = {k: _median_run(v) for k, v in runs.items()}

    def paired(full: str, bare: str, key: str, invert: bool = False) -> float | None:
        """Median over the repeats of pipeline/bare, each pair measured back to back."""
        pairs = [
            (b[key] / f[key]) if invert else (f[key] / b[key])
            for f, b in zip(runs.get(full, []), runs.get(bare, []))
            if f[key] and b[key]
        ]
        return round(statistics.median(pairs), 3) if pairs else None

    info = machine_info()
    chromium = results.get("browser/bare", {}).pop("chromium", None)
    if chromium:
        info["chromium"] = chromium
    ratios: dict[str, float | None] = {}
    cpu_ratios: dict[str, float | None] = {}
    for name, full, bare in (
        ("http", "http/pipeline", "http/bare"),
        ("browser", "browser/pipeline", "browser/bare"),
        ("http_vs_bare+items", "http/pipeline", "http/bare+items"),
    ):
        if full in runs and bare in runs:
            ratios[name] = paired(full, bare, "pages_per_s")
            # What the rate ratio would be if the crawler process were the only limit (it is,
            # over HTTP): less sensitive to other load on the machine than wall-clock rates.
            cpu_ratios[name] = paired(full, bare, "cpu_ms_per_page", invert=True)
    report = {
        "machine": info,
        "pages_http": args.pages,
        "pages_browser": args.browser_pages,
        "repeat": args.repeat,
        "results": results,
        "ratios": ratios,
        "cpu_ratios": cpu_ratios,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "aims": {"http": AIM_HTTP, "browser": AIM_BROWSER},
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    print(f"CPU {info['cpu']} x{info['cores']} · Python {info['python']} · "
          f"Scrapy {info['scrapy']} · scrapy-playwright {info['scrapy_playwright']} · "
          f"Playwright {info['playwright']}" + (f" · Chromium {chromium}" if chromium else ""))
    print(f"{'crawl':<18}{'pages':>7}{'seconds':>9}{'pages/s':>9}{'listings/s':>12}"
          f"{'cpu s':>8}{'cpu ms/page':>13}")
    for kind, r in results.items():
        print(f"{kind:<18}{r['pages']:>7}{r['seconds']:>9.2f}{r['pages_per_s']:>9.1f}"
              f"{r['listings_per_s']:>12.1f}{r['cpu_seconds']:>8.2f}{r['cpu_ms_per_page']:>13.2f}")
    for mode, ratio in ratios.items():
        if ratio is None:
            continue
        aim = AIM_BROWSER if mode == "browser" else AIM_HTTP
        verdict = "meets" if ratio >= aim else "MISSES"
        cpu = cpu_ratios.get(mode) or 0.0
        print(f"{mode}: pipeline / bare = {ratio:.3f} ({verdict} the aim of {aim:.0%}); "
              f"by crawler CPU per page {cpu:.3f}")
    print(f"load average {report['load_average']} (other work on the machine skews rates)")
    print(f"figures written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
