"""``reelguard evidence``: verify the evidence log and its artefacts, export a package.

* ``reelguard evidence verify [--db URL] [--dir PATH] [--json] [--expect-head HASH]``: re-hash
  every artefact, recompute every entry hash, walk the chain; print a summary and every
  failure (seq, record id, kind, artefact path, what is wrong); exit 1 if anything fails.
* ``reelguard evidence export REQUEST_ID [--out PATH]`` or ``--listing LISTING_ID``: write a
  WACZ package of the listing's evidence (see ``crawler.evidence.export``).

Settings: ``REELGUARD_DATABASE_URL``, ``REELGUARD_EVIDENCE_DIR`` (or ``--db``/``--dir``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

evidence_app = typer.Typer(
    help="Captured evidence: verify the hash chain, export packages.", no_args_is_help=True
)

DirOption = Annotated[
    Path | None,
    typer.Option("--dir", help="Evidence directory (default: $REELGUARD_EVIDENCE_DIR or "
                               "var/evidence)"),
]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: $REELGUARD_DATABASE_URL or "
                              "var/reelguard.db)"),
]


@evidence_app.command("verify")
def verify_command(
    db: DbOpt = None,
    directory: DirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON")] = False,
    expect_head: Annotated[
        str | None,
        typer.Option("--expect-head", help="entry_hash the chain head must have (catches "
                                           "entries removed from the end)"),
    ] = None,
) -> None:
    """Re-hash every artefact and walk the hash chain; exit 1 on any failure."""
    from crawler.cli import err, guarded, out

    def run() -> bool:
        from crawler.db.session import session_scope
        from crawler.evidence.store import EvidenceStore
        from crawler.evidence.verify import verify
        from crawler.storage import open_database

        database = open_database(db)
        store = EvidenceStore(directory)
        with session_scope(database.sessions) as session:
            report = verify(session, store, expect_head=expect_head)
        if as_json:
            print(json.dumps(report.as_dict(), ensure_ascii=False))
        else:
            out.print(
                f"evidence: {report.entries} entries, {report.artefacts_checked} artefacts "
                f"({report.bytes_hashed} bytes) re-hashed, {report.warcs_checked} WARCs checked; "
                f"head seq {report.head_seq} {report.head_hash}",
                highlight=False, soft_wrap=True,
            )
            for failure in report.failures:
                err.print(f"FAIL {failure.line()}", highlight=False, soft_wrap=True,
                          markup=False)
            if report.ok:
                out.print("OK: every artefact matches its entry and the chain is intact",
                          highlight=False)
            else:
                err.print(f"{len(report.failures)} failure(s)", highlight=False)
        return report.ok

    if not guarded(run):
        raise typer.Exit(1)


@evidence_app.command("export")
def export_command(
    request_id: Annotated[
        int | None, typer.Argument(help="Takedown request id (its listing's evidence)")
    ] = None,
    listing: Annotated[
        int | None, typer.Option("--listing", help="Listing database id instead of a request")
    ] = None,
    capture: Annotated[
        str | None, typer.Option("--capture", help="Only this capture id")
    ] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Output file (default: evidence-<id>.wacz)")
    ] = None,
    db: DbOpt = None,
    directory: DirOption = None,
) -> None:
    """Write a self-contained WACZ of a takedown request's (or a listing's) evidence."""
    from crawler.cli import guarded, out
    from crawler.exceptions import ConfigError

    def run() -> None:
        from crawler.db.session import session_scope
        from crawler.evidence.export import (
            export_records,
            listing_of_request,
            records_for_listing,
        )
        from crawler.evidence.store import EvidenceStore
        from crawler.exceptions import EvidenceError
        from crawler.storage import open_database

        if (request_id is None) == (listing is None):
            raise ConfigError("give a takedown REQUEST_ID or --listing LISTING_ID (one of them)")
        database = open_database(db)
        store = EvidenceStore(directory)
        with session_scope(database.sessions) as session:
            listing_id = listing if listing is not None else listing_of_request(
                session, int(request_id))  # type: ignore[arg-type]
            records = records_for_listing(session, listing_id, capture)
            if not records:
                raise EvidenceError(f"no evidence for listing {listing_id}"
                                    + (f" capture {capture}" if capture else ""))
            default = (f"evidence-request-{request_id}.wacz" if request_id is not None
                       else f"evidence-listing-{listing_id}.wacz")
            result = export_records(session, store, records, out_path or Path(default),
                                    description=f"Evidence of listing {listing_id}"
                                    + (f" (takedown request {request_id})"
                                       if request_id is not None else ""))
        out.print(f"wrote {result.path}: {result.records} evidence records, {result.files} files, "
                  f"{result.bytes} bytes, sha256 {result.sha256}", highlight=False,
                  soft_wrap=True)

    guarded(run)
