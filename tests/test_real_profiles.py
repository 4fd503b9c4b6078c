"""Marketplace profiles, and the search spider against the real saved Taobao and eBay pages.

The saved pages (``fixtures/pages``) are served on loopback by a tiny Starlette app; no test
touches the internet. Crawls run as ``reelguard crawl search`` child processes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from crawler.demo.server import ServerThread
from crawler.exceptions import ConfigError
from crawler.pages import KNOWN_MARKETPLACES, get_pages
from crawler.profiles import download_slots, load_profiles
from tests.crawl_support import (
    PRIVATE_OK,
    REPO,
    assert_one_line_error,
    child_env,
    events,
    run_cli,
    sqlite_url,
    stored_listings,
)

PAGES = REPO / "fixtures" / "pages"
TAOBAO_SEARCH = PAGES / "crawler.pages.taobao.TaobaoSearchPage" / "search-g-page-config-2018"
EBAY_SEARCH = PAGES / "crawler.pages.ebay.EbaySearchPage" / "search-s-card"
TAOBAO_WALL = PAGES / "crawler.pages.taobao.TaobaoBlockedPage" / "blocked-login-wall"


def body(case: Path) -> str:
    return (case / "inputs" / "HttpResponse-body.html").read_text(encoding="utf-8")


def expected(case: Path) -> list[dict]:
    return json.loads((case / "output.json").read_text(encoding="utf-8"))["listings"]


@contextmanager
def serve_pages(routes: dict[str, str], fallback: str | None = None) -> Iterator[tuple[str, list]]:
    """Serve ``path -> html`` (``fallback`` for any other path but robots.txt); record requests."""
    seen: list[tuple[str, str | None]] = []

    async def endpoint(request: Request) -> Response:
        path = request.url.path
        if path == "/robots.txt":
            return PlainTextResponse("User-agent: *\nAllow: /\n")
        seen.append((str(request.url), request.headers.get("cookie")))
        html = routes.get(path, fallback)
        if html is None:
            return PlainTextResponse("not found", status_code=404)
        return HTMLResponse(html)

    app = Starlette(routes=[Route("/{path:path}", endpoint)])
    with ServerThread(app) as server:
        yield server.url, seen


def path_of(marketplace: str) -> str:
    url = get_pages(marketplace).search_url("http://h", "ipad", 0)
    return re.sub(r"^http://h", "", url).split("?")[0]


def fast_profiles(tmp_path: Path, extra: str = "") -> Path:
    """A profiles file without the real sites' delays (the loopback server needs none)."""
    path = tmp_path / "profiles.yaml"
    path.write_text(
        "taobao:\n  download_delay: 0\n  concurrency: 4\n" + extra
        + "ebay:\n  download_delay: 0\n  concurrency: 4\n",
        encoding="utf-8",
    )
    return path


def crawl(marketplace: str, url: str, tmp_path: Path, *sets: str):
    db = sqlite_url(tmp_path)
    args = ["crawl", "search", "-m", marketplace, "--keywords", "ipad",
            "--url", f"{marketplace}={url}", "--db", db,
            "--set", "REELGUARD_FOLLOW_LISTINGS=false", "--set", "REELGUARD_MAX_SEARCH_PAGES=1"]
    for s in sets:
        args += ["--set", s]
    proc = run_cli(*args, cwd=tmp_path, env=child_env(**PRIVATE_OK), timeout=180)
    return proc, db


def price_of(text: str) -> float:
    return float(re.search(r"[\d,]+(?:\.\d+)?", text).group(0).replace(",", ""))


# -- crawls against the saved real pages --------------------------------------------------------
def test_taobao_search_page_listings_stored(tmp_path: Path) -> None:
    with serve_pages({path_of("taobao"): body(TAOBAO_SEARCH)}) as (url, seen):
        proc, db = crawl("taobao", url, tmp_path,
                         f"REELGUARD_PROFILES={fast_profiles(tmp_path)}")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert [u for u, _ in seen] == [f"{url}/search?q=ipad&s=0"]
    rows = {r.listing_id: r for r in stored_listings(db)}
    want = expected(TAOBAO_SEARCH)
    assert len(rows) == len(want) == 36
    for card in want:
        row = rows[card["listing_id"]]
        assert row.marketplace == "taobao"
        assert row.title == card["title"]
        assert row.price == pytest.approx(price_of(card["price_text"]))
        assert row.currency == "CNY"


