"""The raw HTTP exchange of a crawled page as WARC/1.1 records (warcio), gzipped per record.

One capture is one small WARC file: ``warcinfo``, ``request``, ``response`` and a ``metadata``
record (``application/warc-fields``) naming the crawler version, user agent, marketplace, crawl
run, listing key and capture id. The response payload is the body *as Scrapy handed it to the
spider*:

* over plain HTTP, Scrapy's HttpCompressionMiddleware has already removed any
  ``Content-Encoding`` (gzip, br…): the header is dropped from the recorded response, and the
  metadata record says which encoding the client removed (``http-content-encoding-removed``,
  recorded on the wire by :class:`ContentEncodingRecorder`) and the on-the-wire
  ``Content-Length`` (``http-original-content-length``); ``Content-Length`` is set to the
  stored body's length so the record parses as HTTP;
* for pages fetched by the browser the body is the rendered DOM (``payload-source:
  rendered-dom``), not the bytes on the wire.

Settings: ``USER_AGENT`` (recorded), ``DOWNLOADER_MIDDLEWARES`` entry of
:class:`ContentEncodingRecorder` (``crawler/settings.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from crawler import __version__

WARC_MEDIA_TYPE = "application/warc"
META_WIRE_ENCODING = "reelguard_wire_content_encoding"
META_WIRE_LENGTH = "reelguard_wire_content_length"
DROPPED_RESPONSE_HEADERS = {b"content-encoding", b"transfer-encoding", b"content-length"}


class ContentEncodingRecorder:
    """Downloader middleware (after HttpCompressionMiddleware on the way in, i.e. priority >
    590): note in ``request.meta`` the ``Content-Encoding`` and ``Content-Length`` the response
    had on the wire, before the client decodes it, so the WARC can say what was removed."""

    def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        encoding = response.headers.getlist(b"Content-Encoding")
        if encoding:
            request.meta[META_WIRE_ENCODING] = ", ".join(v.decode("latin-1") for v in encoding)
        length = response.headers.get(b"Content-Length")
        if length is not None:
            request.meta[META_WIRE_LENGTH] = length.decode("latin-1")
        return response


def _header_pairs(headers: Any) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    if headers is None:
        return pairs
    for key, values in headers.items():
        name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if not isinstance(values, list):
            values = [values]
        for value in values:
            pairs.append(
                (name, value.decode("latin-1") if isinstance(value, bytes) else str(value))
            )
    return pairs


def warc_fields(fields: Iterable[tuple[str, str | None]]) -> bytes:
    """An ``application/warc-fields`` block (``Name: value`` lines, CRLF)."""
    lines = []
    for name, value in fields:
        if value is None:
            continue
        clean = str(value).replace("\r", " ").replace("\n", " ")
        lines.append(f"{name}: {clean}\r\n")
    return "".join(lines).encode("utf-8")


def build_warc(
    response: Any,
    *,
    captured_at: datetime,
    marketplace: str | None,
    run_id: int | None,
    user_agent: str | None,
    listing_key: str | None = None,
    capture_id: str | None = None,
    extra: Iterable[tuple[str, str | None]] = (),
) -> bytes:
    """The WARC bytes (gzip per record) of ``response`` and the request that fetched it."""
    request = response.request
    warc_date = datetime_to_iso_date(captured_at.replace(tzinfo=None), use_micros=True)
    buf = BytesIO()
    writer = WARCWriter(buf, gzip=True, warc_version="WARC/1.1")

    info = writer.create_warcinfo_record(
        f"reelguard-{capture_id or 'capture'}.warc.gz",
        {
            "software": f"Reelguard/{__version__} (warcio)",
            "format": "WARC File Format 1.1",
            "isPartOf": f"reelguard-run-{run_id}" if run_id is not None else "reelguard",
        },
    )
    info.rec_headers.replace_header("WARC-Date", warc_date)
    writer.write_record(info)

    url = response.url
    req_url = request.url if request is not None else url
    flags = list(getattr(response, "flags", []) or [])
    via_browser = "playwright" in flags
    meta = request.meta if request is not None else {}

    # request
    split = urlsplit(req_url)
    target = split.path or "/"
    if split.query:
        target += "?" + split.query
    req_headers = _header_pairs(request.headers if request is not None else None)
    if not any(k.lower() == "host" for k, _ in req_headers):
        req_headers.insert(0, ("Host", split.netloc))
    if user_agent and not any(k.lower() == "user-agent" for k, _ in req_headers):
        req_headers.append(("User-Agent", user_agent))
    method = request.method if request is not None else "GET"
    req_body = (request.body or b"") if request is not None else b""
    req_record = writer.create_warc_record(
        req_url,
        "request",
        payload=BytesIO(req_body),
        length=len(req_body),
        http_headers=StatusAndHeaders(
            f"{method} {target} HTTP/1.1", req_headers, is_http_request=True
        ),
        warc_headers_dict={"WARC-Date": warc_date},
    )

    # response
    body = response.body or b""
    status = int(getattr(response, "status", 200))
    from http import HTTPStatus

    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    resp_headers = [
        (k, v) for k, v in _header_pairs(response.headers)
        if k.lower().encode() not in DROPPED_RESPONSE_HEADERS
    ]
    resp_headers.append(("Content-Length", str(len(body))))
    ip = getattr(response, "ip_address", None)
    warc_headers = {"WARC-Date": warc_date}
    if ip is not None:
        warc_headers["WARC-IP-Address"] = str(ip)
    resp_record = writer.create_warc_record(
        url,
        "response",
        payload=BytesIO(body),
        length=len(body),
        http_headers=StatusAndHeaders(
            f"{status} {reason}".strip(), resp_headers, protocol="HTTP/1.1"
        ),
        warc_headers_dict=warc_headers,
    )
    resp_id = resp_record.rec_headers.get_header("WARC-Record-ID")
    req_record.rec_headers.add_header("WARC-Concurrent-To", resp_id)
    writer.write_record(req_record)
    writer.write_record(resp_record)

    # metadata
    wire_encoding = meta.get(META_WIRE_ENCODING)
    fields: list[tuple[str, str | None]] = [
        ("software", f"Reelguard/{__version__}"),
        ("user-agent", user_agent),
        ("marketplace", marketplace),
        ("crawl-run", str(run_id) if run_id is not None else None),
        ("listing-key", listing_key),
        ("capture-id", capture_id),
        ("fetched-via", "browser" if via_browser else "http"),
        ("payload-source", "rendered-dom" if via_browser else "http-body-as-received-by-client"),
        ("http-content-encoding-removed", wire_encoding),
        ("http-original-content-length", meta.get(META_WIRE_LENGTH) if wire_encoding else None),
        ("note", "Content-Encoding was removed by the client (Scrapy HttpCompressionMiddleware); "
                 "the payload is the decoded body" if wire_encoding else None),
        ("request-url", req_url if req_url != url else None),
        *extra,
    ]
    meta_body = warc_fields(fields)
    meta_record = writer.create_warc_record(
        url,
        "metadata",
        payload=BytesIO(meta_body),
        length=len(meta_body),
        warc_content_type="application/warc-fields",
        warc_headers_dict={"WARC-Date": warc_date, "WARC-Concurrent-To": resp_id},
    )
    writer.write_record(meta_record)
    return buf.getvalue()


def check_warc(data: bytes) -> list[str]:
    """Problems with a WARC's own digests (``WARC-Block-Digest``/``WARC-Payload-Digest``).

    Every record is read to its end so warcio can compare each digest with the content; an
    unreadable WARC is one problem. An empty list means the WARC is internally consistent
    (which says nothing about whether it is the one captured: that is the chain's job).
    """
    from warcio.archiveiterator import ArchiveIterator

    problems: list[str] = []
    count = 0
    try:
        iterator = ArchiveIterator(BytesIO(data), check_digests=True)
        for record in iterator:
            count += 1
            record.content_stream().read()
            checker = record.digest_checker
            if checker.passed is False:
                rec_id = record.rec_headers.get_header("WARC-Record-ID")
                for problem in checker.problems or ["digest mismatch"]:
                    problems.append(f"{record.rec_type} record {rec_id}: {problem}")
    except Exception as exc:  # noqa: BLE001 - any parse failure is the finding itself
        problems.append(f"unreadable WARC: {type(exc).__name__}: {exc}")
    if count == 0 and not problems:
        problems.append("WARC holds no record")
    return problems
