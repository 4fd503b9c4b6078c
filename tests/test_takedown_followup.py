"""Follow-up over a demo marketplace, end to end: detection -> approved -> submitted ->
accepted -> re-crawl shows the removed page -> removed with time to removal; a captcha during
follow-up is not read as removed; a relisted listing opens a fresh request citing the old one.
Crawls run as child processes (Twisted's reactor runs once per process).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from crawler.catalog.store import import_authorized, import_catalog
from crawler.cli import DEMO_AUTHORIZED, DEMO_CATALOG
from crawler.db.models import Listing
from crawler.db.models_takedown import TakedownRequest
from crawler.db.session import session_scope
from crawler.demo.demomart import TokenBuckets
from crawler.demo.server import ServerThread, build_app
from crawler.storage import open_database
from crawler.takedown.followup import followup
from crawler.takedown.submit import submit
from tests.crawl_support import PRIVATE_OK, REPO, child_env, run_cli
from tests.takedown_support import MEMBER, config

LISTINGS = ("675436888237", "603720768323")  # infringing Harry Potter discs, Warner's work


def _requests(db: object) -> list[TakedownRequest]:
    with session_scope(db.sessions) as session:  # type: ignore[attr-defined]
        rows = list(session.execute(select(TakedownRequest).order_by(TakedownRequest.id))
                    .scalars())
        session.expunge_all()
        return rows


def test_detection_to_removal_captcha_and_relisting_on_demomart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'td.db'}"
    db = open_database(url)
    import_catalog(db, str(DEMO_CATALOG))
    import_authorized(db, str(DEMO_AUTHORIZED))
    extra = {**PRIVATE_OK, "REELGUARD_EVIDENCE_DIR": str(tmp_path / "evidence")}
    app = build_app("demomart")
    site = app.state.site
    with ServerThread(app) as server:
        urls = {"demomart": server.url}
        pages = ",".join(f"{server.url}/item.htm?id={i}&spm=a230r.1.14.{n}"
                         for n, i in enumerate(LISTINGS))
        proc = run_cli("crawl", "listing", "--urls", pages, "--db", url,
                       "--url", f"demomart={server.url}", cwd=REPO, env=child_env(**extra))
        assert proc.returncode == 0, proc.stderr[-2000:]
        # The same listings again under other URL variants: still one request each.
        variants = ",".join(f"{server.url}/item.htm?id={i}&utm_source=x" for i in LISTINGS)
        proc = run_cli("crawl", "listing", "--urls", variants, "--db", url,
                       "--url", f"demomart={server.url}", cwd=REPO, env=child_env(**extra))
        assert proc.returncode == 0, proc.stderr[-2000:]
        detected = [r for r in _requests(db) if r.member == MEMBER]
        assert len(detected) == 2 and {r.state for r in detected} == {"approved"}

        filed = submit(db.sessions, config(), urls=urls)  # evidence required: the crawl kept it
        assert filed.prepared.refused == [] and len(filed.filed) == 1
        batch_payload = None
        with session_scope(db.sessions) as session:
            from crawler.db.models_takedown import NoticeBatch

            batch_payload = session.execute(select(NoticeBatch.payload)).scalar_one()
        assert all(len(x["evidence"]) >= 1 and len(x["evidence"][0]["sha256"]) == 64
                   for x in batch_payload["listings"])

        # Follow-up while the site answers every page with a captcha / login wall.
        site.buckets = TokenBuckets(1e-9, 1)
        site.buckets.take("127.0.0.1")
        blocked = followup(db.sessions, url, config(), urls=urls, crawl_env=extra,
                           crawl_sets=["REELGUARD_BLOCK_RETRY_TIMES=0"])
        assert blocked.accepted == 2 and blocked.removed == 0 and blocked.crawl_exit != 0
        assert {r.state for r in _requests(db) if r.member == MEMBER} == {"acknowledged"}

        site.buckets = None
        done = followup(db.sessions, url, config(), urls=urls, crawl_env=extra)
        assert done.removed == 2 and done.crawl_exit == 0
        removed = [r for r in _requests(db) if r.member == MEMBER]
        assert {r.state for r in removed} == {"removed"}
        assert all(r.time_to_removal_s is not None and r.time_to_removal_s > 0 for r in removed)
        assert all(r.platform_status == "accepted" for r in removed)

        # The seller puts the first listing back up.
        site.intake.relist(LISTINGS[0])
        again = followup(db.sessions, url, config(), urls=urls, crawl_env=extra)
        assert again.relisted == 1
    rows = [r for r in _requests(db) if r.member == MEMBER]
    old = next(r for r in rows if r.state == "relisted")
    fresh = next(r for r in rows if r.cites_request_id == old.id)
    assert fresh.state == "approved" and fresh.listing_id == old.listing_id
    with session_scope(db.sessions) as session:
        key = session.get(Listing, old.listing_id).listing_key  # type: ignore[union-attr]
    assert key == LISTINGS[0]
