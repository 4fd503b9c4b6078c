"""A fault-injection marketplace on 127.0.0.1: demomart's pages, and every way a server misbehaves.

:class:`FaultServer` is a threaded raw-socket HTTP/1.1 server (one request per connection,
``Connection: close``) so that it can misbehave below HTTP: reset the connection before or after
the body, send fewer bytes than ``Content-Length``, break chunked encoding, stall after the
headers, trickle a byte a second, never answer, stream 200 MB, serve a gzip bomb.

By default it serves a small marketplace in demomart's markup (the selectors of
``crawler.pages.demomart``), so the real spiders parse it: ``/robots.txt`` (allow all),
``/search?q=&s=`` (one page of every listing, or the pages a test sets), ``/item.htm?id=``
and ``/shop/<seller>?page=``. A test replaces what any target answers with :meth:`on`, exactly
(``/item.htm?id=L1``) or by path (``/search``); the handler gets an :class:`Exchange` that can
answer normally (:meth:`Exchange.serve_default`) or with a fault from this module. Every
request is logged with its arrival time (:attr:`FaultServer.hits`) so tests can check what was
fetched, how often and how far apart.

No settings affect this module.
"""

from __future__ import annotations

import contextlib
import gzip
import html
import socket
import socketserver
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Self
from urllib.parse import parse_qs, quote, urlsplit

Handler = Callable[["Exchange"], None]

REASONS = {
    200: "OK", 301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect",
    404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}
HTML_UTF8 = "text/html; charset=utf-8"


# -- the marketplace's content ----------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    """One listing of the fault marketplace."""

    id: str
    title: str
    price: str = "25.00"
    seller: str = "shop1"
    nick: str = "影音小店"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def page(title: str, content: str, charset: str | None = "utf-8", head_extra: str = "") -> str:
    """demomart's page frame; ``charset=None`` leaves the ``<meta charset>`` out."""
    meta = f'<meta charset="{charset}">\n' if charset else ""
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n'
        f"{meta}{head_extra}<title>{_e(title)}</title>\n</head>\n"
        f'<body>\n<div class="tb-header"><a href="/">淘宝网</a></div>\n{content}\n'
        '<div id="footer"><a href="/robots.txt">robots</a></div>\n</body>\n</html>\n'
    )


def search_html(q: str, items: Iterable[Item], next_url: str | None = None,
                js_shell: bool = False, extra: str = "") -> str:
    cards = "\n".join(
        f'<div class="item" data-nid="{_e(x.id)}">'
        f'<div class="price" data-role="price"><span>¥</span><strong>{_e(x.price)}</strong></div>'
        f'<a data-nid="{_e(x.id)}" data-role="title" href="/item.htm?id={quote(x.id)}">'
        f'{_e(x.title)}</a>'
        f'<div class="shop"><a data-userid="{_e(x.seller)}" data-role="shop" '
        f'href="/shop/{quote(x.seller)}"><span>{_e(x.nick)}</span></a></div>'
        f'<div class="location" data-role="location">浙江 杭州</div></div>'
        for x in ([] if js_shell else items)
    )
    pager = (f'<a class="num" id="J_NextPage" data-role="next" href="{_e(next_url)}">下一页</a>'
             if next_url else "")
    shell = f' data-render="js" data-q="{_e(q)}"' if js_shell else ""
    return page(
        f"{q}_淘宝搜索",
        f'<div id="main"><div class="m-itemlist" id="mainsrp-itemlist"{shell}>'
        f'<div class="items" id="J_ItemList">\n{cards}\n</div></div>'
        f'<div id="mainsrp-pager"><div class="pager" id="J_Pager">{pager}</div></div>'
        f"{extra}</div>",
    )


def item_html(x: Item, charset: str | None = "utf-8", head_extra: str = "") -> str:
    return page(
        f"{x.title}-淘宝网",
        f'<div id="detail"><div id="J_DetailMeta" data-item-id="{_e(x.id)}" '
        f'data-seller-id="{_e(x.seller)}">'
        f'<h3 class="tb-main-title" id="J_Title">{_e(x.title)}</h3>'
        f'<strong id="J_StrPrice" data-role="price"><em>¥</em><em>{_e(x.price)}</em></strong>'
        f'<strong id="J_SellCounter" data-role="sales">12人付款</strong>'
        f'<span id="J-From" data-role="location">浙江 杭州</span>'
        f'<div class="tb-shop" id="J_ShopInfo" data-seller-id="{_e(x.seller)}">'
        f'<a href="/shop/{quote(x.seller)}" data-role="shop">{_e(x.nick)}的店</a>'
        f'<a data-role="nick" href="/shop/{quote(x.seller)}">{_e(x.nick)}</a></div></div>'
        f'<div id="J_DivItemDesc" data-role="description">全新 高清</div></div>',
        charset=charset,
        head_extra=head_extra,
    )


