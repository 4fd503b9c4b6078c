"""``reelguard takedown``: the queue, reviews, notices, submission, follow-up and the report.

Errors become one line and an exit code through ``crawler.cli.guarded``. A person's actions are
recorded as ``user:<name>`` (``--actor``, default ``$USER``) in the audit log.

Settings: ``REELGUARD_DATABASE_URL`` (or ``--db``), ``REELGUARD_TAKEDOWN_CONFIG`` (or
``--config``), ``REELGUARD_MARKETPLACE_URLS`` (or ``--url``), ``REELGUARD_ALLOWED_PRIVATE_HOSTS``.
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

takedown_app = typer.Typer(help="The takedown queue and notices.", no_args_is_help=True)
out = Console()

DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="takedown.yaml")]
UrlOpt = Annotated[list[str] | None, typer.Option(
    "--url", help="NAME=BASE_URL of a marketplace (repeatable)")]
ActorOpt = Annotated[str | None, typer.Option("--actor", help="Who acts (default: $USER)")]


def _guarded(fn: Any) -> Any:
    from crawler.cli import guarded

    return guarded(fn)


def _db(db: str | None) -> Any:
    from crawler.storage import open_database

    return open_database(db)


def _config(path: Path | None) -> Any:
    from crawler.takedown.config import TakedownConfig

    return TakedownConfig.load(path)


def _urls(values: list[str] | None) -> dict[str, str]:
    from crawler.config import parse_marketplace_urls

    return parse_marketplace_urls(",".join(values or []))


def _actor(actor: str | None) -> str:
    if actor and ":" in actor:
        return actor
    name = actor or os.environ.get("USER") or getpass.getuser() or "cli"
    return f"user:{name}"


@takedown_app.command("queue")
def queue_cmd(
    state: Annotated[list[str] | None, typer.Option("--state", help="Only these states")] = None,
    member: Annotated[str | None, typer.Option(help="Only this member")] = None,
    marketplace: Annotated[str | None, typer.Option("--marketplace", "-m")] = None,
    limit: Annotated[int, typer.Option(help="How many")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
    db: DbOpt = None,
) -> None:
    """List takedown requests, newest first."""

    def run() -> None:
        from sqlalchemy import select

        from crawler.db.models import Listing
        from crawler.db.models_takedown import TAKEDOWN_STATES, TakedownRequest
        from crawler.db.session import session_scope
        from crawler.exceptions import ConfigError

        bad = [s for s in state or [] if s not in TAKEDOWN_STATES]
        if bad:
            raise ConfigError(f"unknown state(s) {', '.join(bad)}; "
                              f"states: {', '.join(TAKEDOWN_STATES)}")
        database = _db(db)
        with session_scope(database.sessions) as session:
            stmt = (select(TakedownRequest, Listing.listing_key, Listing.title, Listing.url)
                    .join(Listing, Listing.id == TakedownRequest.listing_id)
                    .order_by(TakedownRequest.id.desc()).limit(limit))
            if state:
                stmt = stmt.where(TakedownRequest.state.in_(state))
            if member:
                stmt = stmt.where(TakedownRequest.member == member)
            if marketplace:
                stmt = stmt.where(TakedownRequest.marketplace == marketplace)
            rows = session.execute(stmt).all()
        if as_json:
            for req, key, title, url in rows:
                print(json.dumps({
                    "id": req.id, "state": req.state, "member": req.member,
                    "marketplace": req.marketplace, "listing_id": key, "title": title,
                    "url": url, "decision": req.decision, "score": req.score,
                    "catalog_ids": req.catalog_ids, "cites_request_id": req.cites_request_id,
                    "complaint_id": req.complaint_id, "opened_at": req.opened_at.isoformat(),
                    "time_to_removal_s": req.time_to_removal_s,
                }, ensure_ascii=False))
            return
        table = Table()
        for col in ("id", "state", "member", "marketplace", "listing", "title", "decision",
                    "score", "complaint", "cites"):
            table.add_column(col, overflow="fold")
        for req, key, title, _url in rows:
            table.add_row(*(Text(str(v)) for v in (
                req.id, req.state, req.member, req.marketplace, key, title[:60], req.decision,
                f"{req.score:.2f}" if req.score is not None else "", req.complaint_id or "",
                req.cites_request_id or "")))
        out.print(table)

    _guarded(run)


def _move(ids: list[int], to: str, actor: str, reason: str | None, db: str | None) -> None:
    from crawler.db.session import session_scope
    from crawler.takedown.states import transition

    database = _db(db)
    for request_id in ids:
        with session_scope(database.sessions) as session:
            before = transition(session, request_id, to, actor, reason)
        out.print(f"request {request_id}: {before} -> {to}", highlight=False)


@takedown_app.command("approve")
def approve_cmd(
    ids: Annotated[list[int], typer.Argument(help="Request ids")],
    reason: Annotated[str | None, typer.Option(help="Why")] = None,
    actor: ActorOpt = None, db: DbOpt = None,
) -> None:
    """Approve requests waiting for review."""
    _guarded(lambda: _move(ids, "approved", _actor(actor), reason or "reviewed", db))


@takedown_app.command("reject")
def reject_cmd(
    ids: Annotated[list[int], typer.Argument(help="Request ids")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log)")],
    actor: ActorOpt = None, db: DbOpt = None,
) -> None:
    """Reject requests (not infringing, authorised seller…)."""
    _guarded(lambda: _move(ids, "rejected", _actor(actor), reason, db))


@takedown_app.command("withdraw")
def withdraw_cmd(
    ids: Annotated[list[int], typer.Argument(help="Request ids")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log)")],
    actor: ActorOpt = None, db: DbOpt = None,
) -> None:
    """Withdraw requests (also after filing)."""
    _guarded(lambda: _move(ids, "withdrawn", _actor(actor), reason, db))


@takedown_app.command("history")
def history_cmd(
    request_id: Annotated[int, typer.Argument(help="Request id")], db: DbOpt = None,
) -> None:
    """The audit log of one request."""

    def run() -> None:
        from crawler.db.session import session_scope
        from crawler.takedown.states import history

        with session_scope(_db(db).sessions) as session:
            events = history(session, request_id)
        for e in events:
            out.print(Text(f"{e.at.isoformat()}  {e.from_state or '-':>14} -> {e.to_state:<14} "
                           f"{e.actor}  {e.reason or ''}"))

    _guarded(run)


@takedown_app.command("export")
def export_cmd(
    out_path: Annotated[Path, typer.Option("--out", help="File to write")],
    fmt: Annotated[str, typer.Option("--format", help="json or csv")] = "json",
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """Export notices (filed, prepared and drafts of approved requests) as JSON or CSV."""

    def run() -> None:
        from crawler.db.session import session_scope
        from crawler.exceptions import ConfigError
        from crawler.takedown import export

        if fmt not in ("json", "csv"):
            raise ConfigError(f"--format must be json or csv, not {fmt!r}")
        cfg = _config(config)
        with session_scope(_db(db).sessions) as session:
            notices = export.collect(session, cfg)
        n = export.write(notices, fmt, out_path)
        out.print(f"{out_path}: {len(notices)} notices, {n} listings", highlight=False)

    _guarded(run)


def print_submit(result: Any) -> None:
    for refusal in result.prepared.refused:
        out.print(Text(f"refused {refusal.member} / {refusal.marketplace} requests "
                       f"{', '.join(map(str, refusal.request_ids))}: missing "
                       f"{'; '.join(refusal.missing)}", style="yellow"))
    for batch_id, complaint, n in result.filed:
        out.print(f"batch {batch_id}: filed as complaint [bold]{complaint}[/] ({n} listings)")
    for batch_id, error in result.failed:
        out.print(Text(f"batch {batch_id}: not filed: {error}", style="red"))
    listings = sum(n for _b, _c, n in result.filed)
    rate = listings / result.seconds if result.seconds else 0.0
    out.print(f"{len(result.filed)} batches filed ({listings} listings) in {result.seconds:.2f} s "
              f"({rate:.0f} listings/s), {len(result.failed)} failed, "
              f"{len(result.prepared.refused)} refusals", highlight=False)


@takedown_app.command("submit")
def submit_cmd(
    member: Annotated[str | None, typer.Option(help="Only this member")] = None,
    marketplace: Annotated[str | None, typer.Option("--marketplace", "-m")] = None,
    url: UrlOpt = None,
    allow_without_evidence: Annotated[bool, typer.Option(
        "--allow-without-evidence", help="File listings that have no evidence hash")] = False,
    lease: Annotated[float, typer.Option(
        help="Seconds after which another worker's unfinished batch is retried")] = 120.0,
    retry_failed: Annotated[bool, typer.Option(help="Retry batches the intake refused")] = False,
    worker: Annotated[str | None, typer.Option(help="Worker name (default host:pid)")] = None,
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """Batch approved requests into notices and file them with the marketplaces' intake."""

    def run() -> None:
        from crawler.exceptions import CrawlFailed
        from crawler.takedown.submit import submit

        result = submit(
            _db(db).sessions, _config(config), urls=_urls(url), member=member,
            marketplace=marketplace, allow_without_evidence=allow_without_evidence,
            lease_s=lease, retry_failed=retry_failed,
            worker=worker or f"{os.uname().nodename}:{os.getpid()}",
        )
        print_submit(result)
        if result.failed:
            raise CrawlFailed(f"{len(result.failed)} batch(es) not filed")

    _guarded(run)


