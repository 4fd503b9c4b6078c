"""Fault 15: fixture replay is hermetic: with no network, saved pages give the same items.

* The web-poet fixtures (``fixtures/pages/<page class>/<case>/``: saved inputs and the expected
  item) are replayed by pytest in a child process whose sockets are guarded
  (``tests.faults.nonet``): any connection, any DNS look-up fails and is logged. They pass and
  nothing was attempted.
* A whole crawl replays saved pages: the saved demomart listing pages (and the removed-listing
  page) are served, bytes and headers as saved, by the fault server; ``crawl listing`` runs in
  a child whose only allowed connection is that server. Each stored listing has the title,
  price and seller of the fixture's expected item, the removed page is a ``removed`` event with
  the fixture's message, and the crawl attempted no other connection or look-up.
* The guard itself is checked: a child that tries to reach the outside is refused and logged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.crawl_support import REPO, child_env, stored_listings
from tests.faults.conftest import crawl, no_traceback, reasons, the_run
from tests.faults.nonet import ALLOW_VAR, LOG_VAR
from tests.faults.server import Exchange, FaultServer

pytestmark = pytest.mark.faults

PAGES = REPO / "fixtures" / "pages"
LISTING_CASES = sorted((PAGES / "crawler.pages.demomart.DemomartListingPage").iterdir())
REMOVED_CASES = sorted((PAGES / "crawler.pages.demomart.DemomartRemovedPage").iterdir())
NONET = REPO / "tests" / "faults" / "nonet.py"


def _guard_dir(tmp_path: Path) -> Path:
    """A directory with a ``sitecustomize`` that installs the guard in any Python started
    with it on ``PYTHONPATH``."""
    where = tmp_path / "nonet"
    where.mkdir(exist_ok=True)
    (where / "sitecustomize.py").write_text(
        f"import runpy\nrunpy.run_path({str(NONET)!r})['install_from_env']()\n")
    return where


def _attempts(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.timeout(60)
def test_the_guard_refuses_and_logs_what_leaves_the_process(tmp_path: Path) -> None:
    log = tmp_path / "attempts.log"
    probe = ("import socket, urllib.request\n"
             "for target in ('http://example.com/', 'http://93.184.215.14/'):\n"
             "    try:\n"
             "        urllib.request.urlopen(target, timeout=5)\n"
             "    except OSError as exc:\n"
             "        print('refused', target, exc)\n")
    env = child_env(PYTHONPATH=str(_guard_dir(tmp_path)), **{ALLOW_VAR: "", LOG_VAR: str(log)})
    proc = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, timeout=30, check=False)
    refused = [line for line in proc.stdout.splitlines() if line.startswith("refused ")]
    assert len(refused) == 2 and all("test guard" in line for line in refused), proc.stdout
    assert _attempts(log) == ["resolve example.com", "connect 93.184.215.14:80"]


@pytest.mark.timeout(120)
def test_web_poet_fixtures_replay_with_no_network(tmp_path: Path) -> None:
    log = tmp_path / "attempts.log"
    env = child_env(**{ALLOW_VAR: "", LOG_VAR: str(log)})
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.faults.nonet",
         str(PAGES)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=100, check=False,
    )
    tail = proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
    cases = [p for p in PAGES.glob("*/*") if (p / "output.json").exists()]
    assert int(summary.split()[0]) >= len(cases) > 0, (summary, len(cases))
    assert _attempts(log) == []


def _saved(case: Path) -> tuple[str, int, dict[str, str], bytes]:
    info = json.loads((case / "inputs" / "HttpResponse-info.json").read_text())
    body = (case / "inputs" / "HttpResponse-body.html").read_bytes()
    target = info["url"].split("://", 1)[1]
    target = target[target.index("/"):]
    return target, int(info["status"]), dict(info["headers"]), body


def _replay(status: int, headers: dict[str, str], body: bytes):  # type: ignore[no-untyped-def]
    def handler(ex: Exchange) -> None:
        ex.respond(status, body, headers)
    return handler


@pytest.mark.timeout(120)
def test_saved_pages_crawled_with_no_network_give_the_same_items(tmp_path: Path) -> None:
    log = tmp_path / "attempts.log"
    expected = {}
    with FaultServer() as server:
        urls = []
        for case in [*LISTING_CASES, *REMOVED_CASES]:
            target, status, headers, body = _saved(case)
            server.on(target, _replay(status, headers, body))
            urls.append(server.url + target)
            expected[server.url + target] = json.loads((case / "output.json").read_text())
        env = {"PYTHONPATH": str(_guard_dir(tmp_path)), ALLOW_VAR: f"127.0.0.1:{server.port}",
               LOG_VAR: str(log)}
        result = crawl(tmp_path, server.url, "listing", "--urls", ",".join(urls), env=env,
                       timeout=90)
        fetched = sorted(server.url + h.target for h in server.hits if h.path == "/item.htm")

    assert result.returncode == 0, result.output
    no_traceback(result)
    assert _attempts(log) == [], _attempts(log)  # nothing but the replay server was reached
    assert fetched == sorted(urls)
    stored = {x.listing_id: x for x in stored_listings(result.db)}
    listings = {url: item for url, item in expected.items() if "title" in item}
    assert len(stored) == len(listings) == len(LISTING_CASES)
    for item in listings.values():
        got = stored[item["listing_id"]]
        assert got.title == item["title"], (got, item)
        assert got.seller == item["seller_id"], (got, item)
        assert got.price == float(item["price_text"].lstrip("¥").replace(",", "")), (got, item)
        assert got.status == item["status"]
    removed = {url: item for url, item in expected.items() if "title" not in item}
    assert reasons(result, "removed") == {url: [item["message"]] for url, item in removed.items()}
    run = the_run(result)
    assert run.status == "finished" and run.errors == 0, run.exit_reason
