"""``reelguard sellers`` and ``reelguard sellers show`` on SQLite and PostgreSQL: sellers by
level with the reason in words, the JSON shapes, filters, the refresh that records each level
change once (and ``--no-refresh`` that writes nothing), a seller's whole history, scraped
names shown without control characters, and one-line errors.

The listing and an error run as child processes, as a user runs them; the other checks call
the same Typer app in this process (a child costs seconds of imports each).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from crawler.cli import app
from crawler.db.models import utcnow
from crawler.db.models_sellers import SellerEvent, Strike
from crawler.db.session import session_scope
from tests.crawl_support import REPO, assert_one_line_error, child_env, run_cli, sqlite_url
from tests.sellers_support import strike_listing

HOSTILE = "盗版\x1b[31m影音\x07[bold red]店[/]\u202e"


def _populate(sessions: sessionmaker[Session]) -> None:
    """Three sellers: three removals (termination request), one removal with a hostile name
    (warning), and one removal on demobay (warning). Times are relative to now: the CLI
    judges as of now."""
    now = utcnow()
    with session_scope(sessions) as session:
        for n in range(3):
            strike_listing(
                session,
                f"90{n}",
                now - timedelta(days=10 - n),
                seller="pirate_a",
                seller_name="大片网盘资源铺",
            )
        strike_listing(
            session, "910", now - timedelta(days=3), seller="pirate_b", seller_name=HOSTILE
        )
        strike_listing(
            session,
            "920",
            now - timedelta(days=2),
            seller="bay_seller",
            marketplace="demobay",
            title="The Matrix DVD-R region free",
        )


def _cli(*args: str, db_url: str, child: bool = False) -> Any:
    """``reelguard sellers ARGS --db URL``: its JSON (with ``--json``) or its text."""
    if child:
        proc = run_cli("sellers", *args, "--db", db_url, cwd=REPO, env=child_env(COLUMNS="400"))
        code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    else:
        result = CliRunner().invoke(app, ["sellers", *args, "--db", db_url], env={"COLUMNS": "400"})
        code, stdout, stderr = result.exit_code, result.stdout, result.stderr
    assert code == 0, (stderr[-3000:], stdout[-3000:])
    assert "Traceback" not in stderr
    return json.loads(stdout) if "--json" in args else stdout


def _count(sessions: sessionmaker[Session], model: type) -> int:
    with session_scope(sessions) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.mark.timeout(120)
def test_sellers_lists_by_level_and_records_each_change_once(
    db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    _populate(db_sessions)
    quiet = _cli("--json", "--no-refresh", db_url=db_url)
    assert quiet["sellers"] == [] and quiet["strikes_added"] == 0
    assert _count(db_sessions, Strike) == 0 and _count(db_sessions, SellerEvent) == 0

    table = _cli(db_url=db_url, child=True)
    lines = table.splitlines()
    top = next(i for i, line in enumerate(lines) if "pirate_a" in line)
    low = next(i for i, line in enumerate(lines) if "pirate_b" in line)
    assert top < low and "termination request" in lines[top]
    assert "3 accepted removals in 90 days: 3 needed for termination request" in lines[top]
    assert "warning" in lines[low] and "demobay" in table
    assert "\x1b" not in table and "\x07" not in table and "\u202e" not in table
    assert "[bold red]" in table  # shown literally, never as markup
    assert "3 new strikes" not in table and "5 new strikes recorded" in table
    assert _count(db_sessions, SellerEvent) == 3

    data = _cli("--json", db_url=db_url)
    assert data["strikes_added"] == 0
    assert _count(db_sessions, SellerEvent) == 3  # nothing new: no new event
    assert data["policy"]["name"] == "three_strikes" and data["policy"]["window_days"] == 90
    first = data["sellers"][0]
    assert {
        "seller_id",
        "marketplace",
        "seller_key",
        "name",
        "level",
        "level_words",
        "strikes",
        "points",
        "reason",
        "evidence",
        "previous_level",
        "changed",
    } <= set(first)
    assert (first["level"], first["level_words"], first["strikes"]) == (
        "termination_request",
        "termination request",
        3,
    )
    assert first["previous_level"] == "termination_request" and not first["changed"]
    assert all(len(e["sha256"]) == 64 for e in first["evidence"])

    only = _cli("--json", "--level", "warning", "--marketplace", "demobay", db_url=db_url)
    assert [s["seller_key"] for s in only["sellers"]] == ["bay_seller"]
    points = _cli("--json", "--policy", "points", db_url=db_url)
    assert points["sellers"][0]["points"] == 36
    assert points["sellers"][0]["level"] == "restriction_request"


@pytest.mark.timeout(120)
def test_sellers_show_gives_the_whole_history(
    db_url: str, db_sessions: sessionmaker[Session]
) -> None:
    _populate(db_sessions)
    data = _cli("show", "pirate_a", "--json", db_url=db_url)
    assert data["seller"]["seller_key"] == "pirate_a"
    assert data["seller"]["name"] == "大片网盘资源铺"
    assert len(data["strikes"]) == 3 and all(s["counted"] for s in data["strikes"])
    assert all(len(s["evidence_sha256"]) == 64 for s in data["strikes"])
    assert {s["work"] for s in data["strikes"]} == {"The Matrix (1999)"}
    assert [e["to_level"] for e in data["events"]] == ["termination_request"]
    assert data["standing"]["level"] == "termination_request"
    assert {t["kind"] for t in data["timeline"]} >= {"sighting", "takedown", "strike"}
    assert data["licence"]["has_licence_block"] is False and data["cluster"] is None

    text = _cli("show", "pirate_b", "--marketplace", "demomart", db_url=db_url)
    assert "warning" in text and "1 accepted removal in 90 days" in text
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    hashes = [
        s["evidence_sha256"] for s in _cli("show", "pirate_b", "--json", db_url=db_url)["strikes"]
    ]
    assert hashes and hashes[0] in text


@pytest.mark.timeout(60)
def test_sellers_errors_are_one_line(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    proc = run_cli("sellers", "show", "nobody", "--db", url, cwd=REPO, env=child_env(COLUMNS="200"))
    assert_one_line_error(proc, 2, "no seller 'nobody'")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nunit: removals\nwindow_days: -1\nthresholds: {warning: 1}\n", "utf-8")
    for args, needles in (
        (["--policy", "nosuch"], ["unknown policy preset 'nosuch'"]),
        (["--policy", str(bad)], ["bad.yaml", "window_days"]),
        (["--level", "banned"], ["--level", "unknown level 'banned'"]),
    ):
        result = CliRunner().invoke(app, ["sellers", *args, "--db", url])
        assert result.exit_code == 2, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error:") and all(n in line for n in needles), line