def shop_html(seller: str, items: Iterable[Item], next_url: str | None = None,
              extra: str = "") -> str:
    cards = "\n".join(
        f'<dl class="item" data-id="{_e(x.id)}"><dd class="detail">'
        f'<a class="item-name" href="/item.htm?id={quote(x.id)}" data-role="title">{_e(x.title)}</a>'
        f'<div data-role="price"><span>¥</span><span>{_e(x.price)}</span></div></dd></dl>'
        for x in items
    )
    pager = f'<a class="next" data-role="next" href="{_e(next_url)}">下一页</a>' if next_url else ""
    return page(
        f"首页-{seller}-淘宝网",
        f'<div id="page"><div id="shop-info" data-seller-id="{_e(seller)}">'
        f'<a data-role="shop-name" href="/shop/{quote(seller)}">{_e(seller)}的店</a>'
        f'<a data-role="nick">{_e(seller)}</a><dd data-role="location">浙江 杭州</dd></div>'
        f'<div id="J_ShopItems">\n{cards}\n</div><div id="J_ShopPager">{pager}</div>{extra}</div>',
    )


CAPTCHA_HTML = page(
    "验证码拦截",
    '<div id="J_PunishNotice" data-block="captcha"><p>亲，请拖动下方滑块完成验证</p></div>'
    '<div id="nocaptcha"><span id="nc_1_n1z">&#xe620;</span></div>',
)
LOGIN_HTML = page(
    "淘宝网 - 淘！我喜欢",
    '<div data-block="login"><form id="login-form"><div class="login-title">密码登录</div>'
    '<input name="TPL_password" type="password"></form></div>',
)
# A rate-limit notice in words only, with none of the block pages' markers.
BUSY_HTML = page("系统繁忙", '<div class="busy"><p>访问过于频繁，请稍后再试</p></div>')


# -- requests and the socket they came on -----------------------------------------------------
@dataclass
class Hit:
    """A request the server received."""

    method: str
    target: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float  # time.monotonic()
    attempt: int  # 1 for the first request of this target


