"""Fault 6: a redirect loop, an over-long redirect chain, redirects to 127.0.0.1,
169.254.169.254, ``file://`` and ``data:``: each given up or refused, and recorded.

The marketplace is served as ``localhost`` (the only allow-listed host) so that a redirect to the
loopback address ``127.0.0.1`` is a redirect to a private address like any other. Loops and
chains end on the listing's own URL in an ``error`` event that shows the chain; private
targets are ``refused`` events naming where the redirect came from; non-http(s) targets are
not followed (``HTTP 302 ... not followed``); nothing at any target is fetched or stored. A
short chain to the listing is followed and stored.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crawl_support import stored_listings
from tests.faults.conftest import crawl, no_traceback, reasons, the_run
from tests.faults.server import Exchange, FaultServer, Item, item_html, ok, redirect

pytestmark = pytest.mark.faults

ITEMS_6 = [Item(f"R{i}", f"重定向{i} 盗梦空间 蓝光") for i in range(1, 9)]


def _chain(ex: Exchange) -> None:
    n = int(ex.hit.path.rsplit("/", 1)[1])
    if n < 10:
        redirect(f"/chain/{n + 1}")(ex)
    else:
        ex.respond(200, item_html(ITEMS_6[2]))


@pytest.mark.timeout(120)
def test_redirect_traps_and_private_targets_are_given_up_and_recorded(tmp_path: Path) -> None:
    with FaultServer(items=list(ITEMS_6)) as server:
        port = server.port
        server.on("/item.htm?id=R1", redirect("/loop/a"))
        server.on("/loop/a", redirect("/loop/b"))
        server.on("/loop/b", redirect("/loop/a"))
        server.on("/item.htm?id=R2", redirect("/item.htm?id=R2"))  # to itself
        server.on("/item.htm?id=R3", redirect("/chain/1"))  # ten hops; REDIRECT_MAX_TIMES=5
        for n in range(1, 11):
            server.on(f"/chain/{n}", _chain)
        server.on("/item.htm?id=R4", redirect("/short/1"))  # two hops: followed
        server.on("/short/1", redirect("/short/2"))
        server.on("/short/2", ok(item_html(ITEMS_6[3])))
        server.on("/item.htm?id=R5", redirect(f"http://127.0.0.1:{port}/private"))
        server.on("/item.htm?id=R6", redirect("http://169.254.169.254/latest/meta-data/"))
        server.on("/item.htm?id=R7", redirect("file:///etc/passwd"))
        server.on("/item.htm?id=R8", redirect("data:text/html,<h3 id=J_Title>x</h3>"))
        base = f"http://localhost:{port}"
        result = crawl(tmp_path, server.url, "search", "--keywords", "电影", timeout=90,
                       allow="localhost", base_url=base)

        assert result.returncode == 0, result.output
        no_traceback(result)
        assert result.seconds < 60, result.output
        paths = [h.target for h in server.hits]
        assert "/private" not in paths  # refused before any connection
        assert {p for p in paths if p.startswith("/chain/")} == {f"/chain/{n}" for n in
                                                                  range(1, 6)}
        assert paths.count("/loop/a") == 1 and paths.count("/loop/b") == 1
        assert all(h.headers["host"] == f"localhost:{port}" for h in server.hits)

    stored = stored_listings(result.db)
    assert [(x.listing_id, x.title) for x in stored] == [("R4", ITEMS_6[3].title)]
    assert "root:x:0:0" not in result.log + result.stdout  # /etc/passwd was never read

    item = f"{base}/item.htm?id="
    errors = reasons(result, "error")
    assert set(errors) == {item + i for i in ("R1", "R2", "R3", "R7", "R8")}, errors
    assert errors[item + "R1"] == [
        f"redirect loop: {item}R1 -> {base}/loop/a -> {base}/loop/b -> {base}/loop/a"]
    assert errors[item + "R2"] == [f"redirect loop: {item}R2 -> {item}R2"]
    assert errors[item + "R3"][0].startswith("IgnoreRequest: max redirections reached")
    assert errors[item + "R3"][0].endswith(f"{base}/chain/5)")
    assert "file:///etc/passwd not followed" in errors[item + "R7"][0]
    assert "data:text/html" in errors[item + "R8"][0] and "not followed" in errors[item + "R8"][0]

    refused = reasons(result, "refused")
    assert set(refused) == {f"http://127.0.0.1:{port}/private",
                            "http://169.254.169.254/latest/meta-data/"}, refused
    assert refused[f"http://127.0.0.1:{port}/private"] == [
        f"127.0.0.1 resolves to non-public address 127.0.0.1 (redirected from {item}R5)"]
    assert f"(redirected from {item}R6)" in refused["http://169.254.169.254/latest/meta-data/"][0]

    run = the_run(result)
    assert run.status == "finished", run.exit_reason
    assert run.errors == 5
    assert run.stats["reelguard/refused"] == 2
