"""``reelguard investigate`` and ``reelguard case build|verify``.

* ``reelguard investigate --marketplace M --seller S [--depth N] [--linked] [--out DIR]
  [--url NAME=BASE] [--db URL] [--screenshots/--no-screenshots] [--demo] [--json]``: the
  targeted crawl of ``crawler.investigate.crawl`` (``--depth``: how many link hops from S are
  crawled with ``--linked``: 1 = the accounts sharing an identifier with S, 2 = also those
  sharing one with them…), then the case file of ``crawler.investigate.casefile`` under
  ``DIR`` (default ``var/cases``). The ``investigations`` row records the state (``running``,
  ``done``, ``failed`` with the error), the crawl run, the case folder, the SHA-256 of its zip
  and a summary; the seller's audit log (``seller_events``) gets an ``investigation`` event.
* ``reelguard case build (--investigation ID | -m M --seller S) [--out DIR]``: (re)write a case
  file from what is stored, without crawling.
* ``reelguard case verify PATH [--db URL] [--json]``: check a case folder or zip
  (``crawler.investigate.verify``); exit 1 naming every failure.

Exit codes: 2 unknown marketplace or seller, bad option; 4 database; 6 storefront blocked or
crawl failed; 130 interrupted; 1 evidence missing or a case that does not verify.

Settings: ``REELGUARD_DATABASE_URL`` (or ``--db``), ``REELGUARD_MARKETPLACE_URLS`` (or
``--url``), ``REELGUARD_ALLOWED_PRIVATE_HOSTS``, ``REELGUARD_EVIDENCE_DIR``, and any setting
through ``--set``.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

case_app = typer.Typer(help="Case files: build and verify.", no_args_is_help=True)

DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL")]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Folder for case files (default var/cases)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]


def _update(database: Any, investigation_id: int, **values: Any) -> None:
    """Set ``values`` on the investigation row; a final state also sets ``finished_at``."""
    from crawler.db.models_sellers import Investigation
    from crawler.db.session import session_scope

    with session_scope(database.sessions) as session:
        row = session.get(Investigation, investigation_id)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)
        if values.get("state") in ("done", "failed"):
            row.finished_at = datetime.now(UTC)


def _summary_table(summary: dict[str, Any], title: str) -> Table:
    from crawler.investigate.report import level_words

    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    rows = [
        ("seller", f"{summary['seller_id']} ({summary['marketplace']}) {summary['name'] or ''}"),
        ("level", f"{level_words(summary['level'])}: {summary['level_reason'] or ''}"),
        ("strikes", str(summary["strikes"])),
        (
            "licence",
            (
                f"{summary['licence_status'] or 'not checked'} "
                f"{'; '.join(summary['licence_problems'])}"
            ),
        ),
        (
            "linked accounts",
            ", ".join(a["seller_id"] for a in summary["linked_accounts"]) or "none",
        ),
        ("listings", f"{summary['listings']} ({summary['matches']} matched)"),
        (
            "requests / removals / relistings",
            f"{summary['requests']} / {summary['removals']} / {summary['relistings']}",
        ),
        ("pages captured / artefacts", f"{summary['pages_captured']} / {summary['artefacts']}"),
        ("dates covered", f"{summary['from'] or '-'} to {summary['to'] or '-'}"),
    ]
    for name, value in rows:
        table.add_row(name, Text(value))  # scraped text, never Rich markup
    return table


def investigate(
    marketplace: Annotated[str, typer.Option("--marketplace", "-m", help="The marketplace")],
    seller: Annotated[str, typer.Option("--seller", help="The seller id on that marketplace")],
    depth: Annotated[
        int,
        typer.Option(
            help="With --linked: link hops to follow (1: accounts sharing an identifier with the "
            "seller; 2: also those sharing one with them)"
        ),
    ] = 1,
    linked: Annotated[bool, typer.Option("--linked", help="Also crawl linked accounts")] = False,
    out_dir: OutOpt = None,
    url: Annotated[
        list[str] | None, typer.Option("--url", help="NAME=BASE_URL of a marketplace (repeatable)")
    ] = None,
    db: DbOpt = None,
    screenshots: Annotated[
        bool,
        typer.Option("--screenshots/--no-screenshots", help="Full-page screenshot of every page"),
    ] = True,
    demo_sites: Annotated[
        bool,
        typer.Option("--demo", help="Start the bundled demo marketplaces for this investigation"),
    ] = False,
    max_shop_pages: Annotated[int, typer.Option(help="Safety cap on shop index pages")] = 500,
    max_linked: Annotated[int, typer.Option(help="At most this many linked storefronts")] = 20,
    as_json: JsonOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log to the terminal")] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="NAME=VALUE: a Scrapy or REELGUARD_* setting (repeatable)"),
    ] = None,
) -> None:
    """Crawl a seller's whole storefront (and linked accounts) and write a case file."""
    from crawler.cli import _log_settings, _parse_sets, _parse_urls, err, guarded, out

    def run() -> None:
        from crawler.db.models_sellers import Investigation, SellerEvent
        from crawler.db.session import session_scope
        from crawler.evidence.store import EvidenceStore
        from crawler.exceptions import ConfigError, CrawlFailed, UnknownMarketplace
        from crawler.extensions.progress import shared_progress
        from crawler.investigate.casefile import build_case
        from crawler.investigate.crawl import run_investigation
        from crawler.pages import KNOWN_MARKETPLACES
        from crawler.profiles import load_profiles, profiles_path
        from crawler.storage import open_database

        if marketplace not in KNOWN_MARKETPLACES:
            raise UnknownMarketplace(
                f"unknown marketplace {marketplace!r}; known: {', '.join(KNOWN_MARKETPLACES)}"
            )
        if not seller.strip():
            raise ConfigError("--seller: give the seller id")
        if depth < 1 or max_shop_pages < 1 or max_linked < 0:
            raise ConfigError(
                "--depth and --max-shop-pages must be at least 1, --max-linked at least 0"
            )
        overrides: dict[str, Any] = {
            "REELGUARD_EVIDENCE_SCREENSHOT": screenshots,
            **_parse_sets(set_),
            **_log_settings(verbose),
        }
        with ExitStack() as stack:
            urls = _parse_urls(url)
            if demo_sites:
                from crawler.demo.server import DemoServerProcess

                server = stack.enter_context(DemoServerProcess())
                urls = {**server.urls, **urls}
                overrides["REELGUARD_ALLOWED_PRIVATE_HOSTS"] = ["127.0.0.1", "localhost"]
            profile = load_profiles(profiles_path()).get(marketplace)
            if marketplace not in urls and not (profile and profile.base_url):
                raise ConfigError(
                    f"no base URL for {marketplace}: pass --url "
                    f"{marketplace}=URL or set REELGUARD_MARKETPLACE_URLS"
                )
            database = open_database(db)
            with session_scope(database.sessions) as session:
                row = Investigation(
                    marketplace=marketplace,
                    seller_key=seller,
                    depth=depth,
                    linked=linked,
                    state="running",
                )
                session.add(row)
                session.flush()
                inv_id, started = row.id, row.started_at
            err.print(
                f"investigation {inv_id}: seller {seller} on {marketplace}",
                highlight=False,
                markup=False,
            )
            try:
                if not verbose:
                    stack.enter_context(shared_progress(err))
                crawl = run_investigation(
                    marketplace=marketplace,
                    seller=seller,
                    marketplace_urls=urls,
                    database_url=database.url,
                    depth=depth,
                    linked=linked,
                    max_shop_pages=max_shop_pages,
                    max_linked=max_linked,
                    overrides=overrides,
                    report=lambda text: err.print(text, highlight=False, markup=False),
                    on_run=lambda run_id: _update(database, inv_id, run_id=run_id),
                )
                if crawl.status == "interrupted":
                    raise KeyboardInterrupt
                if not crawl.ok:
                    raise CrawlFailed(crawl.reason)
                if crawl.refresh_error:
                    err.print(
                        f"warning: seller refresh failed: {crawl.refresh_error}",
                        highlight=False,
                        markup=False,
                    )
                investigation = {
                    "id": inv_id,
                    "marketplace": marketplace,
                    "seller": seller,
                    "depth": depth,
                    "linked": linked,
                    "run_id": crawl.run_id,
                    "started_at": started.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "hops": crawl.hops,
                    "refresh_error": crawl.refresh_error,
                }
                err.print("writing the case file", highlight=False)
                store = EvidenceStore(overrides.get("REELGUARD_EVIDENCE_DIR"))
                with session_scope(database.sessions) as session:
                    case = build_case(
                        session,
                        store,
                        marketplace=marketplace,
                        seller=seller,
                        out_dir=out_dir,
                        subject_ids=crawl.subject_ids,
                        run_ids=[crawl.run_id],
                        investigation=investigation,
                    )
            except BaseException as exc:
                reason = (
                    "interrupted"
                    if isinstance(exc, KeyboardInterrupt)
                    else (f"{type(exc).__name__}: {exc}")
                )
                _update(database, inv_id, state="failed", error=reason[:4000])
                raise
        summary = {
            **case.summary,
            "case_id": case.case_id,
            "zip": str(case.zip_path),
            "manifest_sha256": case.manifest_sha256,
            "run_id": crawl.run_id,
            "pages_fetched": crawl.totals.get("pages", 0),
            "hops": crawl.hops,
            "refresh_error": crawl.refresh_error,
        }
        _update(
            database,
            inv_id,
            state="done",
            case_path=str(case.path),
            case_sha256=case.zip_sha256,
            summary=summary,
        )
        with session_scope(database.sessions) as session:
            assert crawl.seller_db_id is not None
            session.add(
                SellerEvent(
                    seller_id=crawl.seller_db_id,
                    kind="investigation",
                    reason=(f"investigation {inv_id}: case file {case.case_id}"),
                    evidence=[
                        {
                            "case": str(case.path),
                            "zip_sha256": case.zip_sha256,
                            "manifest_sha256": case.manifest_sha256,
                        }
                    ],
                    actor="reelguard",
                )
            )
        if as_json:
            print(
                json.dumps(
                    {
                        "investigation": inv_id,
                        "state": "done",
                        "case_path": str(case.path),
                        "case_sha256": case.zip_sha256,
                        "summary": summary,
                    },
                    ensure_ascii=False,
                )
            )
            return
        out.print(_summary_table(case.summary, f"Investigation {inv_id}"))
        out.print(f"case file: {case.path}", highlight=False, markup=False, soft_wrap=True)
        out.print(
            f"archive:   {case.zip_path} (sha256 {case.zip_sha256})",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )

    guarded(run)


