"""The queue, the bulk decision, the request page, its evidence verification and artefacts.

No settings affect this module.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crawler.db.session import session_scope
from crawler.web import csrf
from crawler.web.auth import current_user
from crawler.web.decisions import decide as decide_requests
from crawler.web.decisions import parse_ids
from crawler.web.member_view import member_artefact
from crawler.web.queries.queue import SORTS, parse_filters, queue_page
from crawler.web.queries.request import (
    PICTURE_KINDS,
    raster_type,
    request_detail,
    verify_request_evidence,
)
from crawler.web.scope import NotFound, evidence_record
from crawler.web.templating import render

# Served artefacts must not run anything even if opened directly: no script, a sandbox.
# The browser's own image viewer styles itself inline; without script (sandbox) that is harmless.
ARTEFACT_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def _back_to_queue(target: str | None) -> str:
    """Where a decision returns: the queue with its filters, never another site."""
    if target and target.startswith("/queue") and "\\" not in target:
        return target
    if target and target.startswith("/requests/") and target[10:].isdigit():
        return target
    return "/queue"


def queue(request: Request) -> Response:
    user = current_user(request)
    filters = parse_filters(request.query_params, user)
    with session_scope(request.app.state.db.sessions) as session:
        page = queue_page(session, user, filters)
    return render(request, "queue.html", {
        "page": page, "f": filters, "params": filters.params(), "sorts": list(SORTS),
        "here": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
    })


async def decide(request: Request) -> Response:
    form = await request.form()
    csrf.check(request, form)
    user = await run_in_threadpool(current_user, request)
    ids = parse_ids([str(v) for v in form.getlist("ids")])
    action = str(form.get("action") or "")
    reason = str(form.get("reason") or "")
    result = await run_in_threadpool(decide_requests, request.app.state.db.sessions, user, ids,
                                     action, reason)
    request.session["flash"] = result.summary()
    return RedirectResponse(_back_to_queue(str(form.get("next") or "")), status_code=303)


def request_page(request: Request) -> Response:
    user = current_user(request)
    request_id = int(request.path_params["request_id"])
    with session_scope(request.app.state.db.sessions) as session:
        detail = request_detail(session, user, request_id)
    verified = request.session.pop(f"verified:{request_id}", None)
    return render(request, "request.html", {"d": detail, "verified": verified,
                                            "picture_kinds": PICTURE_KINDS})


async def verify_evidence(request: Request) -> Response:
    form = await request.form()
    csrf.check(request, form)
    user = await run_in_threadpool(current_user, request)
    request_id = int(request.path_params["request_id"])

    def run() -> dict[str, object]:
        with session_scope(request.app.state.db.sessions) as session:
            result = verify_request_evidence(session, user, request_id,
                                             request.app.state.store)
        return {
            "ok": result.ok, "chain_ok": result.chain_ok, "entries": result.entries,
            "head_seq": result.head_seq, "head_hash": result.head_hash,
            "other_failures": result.other_failures,
            "checked": len(result.artefacts),
            # Only failures travel (the session is a cookie of about 4 KB): the first line of
            # each, for at most 8 artefacts; "failed" is shown for every failing one.
            "artefacts": {str(a.record_id): [a.problems[0][:160]] if i < 8 else []
                          for i, a in enumerate(x for x in result.artefacts if x.problems)},
            "failed": [a.record_id for a in result.artefacts if a.problems],
        }

    request.session[f"verified:{request_id}"] = await run_in_threadpool(run)
    return RedirectResponse(f"/requests/{request_id}#evidence", status_code=303)


def evidence_file(request: Request) -> Response:
    """An artefact's bytes, looked up by evidence id in the user's scope (never by a path).

    Raster images (checked by their bytes) are shown inline; anything else is a download
    with a generic type, so a captured page or SVG never runs in the dashboard's origin.
    """
    user = current_user(request)
    evidence_id = int(request.path_params["evidence_id"])
    store = request.app.state.store
    with session_scope(request.app.state.db.sessions) as session:
        record = evidence_record(session, user, evidence_id)
        try:
            data = store.read(record.sha256)
        except (FileNotFoundError, ValueError):
            raise NotFound(f"artefact of evidence {evidence_id}") from None
        # A decision names every member it concerns: a member gets its own part only.
        member_copy = member_artefact(session, user, record.kind, data, record.sha256)
    headers = {"Content-Security-Policy": ARTEFACT_CSP, "Cache-Control": "private, max-age=3600"}
    if member_copy is not None:
        # Not the stored bytes, so no hash header that they would fail; one user's copy.
        headers.update({"X-Evidence-View": "member", "Cache-Control": "no-store"})
        data = member_copy
    else:
        headers["X-Evidence-SHA256"] = record.sha256
    image = raster_type(data) if record.kind in PICTURE_KINDS else None
    if image is not None:
        return Response(data, media_type=image, headers=headers)
    headers["Content-Disposition"] = (
        f'attachment; filename="evidence-{record.id}-{record.kind}.bin"'
    )
    return Response(data, media_type="application/octet-stream", headers=headers)
