"""After a crawl: bring the seller-level facts up to date, in a fixed order.

1. the strike ledger from removals the platforms accepted (``crawler.sellers.ledger``);
2. licence findings for every shop whose licence block or listings changed
   (``crawler.licences.check``), against the register file when one is configured;
3. linked-account clusters from the identifiers the crawl recorded (``crawler.linking.cluster``);
4. escalation levels under the repeat-infringer policy (``crawler.sellers.escalate``), last,
   because a relisting by a linked account counts against the whole cluster.

Each step is idempotent: running it twice changes nothing the second time. Called at the end
of a monitoring pass, a single crawl, an investigation and the demo.

Settings: ``REELGUARD_SELLER_POLICY`` (policy file or preset name),
``REELGUARD_LICENCE_REGISTER`` (CSV register of publication licences).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from crawler.db.session import session_scope

logger = logging.getLogger(__name__)


@dataclass
class RefreshResult:
    strikes_added: int = 0
    licence_findings: int = 0
    clusters: int = 0
    escalations: list[Any] = field(default_factory=list)


def refresh_sellers(
    database: Any,
    *,
    policy: str | None = None,
    register: str | None = None,
) -> RefreshResult:
    """Run the four steps above on ``database`` (a ``crawler.storage.Database``)."""
    from crawler.licences.check import check_sellers
    from crawler.licences.register import load_register, register_in_use
    from crawler.linking.cluster import recompute_clusters
    from crawler.sellers.escalate import evaluate_all
    from crawler.sellers.ledger import update_strikes
    from crawler.sellers.policy import load_policy

    result = RefreshResult()
    policy_obj = load_policy(policy or os.environ.get("REELGUARD_SELLER_POLICY"))
    with session_scope(database.sessions) as session:
        register_path = register_in_use(session, register)
    register_obj = load_register(register_path) if register_path else None
    with session_scope(database.sessions) as session:
        result.strikes_added = update_strikes(session)
    with session_scope(database.sessions) as session:
        result.licence_findings = len(check_sellers(session, register=register_obj))
    with session_scope(database.sessions) as session:
        result.clusters = recompute_clusters(session)
    with session_scope(database.sessions) as session:
        result.escalations = [s for s in evaluate_all(session, policy_obj) if s.changed]
    logger.info(
        "sellers refreshed: %d new strikes, %d licence findings, %d clusters, %d escalations",
        result.strikes_added,
        result.licence_findings,
        result.clusters,
        len(result.escalations),
    )
    return result


def refresh_and_report(database_url: str | None, console: Any, **kwargs: Any) -> RefreshResult:
    """``refresh_sellers`` on the database at ``database_url``, with one line for people."""
    from crawler.storage import open_database

    result = refresh_sellers(open_database(database_url), **kwargs)
    console.print(
        f"sellers: {result.strikes_added} new strikes, {result.licence_findings} licence "
        f"findings, {result.clusters} linked-account clusters, "
        f"{len(result.escalations)} level changes",
        highlight=False,
    )
    return result
