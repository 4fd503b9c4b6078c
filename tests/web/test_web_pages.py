"""The pages: hostile text shown as text, validated queue filters, paginated and sorted,
evidence served by id with safe types, evidence verification (including a tampered artefact),
runs, overview, and the investigation button with its case report."""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from crawler.db.models_sellers import Investigation, SellerEvent
from crawler.db.session import make_engine, session_factory, session_scope
from crawler.evidence.store import EvidenceStore
from crawler.web import investigations
from crawler.web.app import create_app
from crawler.web.queries import queue as queue_query
from tests.web.support import SECRET, WebData, csrf_of, login

pytestmark = pytest.mark.timeout(120)
Client = Callable[[str | None], TestClient]


@pytest.fixture
def db_backend() -> str:
    """These tests do not depend on the backend: SQLite only (the scope tests run both)."""
    return "sqlite"


def test_web_hostile_title_and_signals_render_as_text(
    web_data: tuple[str, Path, WebData], client_for: Client,
) -> None:
    _, _, data = web_data
    alice = client_for("alice")
    for url in (f"/requests/{data.xss_request}", "/queue", f"/sellers/{data.warner_seller}"):
        html = alice.get(url).text
        assert "&lt;img src=x onerror=alert(1)&gt;" in html, url
        assert "<img src=x" not in html, url
    request_page = alice.get(f"/requests/{data.xss_request}").text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in request_page
    assert "<script>alert(2)" not in request_page
    run_page = alice.get(f"/runs/{data.run_id}").text
    assert "slider captcha &lt;b&gt;bold&lt;/b&gt;" in run_page


def test_web_request_page_shows_listing_beside_catalogue(
    web_data: tuple[str, Path, WebData], client_for: Client,
) -> None:
    _, _, data = web_data
    html = client_for("alice").get(f"/requests/{data.xss_request}").text
    assert f'<img class="shot" src="/evidence/{data.image_evidence}"' in html
    assert "The Matrix" in html and "war-the-matrix-1999" in html and "骇客任务" in html
    assert "title_match" in html and "+0.55" in html
    assert "盗版影音店" in html
    assert "Verify evidence" in html and "pending review" in html and "system:queue" in html


