"""Fault 5: malformed HTML; GBK, Big5 and Shift_JIS with missing or wrong declarations; a BOM;
mixed traditional and simplified text: each listing page parses to the expected listing.

Undeclared pages and pages declared UTF-8 over legacy bytes are read in the encoding their bytes
are in (``crawler.middlewares.encoding``); a BOM wins over a contradicting ``<meta>``; lxml
repairs broken markup the way browsers do. The search page itself is GBK with no declaration.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from tests.crawl_support import stored_listings
from tests.faults.conftest import crawl, no_traceback, the_run
from tests.faults.server import FaultServer, Item, item_html, ok, search_html

pytestmark = pytest.mark.faults

HTML = "text/html"  # no charset


def _bytes(x: Item, encoding: str, meta: str | None) -> bytes:
    return item_html(x, charset=meta).encode(encoding, errors="xmlcharrefreplace")


MALFORMED = (
    "<html><head><meta charset=utf-8><title>寄生虫</title>\n<body>\n"
    "<div id=detail><div id=J_DetailMeta data-item-id=E7 data-seller-id=shop1>\n"
    "<h3 class=tb-main-title id=J_Title>寄生虫 &amp; 小丑 <b>蓝光<i>高清</b></i></h3>\n"
    "<strong id=J_StrPrice data-role=price><em>¥</em><em>19.90</em>\n"
    "<p><p><table><tr><td>未闭合\x00的表格<td></div></div></div></span>\n"
    "<script>var s = '</div><h3 id=J_Title>假标题</h3>';</script>\n"
    "<div class=tb-shop id=J_ShopInfo><a data-role=nick href=/shop/shop1>影音小店</a>\n"
    "<!-- a comment that never ends\n"
)

# (listing, title, bytes, content type)
CASES: list[tuple[str, str, object, str]] = [
    ("E1", "盗梦空间 蓝光 高清收藏版 国语中字", lambda x: _bytes(x, "gbk", None), HTML),
    ("E2", "黑暗骑士 DVD 盒装 正版", lambda x: _bytes(x, "gbk", "utf-8"), HTML),  # meta lies
    ("E3", "蝙蝠俠：黑暗騎士 藍光 收藏版", lambda x: _bytes(x, "big5", None),
     "text/html; charset=utf-8"),  # header lies
    ("E4", "無間道 三部曲 藍光 國語中字", lambda x: _bytes(x, "big5", None), HTML),
    ("E5", "千と千尋の神隠し ブルーレイ 日本語字幕", lambda x: _bytes(x, "shift_jis", None), HTML),
    ("E6", "让子弹飞 蓝光 BOM", lambda x: codecs.BOM_UTF8 + _bytes(x, "utf-8", "gbk"), HTML),
    ("E7", "寄生虫 & 小丑 蓝光高清", lambda x: MALFORMED.encode("utf-8"), HTML),
    ("E8", "蝙蝠俠 黑暗骑士 藍光 蓝光 繁简混排", lambda x: _bytes(x, "utf-8", "utf-8"),
     "text/html; charset=utf-8"),
    ("E9", "蝙蝠俠 黑暗骑士 藍光 蓝光 繁简混排 GB18030", lambda x: _bytes(x, "gb18030", None), HTML),
    ("E10", "七人の侍 DVD 黒澤明", lambda x: _bytes(x, "shift_jis", "utf-8"), HTML),  # meta lies
]


@pytest.mark.timeout(120)
def test_every_encoding_and_broken_page_parses_to_its_listing(tmp_path: Path) -> None:
    items = [Item(lid, title, "19.90") for lid, title, _, _ in CASES]
    with FaultServer(items=items) as server:
        server.on("/search", ok(search_html("电影", items).encode("gbk", "xmlcharrefreplace"), HTML))
        for x, (_, _, make, ctype) in zip(items, CASES, strict=True):
            server.on(f"/item.htm?id={x.id}", ok(make(x), ctype))  # type: ignore[operator]
        result = crawl(tmp_path, server.url, "search", "--keywords", "电影", timeout=90)

    assert result.returncode == 0, result.output
    no_traceback(result)
    stored = {x.listing_id: x for x in stored_listings(result.db)}
    assert {lid: x.title for lid, x in stored.items()} == {lid: t for lid, t, _, _ in CASES}
    assert all(x.price == 19.9 and x.seller == "shop1" for x in stored.values()), stored
    run = the_run(result)
    assert run.status == "finished" and run.errors == 0, run.exit_reason
    # The search page, E1-E5, E9 and E10 were read by sniffing; E6 by its BOM, E8 as declared.
    assert run.stats["reelguard/encoding/sniffed"] == 8, run.stats