def test_ebay_search_page_listings_stored(tmp_path: Path) -> None:
    with serve_pages({path_of("ebay"): body(EBAY_SEARCH)}) as (url, seen):
        proc, db = crawl("ebay", url, tmp_path, f"REELGUARD_PROFILES={fast_profiles(tmp_path)}")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert [u for u, _ in seen] == [f"{url}/sch/i.html?_nkw=ipad&_pgn=1"]
    rows = {r.listing_id: r for r in stored_listings(db)}
    want = expected(EBAY_SEARCH)
    assert len(rows) == len(want) == 60
    for card in want:
        row = rows[card["listing_id"]]
        assert row.marketplace == "ebay"
        assert row.title == card["title"]
        if card["price_text"] and " to " not in card["price_text"]:
            assert row.price == pytest.approx(price_of(card["price_text"]))


def test_login_wall_stops_the_crawl(tmp_path: Path) -> None:
    with serve_pages({}, fallback=body(TAOBAO_WALL)) as (url, seen):
        proc, db = crawl("taobao", url, tmp_path, "REELGUARD_MAX_BLOCKED=3",
                         "REELGUARD_BLOCK_BACKOFF=0",
                         f"REELGUARD_PROFILES={fast_profiles(tmp_path)}")
    assert_one_line_error(proc, 6, "block")
    assert 1 <= len(seen) <= 4  # stopped, not hammering
    blocked = events(db, "blocked")
    assert len(blocked) >= 3
    # The wall is Alibaba's login form with its slider captcha; served away from
    # login.taobao.com, the classifier names it by the captcha it contains.
    assert all(re.match(r"(login|captcha) page at ", e.reason or "") for e in blocked), [
        e.reason for e in blocked]
    assert stored_listings(db) == []


def test_storage_state_cookies_are_sent(tmp_path: Path) -> None:
    state = tmp_path / "taobao-state.json"
    state.write_text(json.dumps({"cookies": [
        {"name": "_tb_token_", "value": "abc123", "domain": "127.0.0.1", "path": "/"},
        {"name": "other", "value": "nope", "domain": ".example.com", "path": "/"},
    ], "origins": []}), encoding="utf-8")
    profiles = fast_profiles(tmp_path, f"  storage_state: {state.name}\n")
    with serve_pages({path_of("taobao"): body(TAOBAO_SEARCH)}) as (url, seen):
        proc, db = crawl("taobao", url, tmp_path, f"REELGUARD_PROFILES={profiles}")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert [c for _, c in seen] == ["_tb_token_=abc123"]
    assert len(stored_listings(db)) == 36