def test_web_queue_filters_sorting_and_pages(
    web_data: tuple[str, Path, WebData], client_for: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, _, data = web_data
    root = client_for("root")
    for params, message in (({"sort": "password_hash"}, "sort: unknown column"),
                            ({"min_score": "2"}, "between 0 and 1"),
                            ({"state": "gone"}, "state: unknown"),
                            ({"date_from": "yesterday"}, "not a date"),
                            ({"page": "-1"}, "page:")):
        response = root.get("/queue", params=params)
        assert response.status_code == 400, params
        assert message in response.text
    by_seller = root.get("/queue", params={"seller": "sony_PIRATE"}).text
    assert all(f'href="/requests/{r}"' in by_seller for r in data.sony_requests)
    assert f'href="/requests/{data.xss_request}"' not in by_seller
    scored = root.get("/queue", params={"min_score": "0.7", "max_score": "0.8"}).text
    shown = [r for r in data.warner_requests + data.sony_requests
             if f'href="/requests/{r}"' in scored]
    assert shown == data.warner_requests[2:5]
    titled = root.get("/queue", params={"q": "onerror"}).text
    assert f'href="/requests/{data.xss_request}"' in titled
    assert root.get("/queue", params={"state": "removed"}).text.count('href="/requests/') == 0

    monkeypatch.setattr(queue_query, "PAGE_SIZE", 4)
    first = root.get("/queue", params={"sort": "score", "dir": "asc"}).text
    assert "page 1 of 3" in first
    assert first.index(f'href="/requests/{data.warner_requests[0]}"') < first.index(
        f'href="/requests/{data.warner_requests[1]}"')
    third = root.get("/queue", params={"sort": "score", "dir": "asc", "page": "3"}).text
    assert "page 3 of 3" in third and f'href="/requests/{data.sony_requests[-1]}"' in third


def test_web_evidence_is_served_by_id_with_safe_types(
    web_data: tuple[str, Path, WebData], client_for: Client,
) -> None:
    _, _, data = web_data
    alice = client_for("alice")
    image = alice.get(f"/evidence/{data.image_evidence}")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    assert "sandbox" in image.headers["content-security-policy"]
    warc = alice.get(f"/evidence/{data.warc_evidence}")
    assert warc.headers["content-type"] == "application/octet-stream"
    assert warc.headers["content-disposition"].startswith("attachment;")
    assert alice.get("/evidence/..%2f..%2fetc%2fpasswd").status_code == 404
    assert alice.get("/static/../app.py").status_code == 404


def test_web_verify_reports_a_tampered_artefact(
    web_data: tuple[str, Path, WebData], client_for: Client,
) -> None:
    _, store_dir, data = web_data
    alice = client_for("alice")
    token = csrf_of(alice.get(f"/requests/{data.xss_request}").text)
    page = alice.post(f"/requests/{data.xss_request}/verify", data={"csrf_token": token}).text
    assert "Verified: 2 artefacts of this request re-hashed and matching" in page
    assert page.count('class="badge ok-badge">ok<') == 2

    with session_scope(session_factory(make_engine(web_data[0]))) as session:
        from crawler.db.models_evidence import EvidenceRecord

        sha = session.get(EvidenceRecord, data.warc_evidence).sha256  # type: ignore[union-attr]
    path = EvidenceStore(store_dir).path(sha)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    path.write_bytes(b"WARC/1.1\r\nedited")
    page = alice.post(f"/requests/{data.xss_request}/verify", data={"csrf_token": token}).text
    assert "Verification FAILED" in page and "1 of this request" in page
    assert 'class="badge fail-badge"' in page


def test_web_runs_and_overview(
    web_data: tuple[str, Path, WebData], client_for: Client,
) -> None:
    _, _, data = web_data
    alice = client_for("alice")
    runs = alice.get("/runs").text
    assert f'href="/runs/{data.run_id}"' in runs and "monitor:test" in runs
    run = alice.get(f"/runs/{data.run_id}", params={"kind": "blocked"}).text
    assert "slider captcha" in run and "HTTP 500" not in run
    assert alice.get(f"/runs/{data.run_id}", params={"kind": "x"}).status_code == 400
    overview = alice.get("/overview").text
    assert "Detections per day" in overview and "<svg" in overview
    assert "Warner Bros. Entertainment" in overview
    assert "Sony Pictures" not in overview
    assert "Sony Pictures" in client_for("root").get("/overview").text


def test_web_investigate_button_launches_and_links_the_case(
    web_data: tuple[str, Path, WebData], tmp_path: Path,
) -> None:
    """The button (an administrator's) starts a detached process and records who asked; the
    case report is served once the investigation row says ``done``. The child here is a
    stand-in for ``reelguard investigate`` that writes what it writes (a crawl is too slow for
    this test); the real command line is checked below."""
    db_url, store_dir, data = web_data
    case = tmp_path / "case"
    (case / "artefacts").mkdir(parents=True)
    (case / "report.html").write_text("<html><body><h1>Case report</h1></body></html>")
    (case / "artefacts" / "1-image-ab.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    child = (
        "import sys\n"
        "from crawler.db.models_sellers import Investigation\n"
        "from crawler.db.session import make_engine, session_factory, session_scope\n"
        "from crawler.db.models import utcnow\n"
        "with session_scope(session_factory(make_engine(sys.argv[1]))) as s:\n"
        "    s.add(Investigation(marketplace=sys.argv[2], seller_key=sys.argv[3],"
        " state='done', case_path=sys.argv[4], finished_at=utcnow(), case_sha256='ab'*32))\n"
    )
    app = create_app(db_url, secret=SECRET, evidence_dir=store_dir,
                     investigate_argv=lambda db, m, s: [sys.executable, "-c", child, db, m, s,
                                                        str(case)],
                     log_dir=tmp_path / "log")
    with TestClient(app, base_url="http://127.0.0.1") as root:
        assert login(root, "root").status_code == 303
        token = csrf_of(root.get(f"/sellers/{data.warner_seller}").text)
        page = root.post(f"/sellers/{data.warner_seller}/investigate",
                         data={"csrf_token": token}).text
        assert "Investigation started" in page
        engine = make_engine(db_url)
        try:
            deadline = time.monotonic() + 30
            while True:
                with session_scope(session_factory(engine)) as session:
                    inv = session.execute(select(Investigation)).scalar_one_or_none()
                    events = list(session.execute(
                        select(SellerEvent.actor).where(
                            SellerEvent.kind == "investigation_requested")).scalars())
                if inv is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        finally:
            engine.dispose()
        assert inv is not None and events == ["user:root"]
        assert len(list((tmp_path / "log").glob("investigate-*.log"))) == 1
        page = root.get(f"/sellers/{data.warner_seller}").text
        assert f'href="/investigations/{inv.id}/case/report.html"' in page
        report = root.get(f"/investigations/{inv.id}/case/report.html")
        assert report.status_code == 200 and "Case report" in report.text
        assert "sandbox" in report.headers["content-security-policy"]
        assert root.get(f"/investigations/{inv.id}/case/artefacts/1-image-ab.png"
                        ).status_code == 200
        for name in ("case.json", "..%2Fcase%2Freport.html", "artefacts%2F..%2Freport.html",
                     "%2Fetc%2Fpasswd"):
            assert root.get(f"/investigations/{inv.id}/case/{name}").status_code == 404
    with TestClient(app, base_url="http://127.0.0.1") as alice:
        assert login(alice, "alice").status_code == 303
        page = alice.get(f"/sellers/{data.warner_seller}").text
        # A case file covers every member's requests: a member's user does not open it, and
        # does not start an investigation either.
        assert f'href="/investigations/{inv.id}/case/report.html"' not in page
        assert "an administrator opens it" in page and 'id="investigate"' not in page
        assert alice.get(f"/investigations/{inv.id}/case/report.html").status_code == 404
    with TestClient(app, base_url="http://127.0.0.1") as bob:
        assert login(bob, "bob").status_code == 303
        assert bob.get(f"/investigations/{inv.id}/case/report.html").status_code == 404


def test_web_investigate_command_line_is_safe() -> None:
    argv = investigations.command("sqlite:///x.db", "demomart", "--out=/tmp/evil")
    assert argv[1:4] == ["-m", "crawler.cli", "investigate"]
    assert "--seller=--out=/tmp/evil" in argv and "--out" not in argv[5:6]
    assert "--demo" in argv  # a demo marketplace with no configured URL


def test_web_every_template_and_chart_escapes() -> None:
    """Autoescaping does not depend on a template's file name (Starlette's own templates
    escape only .html/.htm/.xml), and chart labels are escaped before the SVG is marked safe."""
    from crawler.web import charts
    from crawler.web.templating import ENV

    assert ENV.from_string("{{ x }}").render(x="<b onclick=1>") == "&lt;b onclick=1&gt;"
    svg = str(charts.bars([("<script>alert(1)</script>", 1.0, '"><x')], title="<t>"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and '"><x' not in svg
    svg = str(charts.columns([("<i>", 3.0)], title="t"))
    assert "<i>" not in svg and "&lt;i&gt;" in svg
