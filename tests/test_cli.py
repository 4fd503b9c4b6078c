"""The ``reelguard`` command end to end, in child processes.

User errors end as one ``error:`` line and a documented exit code, never a traceback
(2 configuration, 3 catalogue, 4 storage, 6 crawl failed); the reading commands print what is
stored, scraped text literally; a monitoring pass and the demo run over the bundled sites.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from crawler.db import repo
from crawler.db.session import session_scope
from crawler.items import ListingItem
from crawler.monitor.schedule import run_schedule
from crawler.storage import open_database
from tests.crawl_support import (
    PRIVATE_OK,
    REPO,
    assert_one_line_error,
    child_env,
    run_cli,
    runs,
    sqlite_url,
    stored_listings,
)

CATALOG = REPO / "fixtures" / "catalogs" / "sample_catalog.csv"
AUTHORIZED = REPO / "fixtures" / "catalogs" / "authorized.csv"
HOSTILE = "[bold red]x[/] <script>alert(1)</script> [link=http://evil]y[/link]"


def _monitor_yaml(tmp_path: Path, **overrides: str) -> Path:
    body = {
        "name": "clitest",
        "catalog": str(CATALOG),
        "authorized": str(AUTHORIZED),
        "marketplaces": "{demomart: {url: demo}, demobay: {url: demo}}",
        "keywords": "{strategy: primary, limit: 2}",
        "storefronts": "false",
        "schedule": '"* * * * *"',
        "browser": "auto",
        **overrides,
    }
    path = tmp_path / "monitor.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in body.items()), "utf-8")
    return path


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.timeout(60)
def test_unknown_marketplace_exits_2(tmp_path: Path) -> None:
    proc = run_cli("crawl", "search", "-m", "nosuchmart", "--keywords", "x", "--db",
                   sqlite_url(tmp_path), "--url", "demomart=http://127.0.0.1:9", cwd=tmp_path)
    assert_one_line_error(proc, 2, "nosuchmart", "demomart")


@pytest.mark.timeout(60)
def test_malformed_catalogue_exits_3_listing_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.csv"
    bad.write_text(
        "id,member,title,year,aliases,kind\n"
        "t1,acme,Good Film,1999,,film\n"
        "t2,acme,,1999,,film\n"          # line 3: empty title
        "t1,acme,Again,19x9,,opera\n"    # line 4: duplicate id, bad year, bad kind
        "t4,acme,Short\n",               # line 5: fewer values than columns
        "utf-8",
    )
    db = sqlite_url(tmp_path)
    proc = run_cli("catalog", "import", str(bad), "--db", db, cwd=tmp_path)
    line = assert_one_line_error(proc, 3, "5 problem(s)")
    for needle in ("line 3: empty title", "line 4: duplicate id 't1'", "line 4: bad year",
                   "line 4: kind 'opera'", "line 5: fewer values"):
        assert needle in line, line
    # Refused as a whole: nothing imported.
    stats = run_cli("stats", "--json", "--db", db, cwd=tmp_path)
    assert stats.returncode == 0 and json.loads(stats.stdout)["listings"] == 0


@pytest.mark.timeout(90)
def test_unreachable_site_fails_with_the_reason(tmp_path: Path) -> None:
    db = sqlite_url(tmp_path)
    proc = run_cli("crawl", "search", "-m", "demomart", "--keywords", "x", "--db", db,
                   "--url", "demomart=http://127.0.0.1:1", "--set", "RETRY_TIMES=0",
                   cwd=tmp_path, env=child_env(**PRIVATE_OK))
    assert_one_line_error(proc, 6, "Connection refused", "127.0.0.1:1")
    [run] = runs(db)
    assert run.status == "failed" and "Connection refused" in (run.exit_reason or "")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ({"browser": "sometimes"}, "browser 'sometimes'"),
        ({"schedule": '"every tuesday"'}, "not a valid cron expression"),
        ({"marketplaces": "{nosuchmart: {url: demo}}"}, "unknown marketplace 'nosuchmart'"),
        ({"colour": "blue"}, "unknown key(s) colour"),
    ],
)
def test_bad_monitor_yaml_exits_2(tmp_path: Path, override: dict[str, str], needle: str) -> None:
    config = _monitor_yaml(tmp_path, **override)
    proc = run_cli("monitor", "run", "--config", str(config), "--db", sqlite_url(tmp_path),
                   cwd=tmp_path)
    assert_one_line_error(proc, 2, needle)


@pytest.mark.timeout(60)
def test_monitor_yaml_that_is_not_yaml_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text("name: [unclosed\n", "utf-8")
    proc = run_cli("monitor", "run", "--config", str(config), cwd=tmp_path)
    assert_one_line_error(proc, 2, "not valid YAML")


@pytest.mark.timeout(60)
def test_unreachable_database_exits_4(tmp_path: Path) -> None:
    proc = run_cli("stats", "--db", "postgresql://nobody@127.0.0.1:1/none", cwd=tmp_path)
    assert_one_line_error(proc, 4, "cannot reach the database", "127.0.0.1:1")


# -- reading -------------------------------------------------------------------------------------
def _store_hostile_listing(db: str) -> None:
    database = open_database(db)
    now = dt.datetime.now(dt.UTC)
    item = ListingItem(listing_id="666", url="http://127.0.0.1:9/item.htm?id=666", title=HOSTILE,
                       price_text="¥ 9.90", marketplace="demomart")
    item.price, item.currency = 9.9, "CNY"
    with session_scope(database.sessions) as session:
        market = repo.ensure_marketplace(session, "demomart")
        repo.upsert_listing(session, market, item, None, None, now)


@pytest.mark.timeout(60)
def test_db_upgrade_stats_and_listings(tmp_path: Path) -> None:
    db = sqlite_url(tmp_path)
    proc = run_cli("db", "upgrade", "--db", db, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"database at revision \w+", proc.stdout)

    _store_hostile_listing(db)
    stats = run_cli("stats", "--json", "--db", db, cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    counts = json.loads(stats.stdout)
    assert set(counts) >= {"listings", "sellers", "observations", "matches",
                           "takedown_requests", "evidence"}
    assert all(type(v) is int for v in counts.values())
    assert counts["listings"] == 1 and counts["sellers"] == 0

    as_json = run_cli("listings", "--json", "--db", db, cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    [line] = as_json.stdout.splitlines()
    row = json.loads(line)
    assert row["title"] == HOSTILE and row["listing_id"] == "666"
    assert row["price"] == 9.9 and row["currency"] == "CNY" and row["marketplace"] == "demomart"

    table = run_cli("listings", "--db", db, cwd=tmp_path,
                    env=child_env(COLUMNS="300", TERM="dumb"))
    assert table.returncode == 0, table.stderr
    assert HOSTILE in table.stdout, table.stdout


# -- monitoring --------------------------------------------------------------------------------
@pytest.mark.timeout(150)
def test_monitor_run_over_the_demo_sites(tmp_path: Path) -> None:
    db = sqlite_url(tmp_path)
    proc = run_cli("monitor", "run", "--config", str(_monitor_yaml(tmp_path)), "--db", db,
                   cwd=tmp_path, timeout=140)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "Monitoring pass clitest" in proc.stdout
    assert "demomart" in proc.stdout and "demobay" in proc.stdout
    assert "finished" in proc.stdout
    assert db in "".join(proc.stdout.split())  # a long path may be wrapped at the table width
    [run] = runs(db)
    assert run.job == "monitor:clitest" and run.status == "finished"
    assert stored_listings(db)


@pytest.mark.timeout(150)
def test_run_schedule_runs_one_pass_on_the_tick(tmp_path: Path) -> None:
    db = sqlite_url(tmp_path)
    config = _monitor_yaml(
        tmp_path, marketplaces="{demomart: {url: demo}}", keywords="{limit: 1}")
    clock = [dt.datetime(2030, 1, 1, 12, 0, 30, tzinfo=dt.UTC)]
    slept: list[float] = []
    messages: list[str] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += dt.timedelta(seconds=seconds)

    failures = run_schedule(config, "* * * * *", max_passes=1, now=lambda: clock[0],
                            sleep=sleep, report=messages.append, extra_args=["--db", db])
    assert failures == 0, messages
    assert sum(slept) == pytest.approx(30.0)  # waited until 12:01:00, the next tick
    assert messages[0] == "next pass at 2030-01-01T12:01:00+00:00"
    assert messages[-1] == "pass 1 ended with exit code 0"
    [run] = runs(db)
    assert run.status == "finished" and run.job == "monitor:clitest"


@pytest.mark.timeout(300)
def test_demo_command_runs_a_full_pass(tmp_path: Path) -> None:
    db = sqlite_url(tmp_path)
    # --rate-limit 0: blocks are covered in test_crawl_blocks; with the default limit the block
    # middleware's backoff makes this pass take ~80 s instead of ~25 s.
    proc = run_cli("demo", "--limit", "2", "--rate-limit", "0", "--db", db, cwd=tmp_path,
                   env=child_env(COLUMNS="200"), timeout=280)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "Demo monitoring pass" in proc.stdout
    table = proc.stdout[proc.stdout.index("Demo monitoring pass"):]
    assert re.search(r"demobay\s*│\s*\d+", table) and re.search(r"demomart\s*│\s*\d+", table)
    assert f"database: {db}" in proc.stdout
    # The demo's monitoring pass, then the takedown follow-up's re-crawl (a run of its own).
    [run, *followups] = runs(db)
    assert run.job == "demo" and run.status == "finished"
    assert all(f.job == "listing" for f in followups)
    assert stored_listings(db)
    # The takedown half: queue filled, approved batches filed, follow-up showing removals.
    assert re.search(r"takedown queue: [1-9]\d* requests", proc.stdout), proc.stdout[-3000:]
    assert re.search(r"batch \d+: filed as complaint D[MB]-IP-\d+", proc.stdout)
    assert re.search(r"removed: [1-9]\d*", proc.stdout), proc.stdout[-3000:]