def print_followup(result: Any) -> None:
    out.print(f"platform decisions: {result.accepted} accepted, {result.rejected} rejected, "
              f"{result.pending} pending", highlight=False)
    for e in result.poll_errors:
        out.print(Text(f"poll failed: {e}", style="red"))
    out.print(f"re-checked {result.rechecked} listing pages ({result.crawl_status})",
              highlight=False)
    median = ""
    if result.removal_times:
        import statistics

        median = f", median time to removal {statistics.median(result.removal_times):.1f} s"
    out.print(f"removed: {result.removed}{median}; still up or unverified: {result.still_up}; "
              f"relistings: {result.relisted}", highlight=False)


@takedown_app.command("followup")
def followup_cmd(
    url: UrlOpt = None,
    crawl: Annotated[bool, typer.Option(help="Re-crawl the listing pages")] = True,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="NAME=VALUE for the re-crawl (repeatable)")] = None,
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """Poll complaint decisions, re-crawl filed listings, record removals and relistings."""

    def run() -> None:
        from crawler.takedown.followup import followup

        database = _db(db)
        result = followup(database.sessions, database.url, _config(config), urls=_urls(url),
                          crawl=crawl, crawl_sets=set_ or [])
        print_followup(result)
        from crawler.sellers.refresh import refresh_and_report

        refresh_and_report(database.url, out)  # accepted removals are strikes now

    _guarded(run)


@takedown_app.command("report")
def report_cmd(
    chart: Annotated[Path | None, typer.Option(help="Write the chart here (.svg)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
    db: DbOpt = None,
) -> None:
    """Requests by state, acceptance, time to removal, relisting and good-faith standing."""

    def run() -> None:
        from crawler.db.session import session_scope
        from crawler.exceptions import ConfigError
        from crawler.takedown import report

        with session_scope(_db(db).sessions) as session:
            rows = report.build(session)
        if chart is not None:
            try:
                report.write_chart(rows, chart)
            except ValueError as exc:
                raise ConfigError(str(exc)) from exc
        if as_json:
            print(json.dumps([r.as_dict() for r in rows], ensure_ascii=False))
        else:
            out.print(report.table(rows))
        if chart is not None:
            out.print(f"chart: {chart}", highlight=False)

    _guarded(run)
