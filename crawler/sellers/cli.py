"""``reelguard sellers``: sellers by escalation level, and one seller's whole history.

* ``reelguard sellers [--marketplace M] [--level L] [--policy P] [--json]`` lists every seller
  with accepted removals (and the accounts linked to one), highest level first, with the
  strikes and points counted and the reason in words.
* ``reelguard sellers show SELLER [--marketplace M] [--json]``: the profile, the licence block
  as stored, the strikes (date, work, request, evidence hash), the escalation events and the
  linked accounts; ``--json`` gives the whole ledger (``crawler.sellers.history``), timeline
  included.

Both first bring the ledger up to date (``update_strikes``, then ``evaluate_all``, which
records level changes in the audit log): cheap and idempotent, so the answer is current.
``--no-refresh`` only reads (levels are still computed, nothing is written).

Scraped names are shown as text with control and bidirectional-override characters removed,
never as Rich markup. Errors are one line and an exit code (``crawler.cli.guarded``).

Settings: ``REELGUARD_DATABASE_URL`` (or ``--db``), ``REELGUARD_SELLER_POLICY`` (or
``--policy``: a preset name or a policy file).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

sellers_app = typer.Typer(
    help="Sellers under the repeat-infringer policy.", invoke_without_command=True
)
out = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160)

DbOpt = Annotated[str | None, typer.Option("--db", help="Database URL")]
PolicyOpt = Annotated[
    str | None,
    typer.Option(
        "--policy",
        help="Policy preset (three_strikes, points) or policy file "
        "(default: $REELGUARD_SELLER_POLICY or three_strikes)",
    ),
]
MarketOpt = Annotated[str | None, typer.Option("--marketplace", "-m", help="Only this marketplace")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON instead of tables")]
NoRefreshOpt = Annotated[
    bool,
    typer.Option("--no-refresh", help="Do not update the ledger or record level changes first"),
]

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def safe(value: Any) -> str:
    """Text fit for a terminal: control, zero-width and bidi characters become spaces."""
    if value is None:
        return ""
    return " ".join(_UNSAFE.sub(" ", str(value)).split())


def _guarded(fn: Any) -> Any:
    from crawler.cli import guarded

    return guarded(fn)


def _policy(name: str | None) -> Any:
    from crawler.sellers.policy import ENV_VAR, load_policy

    return load_policy(name or os.environ.get(ENV_VAR))


def _standings(database: Any, policy: Any, no_refresh: bool) -> tuple[list[Any], int]:
    from crawler.db.session import session_scope
    from crawler.sellers.escalate import evaluate_all
    from crawler.sellers.ledger import update_strikes

    added = 0
    if not no_refresh:
        with session_scope(database.sessions) as session:
            added = update_strikes(session)
    with session_scope(database.sessions) as session:
        return evaluate_all(session, policy, record=not no_refresh), added


@sellers_app.callback(invoke_without_command=True)
def sellers_list(
    ctx: typer.Context,
    marketplace: MarketOpt = None,
    level: Annotated[
        str | None,
        typer.Option("--level", help="Only sellers at this level (e.g. 'termination request')"),
    ] = None,
    policy: PolicyOpt = None,
    as_json: JsonOpt = False,
    no_refresh: NoRefreshOpt = False,
    db: DbOpt = None,
) -> None:
    """Sellers by escalation level (highest first), with the reason in words."""
    if ctx.invoked_subcommand is not None:
        return

    def run() -> None:
        from crawler.exceptions import ConfigError
        from crawler.sellers.policy import level_words, parse_level
        from crawler.storage import open_database

        try:
            wanted = parse_level(level) if level else None
        except ValueError as exc:
            raise ConfigError(f"--level: {exc}") from exc
        chosen = _policy(policy)
        rows, added = _standings(open_database(db), chosen, no_refresh)
        if marketplace:
            rows = [r for r in rows if r.marketplace == marketplace]
        if wanted:
            rows = [r for r in rows if r.level == wanted]
        if as_json:
            print(
                json.dumps(
                    {
                        "policy": chosen.as_dict(),
                        "as_of": rows[0].as_of.isoformat() if rows else None,
                        "strikes_added": added,
                        "sellers": [r.as_dict() for r in rows],
                    },
                    ensure_ascii=False,
                )
            )
            return
        table = Table(title=f"sellers under policy {safe(chosen.name)}")
        for col in ("level", "marketplace", "seller", "name", "strikes", "points", "reason"):
            table.add_column(col, overflow="fold")
        for r in rows:
            table.add_row(
                *(
                    Text(safe(v))
                    for v in (
                        level_words(r.level),
                        r.marketplace,
                        r.seller_key,
                        r.name or "",
                        r.strikes,
                        r.points,
                        r.reason,
                    )
                )
            )
        out.print(table)
        counts = Counter(level_words(r.level) for r in rows)
        summary = ", ".join(f"{n} {lv}" for lv, n in counts.items()) or "no sellers with strikes"
        out.print(Text(f"{len(rows)} sellers: {summary}; {added} new strikes recorded"))

    _guarded(run)


@sellers_app.command("show")
def show_cmd(
    seller: Annotated[str, typer.Argument(help="Seller key, name, shop name or #id")],
    marketplace: MarketOpt = None,
    policy: PolicyOpt = None,
    as_json: JsonOpt = False,
    observations: Annotated[
        bool,
        typer.Option("--observations", help="With --json: every crawl's sighting of every listing"),
    ] = False,
    no_refresh: NoRefreshOpt = False,
    db: DbOpt = None,
) -> None:
    """One seller's whole history: profile, licence, strikes, escalations, linked accounts."""

    def run() -> None:
        from crawler.db.session import session_scope
        from crawler.sellers.history import ledger_for, resolve_seller
        from crawler.storage import open_database

        chosen = _policy(policy)
        database = open_database(db)
        _standings(database, chosen, no_refresh)
        with session_scope(database.sessions) as session:
            seller_id = resolve_seller(session, seller, marketplace)
            ledger = ledger_for(session, seller_id, observations=observations, policy=chosen)
        if as_json:
            print(json.dumps({"policy": chosen.as_dict(), **ledger.as_dict()}, ensure_ascii=False))
            return
        _print_ledger(ledger, chosen)

    _guarded(run)


