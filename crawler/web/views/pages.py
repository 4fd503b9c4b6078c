"""The runs pages and the overview.

No settings affect this module.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from crawler.db.session import session_scope
from crawler.web import charts
from crawler.web.auth import current_user
from crawler.web.queries.overview import overview
from crawler.web.queries.queue import FilterError
from crawler.web.queries.runs import EVENT_KINDS, run_detail, runs_page
from crawler.web.templating import render


def _page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    if not text.isdigit() or not 1 <= int(text) <= 100000:
        raise FilterError("page: a whole number from 1")
    return int(text)


def runs(request: Request) -> Response:
    current_user(request)
    with session_scope(request.app.state.db.sessions) as session:
        page = runs_page(session, _page_number(request))
    return render(request, "runs.html", {"p": page})


def run_page(request: Request) -> Response:
    current_user(request)
    kind = request.query_params.get("kind", "")
    if kind and kind not in EVENT_KINDS:
        raise FilterError(f"kind: unknown {kind!r}; kinds: {', '.join(EVENT_KINDS)}")
    with session_scope(request.app.state.db.sessions) as session:
        detail = run_detail(session, int(request.path_params["run_id"]), kind)
    return render(request, "run.html", {"d": detail, "kinds": EVENT_KINDS})


def _rate(value: float) -> str:
    return f"{value:.0%}"


def _hours(value: float) -> str:
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"


def overview_page(request: Request) -> Response:
    user = current_user(request)
    with session_scope(request.app.state.db.sessions) as session:
        o = overview(session, user)
    label = (lambda r: f"{r.marketplace} · {r.member}") if user.is_admin else (
        lambda r: r.marketplace)
    per_day = charts.columns([(d.strftime("%m-%d"), float(n)) for d, n in o.per_day[-60:]],
                             title="Detections per day (requests opened)", width=1120,
                             height=240)
    by_state = charts.bars([(s.replace("_", " "), float(n), charts.STATE_COLOURS[s])
                            for s, n in o.by_state], title="Requests by state")
    acceptance = charts.bars([(label(r), r.acceptance_rate, "#16a34a") for r in o.rows],
                             title="Acceptance rate (accepted / decided by the platform)",
                             maximum=1.0, fmt=_rate)
    removal = charts.bars([(label(r), r.median_removal_s, "#2563eb") for r in o.rows],
                          title="Median time to removal", fmt=_hours)
    relisting = charts.bars([(label(r), r.relisting_rate, "#be185d") for r in o.rows],
                            title="Relisting rate (relisted / taken down)", maximum=1.0,
                            fmt=_rate)
    return render(request, "overview.html", {
        "o": o, "per_day": per_day, "by_state": by_state, "acceptance": acceptance,
        "removal": removal, "relisting": relisting,
    })