@pytest.mark.parametrize(("text", "needle"), [
    ("taobao: [1, 2\n", "not valid YAML"),
    ("taobao:\n  speed: 3\n", "unknown key(s) speed"),
    ("taobao:\n  storage_state: missing.json\n", "missing.json"),
])
def test_malformed_profiles_exit_2(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    proc, _ = crawl("taobao", "http://127.0.0.1:9", tmp_path, f"REELGUARD_PROFILES={path}")
    assert_one_line_error(proc, 2, needle)


# -- profile validation ---------------------------------------------------------------------
def test_bundled_profiles() -> None:
    profiles = load_profiles()
    assert set(profiles) == set(KNOWN_MARKETPLACES)
    assert profiles["taobao"].base_url == "https://s.taobao.com"
    assert profiles["ebay"].base_url == "https://www.ebay.com"
    assert profiles["demomart"].base_url is None and profiles["demobay"].base_url is None
    slots = download_slots(profiles)
    assert slots["taobao"] == {"concurrency": 2, "delay": 3.0}
    assert slots["taobao:browser"] == slots["taobao"]


def test_override_file_replaces_named_profiles(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("jd:\n  browser: always\n  max_pages: 2\n", encoding="utf-8")
    profiles = load_profiles(path)
    assert profiles["jd"].browser == "always" and profiles["jd"].max_pages == 2
    assert profiles["jd"].base_url is None  # replaced, not merged
    assert profiles["taobao"].base_url == "https://s.taobao.com"


@pytest.mark.parametrize(("text", "needle"), [
    ("nosuch:\n  concurrency: 1\n", "unknown marketplace 'nosuch'"),
    ("taobao:\n  browser: sometimes\n", "browser 'sometimes'"),
    ("taobao:\n  concurrency: 0\n", "concurrency 0"),
    ("taobao:\n  concurrency: 1.5\n", "concurrency 1.5"),
    ("taobao:\n  download_delay: -1\n", "download_delay -1"),
    ("taobao:\n  download_delay: fast\n", "download_delay 'fast'"),
    ("taobao:\n  max_pages: 0\n", "max_pages 0"),
    ("taobao:\n  base_url: ftp://x\n", "must be an http(s) URL"),
    ("taobao: 3\n", "expected a mapping"),
    ("- taobao\n", "expected a mapping"),
    ("taobao:\n  cookies: nojar.txt\n", "nojar.txt"),
])
def test_profile_validation(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_profiles(path)
    assert needle in str(info.value)


@pytest.mark.parametrize("content", ["{not json", '{"origins": []}', '{"cookies": [{"name": 1}]}'])
def test_malformed_storage_state(tmp_path: Path, content: str) -> None:
    state = tmp_path / "state.json"
    state.write_text(content, encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(f"taobao:\n  storage_state: {state}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="state.json"):
        load_profiles(path)


def test_session_cookies_match_hosts(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"cookies": [
        {"name": "a", "value": "1", "domain": ".taobao.com"},
        {"name": "b", "value": "2", "domain": "s.taobao.com"},
    ]}), encoding="utf-8")
    jar = tmp_path / "cookies.txt"
    jar.write_text("# Netscape HTTP Cookie File\n"
                   ".taobao.com\tTRUE\t/\tFALSE\t0\tc\t3\n", encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(f"taobao:\n  storage_state: {state}\n  cookies: {jar}\n", encoding="utf-8")
    profile = load_profiles(path)["taobao"]
    assert profile.cookies_for("s.taobao.com") == {"a": "1", "b": "2", "c": "3"}
    assert profile.cookies_for("item.taobao.com") == {"a": "1", "c": "3"}
    assert profile.cookies_for("eviltaobao.com") == {}
    assert profile.cookies_for(None) == {}


# -- the spider applies the profiles ------------------------------------------------------------
def _spider(marketplace: str, urls: dict[str, str], browser: str = "auto"):
    from scrapy.crawler import Crawler

    from crawler.monitor.runner import project_settings
    from spiders.search import SearchSpider

    crawler = Crawler(SearchSpider, project_settings({"REELGUARD_MARKETPLACE_URLS": urls,
                                                      "REELGUARD_BROWSER": browser}))
    return SearchSpider.from_crawler(crawler, marketplace=marketplace, keywords="ipad")


def test_spider_uses_profile_base_url_and_limits() -> None:
    spider = _spider("taobao,ebay", {"ebay": "http://127.0.0.1:1"})
    assert spider.base_urls == {"taobao": "https://s.taobao.com", "ebay": "http://127.0.0.1:1"}
    assert spider.page_limit("taobao", 20) == 10 and spider.page_limit("taobao", 3) == 3
    assert spider.page_limit("demomart", 20) == 20
    request = spider.make_request("https://s.taobao.com/search?q=x", "taobao", None)
    assert request.meta["download_slot"] == "taobao" and not request.cookies


def test_demo_sites_still_need_an_explicit_url() -> None:
    with pytest.raises(ConfigError, match="no base URL for demomart"):
        _spider("demomart", {})
    assert _spider("all", {"demobay": "http://127.0.0.1:1"}).marketplaces == ["demobay"]


def test_storage_state_gives_browser_requests_a_named_context(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"cookies": [
        {"name": "t", "value": "1", "domain": ".taobao.com"}]}), encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(f"taobao:\n  base_url: https://s.taobao.com\n  storage_state: {state}\n",
                    encoding="utf-8")
    monkeypatch.setenv("REELGUARD_PROFILES", str(path))
    spider = _spider("taobao", {})
    page = spider.make_request("https://s.taobao.com/search?q=x", "taobao", None, browser=True)
    assert page.meta["playwright"] is True
    assert page.meta["playwright_context"] == "taobao"
    assert page.meta["playwright_context_kwargs"] == {"storage_state": str(state)}
    http = spider.make_request("https://s.taobao.com/search?q=x", "taobao", None)
    assert "playwright_context" not in http.meta and http.cookies == {"t": "1"}
    other = spider.make_request("https://store.example.com/", "taobao", None)
    assert not other.cookies