def _line(label: str, value: Any) -> None:
    text = Text(f"{label:>14}: ", style="bold")
    text.append(safe(value))
    out.print(text)


def _print_ledger(ledger: Any, policy: Any) -> None:
    from crawler.sellers.policy import level_words

    s = ledger.seller
    out.print(
        Text(
            f"{safe(s['marketplace'])}:{safe(s['seller_key'])} "
            f"{safe(s['name'] or s['shop_name'] or '')}",
            style="bold",
        )
    )
    standing = ledger.standing
    _line("level", f"{level_words(standing.level if standing else None)} (policy {policy.name})")
    if standing is not None:
        _line("reason", standing.reason)
    for label, key in (
        ("shop", "shop_name"),
        ("shop url", "shop_url"),
        ("location", "location"),
        ("rating", "rating_text"),
        ("opened", "opened_text"),
        ("first seen", "first_seen"),
        ("last seen", "last_seen"),
    ):
        if s.get(key):
            _line(label, s[key].isoformat() if hasattr(s[key], "isoformat") else s[key])
    lic = ledger.licence
    if lic["has_licence_block"] or lic["number"] or lic["raw"]:
        _line(
            "licence",
            " | ".join(
                safe(lic[k])
                for k in ("number", "holder", "authority", "valid_from", "valid_to")
                if lic[k]
            ),
        )
    else:
        _line("licence", "no licence block seen")
    if lic["finding"]:
        _line(
            "licence check",
            f"{lic['finding'].get('status')}: {'; '.join(lic['finding'].get('problems') or [])}",
        )
    states = Counter(r.state for r in ledger.requests)
    _line(
        "listings",
        f"{len(ledger.sightings)} seen, "
        f"{sum(1 for x in ledger.sightings if x.status == 'removed')} removed",
    )
    _line("requests", ", ".join(f"{n} {st}" for st, n in sorted(states.items())) or "none")

    table = Table(title="strikes (accepted removals)")
    for col in (
        "date",
        "work",
        "member",
        "offence",
        "request",
        "listing",
        "evidence sha256",
        "counted",
    ):
        # A hash is copied and compared whole: never folded across lines.
        wide = col == "evidence sha256"
        table.add_column(col, overflow="fold", no_wrap=wide, min_width=64 if wide else None)
    for k in ledger.strikes:
        table.add_row(
            *(
                Text(safe(v))
                for v in (
                    f"{k.struck_at:%Y-%m-%d %H:%M}",
                    k.work or k.catalog_id or "",
                    k.member,
                    k.offence + (" (relisting)" if k.relisting else ""),
                    k.request_id,
                    k.listing_key,
                    k.evidence_sha256 or "none",
                    "yes" if k.counted else "no: no evidence",
                )
            )
        )
    out.print(table)

    events = Table(title="escalations and other seller events")
    for col in ("at", "kind", "policy", "change", "reason"):
        events.add_column(col, overflow="fold")
    for e in ledger.events:
        change = (
            f"{level_words(e['from_level'])} -> {level_words(e['to_level'])}"
            if e["kind"] in ("escalation", "deescalation")
            else ""
        )
        events.add_row(
            *(
                Text(safe(v))
                for v in (
                    f"{e['at']:%Y-%m-%d %H:%M}",
                    e["kind"],
                    e["policy"] or "",
                    change,
                    e["reason"] or "",
                )
            )
        )
    out.print(events)

    cluster = ledger.cluster
    if cluster:
        linked = ", ".join(
            f"{safe(m['marketplace'])}:{safe(m['seller_key'])}"
            + (f" ({safe(m['name'])})" if m["name"] else "")
            for m in cluster["members"]
        )
        _line("linked", f"cluster {cluster['cluster_id']}: {linked}")
        for link in cluster["links"]:
            proofs = ", ".join(safe(p.get("sha256") or p.get("url") or "") for p in link["proof"])
            _line(
                "link",
                f"#{link['seller_a']} - #{link['seller_b']} share {link['kind']} "
                f"{safe(link['value'])}" + (f" (proof: {proofs})" if proofs else ""),
            )
    else:
        _line("linked", "no linked accounts")