class Exchange:
    """One request and its connection; the handler answers (or misbehaves) through it."""

    def __init__(self, server: FaultServer, sock: socket.socket, hit: Hit) -> None:
        self.server = server
        self.sock = sock
        self.hit = hit

    @property
    def attempt(self) -> int:
        return self.hit.attempt

    # Writing ------------------------------------------------------------------------------
    def raw(self, data: bytes) -> bool:
        """Send bytes; False when the client has gone."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def head(self, status: int = 200, headers: dict[str, str] | None = None,
             length: int | None = None) -> bool:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", "Connection: close"]
        hdrs = {"Content-Type": HTML_UTF8, **(headers or {})}
        if length is not None:
            hdrs["Content-Length"] = str(length)
        lines += [f"{k}: {v}" for k, v in hdrs.items()]
        return self.raw(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def respond(self, status: int = 200, body: bytes | str = b"",
                headers: dict[str, str] | None = None) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        if self.head(status, headers, len(data)):
            self.raw(data)

    def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), not a clean close."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.sock.close()

    def wait(self, seconds: float) -> bool:
        """Sleep, unless the server is stopping; False when it is."""
        return not self.server.stopping.wait(seconds)

    def serve_default(self) -> None:
        self.server.default(self)


# -- faults: handlers, or factories of handlers ------------------------------------------------
def ok(body: bytes | str, content_type: str = HTML_UTF8, **headers: str) -> Handler:
    def handler(ex: Exchange) -> None:
        ex.respond(200, body, {"Content-Type": content_type, **headers})
    return handler


def status(code: int, retry_after: str | None = None, body: str = "") -> Handler:
    def handler(ex: Exchange) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        ex.respond(code, body or page(f"{code}", f"<h1>{code} {REASONS.get(code, '')}</h1>"),
                   headers)
    return handler


def redirect(location: str, code: int = 302) -> Handler:
    def handler(ex: Exchange) -> None:
        ex.respond(code, "", {"Location": location})
    return handler


def flaky(times: int, fault: Handler, then: Handler | None = None) -> Handler:
    """``fault`` for the first ``times`` requests of the target, then ``then`` (the page)."""
    def handler(ex: Exchange) -> None:
        if ex.attempt <= times:
            fault(ex)
        elif then is not None:
            then(ex)
        else:
            ex.serve_default()
    return handler


def reset_before_response(ex: Exchange) -> None:
    ex.reset()


def reset_after_headers(ex: Exchange) -> None:
    body = ex.server.default_body(ex)
    ex.head(200, None, len(body))
    ex.reset()


def reset_after_body(ex: Exchange) -> None:
    """The whole page, its length declared, then a reset instead of a clean close."""
    body = ex.server.default_body(ex)
    if ex.head(200, None, len(body)):
        ex.raw(body)
    ex.reset()


def truncated_until_reset(ex: Exchange) -> None:
    """No Content-Length; half the page, then a reset: the client cannot tell it is short
    from the framing, only from the reset."""
    body = ex.server.default_body(ex)
    if ex.head(200, None, None):
        ex.raw(body[: len(body) // 2])
    ex.wait(0.2)
    ex.reset()


def short_body(ex: Exchange) -> None:
    """``Content-Length`` says N bytes; half of them come, then a clean close."""
    body = ex.server.default_body(ex)
    if ex.head(200, None, len(body)):
        ex.raw(body[: len(body) // 2])
    with contextlib.suppress(OSError):
        ex.sock.shutdown(socket.SHUT_RDWR)


def broken_chunked(ex: Exchange) -> None:
    """A valid first chunk, then a chunk-size line that is not hex."""
    body = ex.server.default_body(ex)
    first = body[: len(body) // 2]
    if ex.head(200, {"Transfer-Encoding": "chunked"}, None):
        ex.raw(b"%x\r\n%s\r\nzz-not-a-size\r\n" % (len(first), first))
    with contextlib.suppress(OSError):
        ex.sock.shutdown(socket.SHUT_RDWR)


def chunked_cut_short(ex: Exchange) -> None:
    """A chunk that announces more bytes than it carries, then a clean close."""
    body = ex.server.default_body(ex)
    if ex.head(200, {"Transfer-Encoding": "chunked"}, None):
        ex.raw(b"%x\r\n%s" % (len(body) * 2, body))
    with contextlib.suppress(OSError):
        ex.sock.shutdown(socket.SHUT_RDWR)


def never_answer(ex: Exchange) -> None:
    """Accept the connection, read the request, say nothing until the server stops."""
    ex.wait(3600)


def stall_after_headers(ex: Exchange) -> None:
    body = ex.server.default_body(ex)
    if ex.head(200, None, len(body)):
        ex.wait(3600)


def byte_a_second(ex: Exchange) -> None:
    """The page, one byte a second (its length declared): minutes for a few KB."""
    body = ex.server.default_body(ex)
    if not ex.head(200, None, len(body)):
        return
    for i in range(len(body)):
        if not ex.raw(body[i:i + 1]) or not ex.wait(1.0):
            return


def huge_body(size: int, declare_length: bool = True) -> Handler:
    """``size`` bytes of HTML-ish filler, streamed 64 KB at a time until the client goes."""
    block = (b"<p>" + b"x" * 65_530 + b"</p>")[:65_536]

    def handler(ex: Exchange) -> None:
        chunked = not declare_length
        ok_ = ex.head(200, {"Transfer-Encoding": "chunked"} if chunked else None,
                      size if declare_length else None)
        sent = 0
        while ok_ and sent < size and not ex.server.stopping.is_set():
            data = block[: min(len(block), size - sent)]
            ok_ = ex.raw(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            sent += len(data)
        if ok_ and chunked:
            ex.raw(b"0\r\n\r\n")
        ex.server.note(f"huge_body sent {sent}")
    return handler


@cache
def gzip_bomb_bytes(decompressed: int = 1024 * 1024 * 1024) -> bytes:
    """A gzip member of ``decompressed`` zero bytes (about 1 MB for 1 GB)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip container
    zeros = bytes(1024 * 1024)
    parts = [comp.compress(zeros) for _ in range(decompressed // len(zeros))]
    parts.append(comp.flush())
    return b"".join(parts)


def gzip_bomb(decompressed: int = 1024 * 1024 * 1024) -> Handler:
    def handler(ex: Exchange) -> None:
        ex.respond(200, gzip_bomb_bytes(decompressed),
                   {"Content-Type": HTML_UTF8, "Content-Encoding": "gzip"})
    return handler


def gzipped(body: bytes) -> Handler:
    def handler(ex: Exchange) -> None:
        ex.respond(200, gzip.compress(body), {"Content-Type": HTML_UTF8, "Content-Encoding": "gzip"})
    return handler


# -- the server --------------------------------------------------------------------------------
class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128


@dataclass
class FaultServer:
    """The fault marketplace. ``with FaultServer() as s:`` serves on ``s.url`` until the end."""

    items: list[Item] = field(default_factory=list)
    search_pages: int = 1  # result pages per query, the items split evenly
    robots: str = "User-agent: *\nAllow: /\n"

    def __post_init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: list[Hit] = []
        self.notes: list[str] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._attempts: dict[str, int] = {}
        self._tcp: _TCPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # Lifecycle ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultServer:
        server = self

        class _Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                server._handle(self.request)

        self._tcp = _TCPServer(("127.0.0.1", 0), _Handler)
        self.port = self._tcp.server_address[1]
        self._thread = threading.Thread(target=self._tcp.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="fault-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._tcp is not None:
            self._tcp.shutdown()
            self._tcp.server_close()
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Configuration ------------------------------------------------------------------------
    def on(self, target: str, handler: Handler) -> None:
        """Answer ``target`` (``/path?query`` exactly, or ``/path`` for any query) with ``handler``."""
        self.routes[target] = handler

    def item_by_id(self, listing_id: str) -> Item | None:
        return next((x for x in self.items if x.id == listing_id), None)

    def note(self, text: str) -> None:
        with self._lock:
            self.notes.append(text)

    # What was asked -----------------------------------------------------------------------
    def requests_for(self, target: str) -> list[Hit]:
        """Requests of ``target``: exact ``/path?query``, or every query of ``/path``."""
        with self._lock:
            hits = list(self.hits)
        if "?" in target:
            return [h for h in hits if h.target == target]
        return [h for h in hits if h.path == target]

    def item_hits(self, listing_id: str) -> list[Hit]:
        return self.requests_for(f"/item.htm?id={quote(listing_id)}")

    # Serving ------------------------------------------------------------------------------
    def _read_request(self, sock: socket.socket) -> bytes | None:
        sock.settimeout(15)
        data = b""
        while b"\r\n\r\n" not in data:
            try:
                chunk = sock.recv(65536)
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
            if len(data) > 1024 * 1024:
                return None
        sock.settimeout(None)
        return data

    def _handle(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.add(sock)
        try:
            raw = self._read_request(sock)
            if raw is None:
                return
            head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            request_line, *header_lines = head.split("\r\n")
            parts = request_line.split(" ")
            if len(parts) < 2:
                return
            method, target = parts[0], parts[1]
            split = urlsplit(target)
            headers = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            query = {k: v[0] for k, v in parse_qs(split.query).items()}
            with self._lock:
                n = self._attempts.get(target, 0) + 1
                self._attempts[target] = n
                hit = Hit(method, target, split.path, query, headers, time.monotonic(), n)
                self.hits.append(hit)
            ex = Exchange(self, sock, hit)
            handler = self.routes.get(target) or self.routes.get(split.path)
            if handler is None:
                self.default(ex)
            else:
                handler(ex)
        except Exception as exc:  # noqa: BLE001 - a test server's bug must show, not hang the client
            self.note(f"handler error: {type(exc).__name__}: {exc}")
            with contextlib.suppress(OSError):
                sock.close()
        finally:
            with self._lock:
                self._socks.discard(sock)
            with contextlib.suppress(OSError):
                sock.close()

    def default_body(self, ex: Exchange) -> bytes:
        """What the marketplace would answer to ``ex``'s request (status 200 pages only)."""
        path, q = ex.hit.path, ex.hit.query
        if path == "/robots.txt":
            return self.robots.encode("utf-8")
        if path == "/search":
            offset = int(q.get("s", "0") or 0)
            per = max(1, -(-len(self.items) // self.search_pages))
            index = offset // per
            chunk = self.items[index * per:(index + 1) * per]
            nxt = None
            if index + 1 < self.search_pages:
                nxt = f"/search?q={quote(q.get('q', ''))}&s={(index + 1) * per}"
            return search_html(q.get("q", ""), chunk, nxt).encode("utf-8")
        if path == "/item.htm":
            x = self.item_by_id(q.get("id", ""))
            if x is not None:
                return item_html(x).encode("utf-8")
        if path.startswith("/shop/"):
            seller = path.rsplit("/", 1)[-1]
            return shop_html(seller, [x for x in self.items if x.seller == seller]).encode("utf-8")
        return b""

    def default(self, ex: Exchange) -> None:
        body = self.default_body(ex)
        if not body:
            ex.respond(404, page("404", "<h1>404</h1>"))
            return
        ctype = "text/plain; charset=utf-8" if ex.hit.path == "/robots.txt" else HTML_UTF8
        ex.respond(200, body, {"Content-Type": ctype})