@case_app.command("build")
def case_build(
    investigation: Annotated[
        int | None, typer.Option("--investigation", help="Rebuild the case of this investigation")
    ] = None,
    marketplace: Annotated[str | None, typer.Option("--marketplace", "-m")] = None,
    seller: Annotated[str | None, typer.Option("--seller")] = None,
    out_dir: OutOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a case file from what is stored (no crawl)."""
    from crawler.cli import guarded, out

    def run() -> None:
        from crawler.db.session import session_scope
        from crawler.evidence.store import EvidenceStore
        from crawler.exceptions import ConfigError
        from crawler.investigate.casefile import build_case, build_investigation_case
        from crawler.storage import open_database

        database = open_database(db)
        with session_scope(database.sessions) as session:
            if investigation is not None:
                case = build_investigation_case(session, EvidenceStore(), investigation, out_dir)
            elif marketplace and seller:
                case = build_case(
                    session,
                    EvidenceStore(),
                    marketplace=marketplace,
                    seller=seller,
                    out_dir=out_dir,
                )
            else:
                raise ConfigError("give --investigation ID, or --marketplace and --seller")
        if as_json:
            print(
                json.dumps(
                    {
                        "case_path": str(case.path),
                        "zip": str(case.zip_path),
                        "case_sha256": case.zip_sha256,
                        "summary": case.summary,
                    },
                    ensure_ascii=False,
                )
            )
            return
        out.print(f"case file: {case.path}", highlight=False, markup=False, soft_wrap=True)
        out.print(
            f"archive:   {case.zip_path} (sha256 {case.zip_sha256})",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )

    guarded(run)


@case_app.command("verify")
def case_verify(
    path: Annotated[Path, typer.Argument(help="A case folder or its .zip")],
    db: Annotated[
        str | None,
        typer.Option("--db", help="Also look the chain head and entries up in this database"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-hash every file of a case, check its WACZ and its artefact hashes; exit 1 on failure."""
    from crawler.cli import err, guarded, out

    def run() -> bool:
        from crawler.exceptions import ConfigError
        from crawler.investigate.verify import verify_against_database, verify_case

        if not path.exists():
            raise ConfigError(f"{path}: no such case folder or zip")
        check = verify_case(path)
        if db is not None and check.case is not None:
            from crawler.db.session import session_scope
            from crawler.storage import open_database

            with session_scope(open_database(db).sessions) as session:
                verify_against_database(check, session)
        if as_json:
            print(
                json.dumps(
                    {
                        "ok": check.ok,
                        "path": str(path),
                        "files": check.files,
                        "artefacts": check.artefacts,
                        "wacz_entries": check.wacz_entries,
                        "failures": check.failures,
                    },
                    ensure_ascii=False,
                )
            )
            return check.ok
        out.print(
            f"{path}: {check.files} files, {check.artefacts} artefacts, "
            f"{check.wacz_entries} WACZ entries checked",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        for failure in check.failures:
            err.print(f"FAIL {failure}", highlight=False, markup=False, soft_wrap=True)
        if check.ok:
            out.print(
                "OK: every file matches SHA256SUMS, the WACZ and the artefact hashes",
                highlight=False,
            )
        else:
            err.print(f"{len(check.failures)} failure(s)", highlight=False)
        return check.ok

    if not guarded(run):
        raise typer.Exit(1)
