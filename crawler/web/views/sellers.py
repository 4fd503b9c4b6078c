"""The seller page, the "investigate" button and the investigation's case report.

Starting an investigation and opening its case file are for administrators only: an
investigation crawls the whole storefront and its case file covers every member's requests
and works. A member's POST answers 404 before anything is started or recorded.

No settings affect this module.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from crawler.db.models import Marketplace, Seller
from crawler.db.models_sellers import Investigation
from crawler.db.session import session_scope
from crawler.web import charts, csrf
from crawler.web.auth import current_user
from crawler.web.investigations import InvestigationRefused, command, launch
from crawler.web.investigations import case_file as find_case_file
from crawler.web.queries.seller import seller_page as load_seller_page
from crawler.web.scope import NotFound, seller_visible
from crawler.web.templating import render

# The case report is our own HTML (escaped when written) with an inline stylesheet; it may
# style itself but never run script.
CASE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def seller_page(request: Request) -> Response:
    user = current_user(request)
    seller_id = int(request.path_params["seller_id"])
    with session_scope(request.app.state.db.sessions) as session:
        page = load_seller_page(session, user, seller_id)
    listings_chart = charts.columns(
        [(d.strftime("%m-%d"), float(n)) for d, n in page.listings_per_day],
        title="Listings first seen per day", width=640, height=180,
    )
    return render(request, "seller.html", {"p": page, "s": page.ledger.seller,
                                           "listings_chart": listings_chart})


async def investigate(request: Request) -> Response:
    form = await request.form()
    csrf.check(request, form)
    user = await run_in_threadpool(current_user, request)
    if not user.is_admin:
        raise NotFound("investigations are started by administrators")
    seller_id = int(request.path_params["seller_id"])
    db = request.app.state.db

    def run() -> dict[str, object]:
        with session_scope(db.sessions) as session:
            if not seller_visible(session, user, seller_id):
                raise NotFound(f"seller {seller_id}")
            seller = session.get(Seller, seller_id)
            assert seller is not None
            market = session.get(Marketplace, seller.marketplace_id)
            assert market is not None
            factory = request.app.state.investigate_argv or command
            try:
                launch(session, user, db.url, seller_id, market.name, seller.seller_key,
                       argv=factory(db.url, market.name, seller.seller_key),
                       log_dir=request.app.state.log_dir)
            except InvestigationRefused as exc:
                return {"kind": "warn", "text": str(exc), "details": []}
        return {"kind": "ok", "text": "Investigation started: it crawls the whole storefront "
                "and writes a case file; reload this page to follow it.", "details": []}

    request.session["flash"] = await run_in_threadpool(run)
    return RedirectResponse(f"/sellers/{seller_id}#investigations", status_code=303)


def case_file(request: Request) -> Response:
    """A file of an investigation's case folder, for administrators only: a case file holds
    the seller's whole history, every member's requests and works included."""
    user = current_user(request)
    if not user.is_admin:
        raise NotFound("case files are for administrators")
    investigation_id = int(request.path_params["investigation_id"])
    name = str(request.path_params["name"])
    with session_scope(request.app.state.db.sessions) as session:
        inv = session.get(Investigation, investigation_id)
        if inv is None:
            raise NotFound(f"investigation {investigation_id}")
        seller_id = session.execute(
            select(Seller.id).join(Marketplace, Marketplace.id == Seller.marketplace_id)
            .where(Marketplace.name == inv.marketplace, Seller.seller_key == inv.seller_key)
        ).scalar_one_or_none()
        if seller_id is None or not seller_visible(session, user, seller_id):
            raise NotFound(f"investigation {investigation_id}")
    path = find_case_file(inv, name)
    if path is None:
        raise NotFound(f"case file {name}")
    media_type = "text/html; charset=utf-8" if name == "report.html" else None
    return FileResponse(path, media_type=media_type,
                        headers={"Content-Security-Policy": CASE_CSP})

