"""The demobay demo site over real HTTP on loopback, against the committed data files.

Ids, keywords and sellers are chosen from ``fixtures/sites/demobay/*.json[l]``, never hard-coded.
"""

from __future__ import annotations

import html
import json
import re
import time
import unicodedata
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urljoin

import pytest
from markupsafe import escape

from crawler.demo.demobay import make_app
from crawler.demo.server import SITES_DIR, ServerThread, SiteOptions

DATA_DIR = SITES_DIR / "demobay"
STOP = {"the", "of", "and", "a"}
BLOCK_TEXT = "As you were browsing something about your browser made us think you were a bot"
ENDED_TEXT = "This listing was ended by the seller because the item is no longer available."
CARD_ID = re.compile(r'<li [^>]*data-listingid="([^"]+)"')
NEXT = re.compile(r'<a class="pagination__next[^"]*" rel="next" href="([^"]+)"')


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def words(text: str) -> list[str]:
    """An independent tokenizer: lower case, accents and apostrophes dropped, punctuation splits."""
    text = unicodedata.normalize("NFKD", text.casefold().replace("'", "").replace("\u2019", ""))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return [w for w in re.split(r"[\W_]+", text) if w]


def matches(query: str, title: str) -> bool:
    terms = [w for w in words(query) if w not in STOP] or words(query)
    toks = words(title)
    return all(any(t.startswith(q) for t in toks) for q in terms)


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    site = json.loads((DATA_DIR / "site.json").read_text("utf-8"))
    listings = load_jsonl(DATA_DIR / "listings.jsonl")
    sellers = load_jsonl(DATA_DIR / "sellers.jsonl")
    return {
        "site": site,
        "page_size": int(site.get("page_size") or 48),
        "listings": listings,
        "active": [x for x in listings if x.get("status") != "removed"],
        "removed": [x for x in listings if x.get("status") == "removed"],
        "sellers": {str(s["id"]): s for s in sellers},
    }


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with ServerThread(make_app(DATA_DIR, SiteOptions())) as server:
        yield server.url


def get(url: str) -> tuple[int, str, str]:
    """(status, content type, body text) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode("utf-8")


def walk(first_url: str) -> list[tuple[str, list[str]]]:
    """Follow "next" links from ``first_url``: [(page html, [listing ids])]."""
    pages, url = [], first_url
    for _ in range(500):
        status, _, body = get(url)
        assert status == 200, url
        pages.append((body, CARD_ID.findall(body)))
        nxt = NEXT.search(body)
        if not nxt:
            return pages
        url = urljoin(url, html.unescape(nxt.group(1)))
    raise AssertionError("pagination does not end")


def busiest_word(data: dict[str, Any]) -> str:
    counts: Counter[str] = Counter()
    for x in data["active"]:
        counts.update({w for w in words(x["title"]) if w not in STOP})
    return max((n, w) for w, n in counts.items() if w.isalpha() and len(w) > 2)[1]


def test_search_pages_hold_a_page_size_each_and_the_last_has_no_next(base, data):
    keyword = busiest_word(data)
    expected = {str(x["id"]) for x in data["active"] if matches(keyword, x["title"])}
    assert len(expected) > data["page_size"], "the busiest keyword should need several pages"
    pages = walk(f"{base}/sch/i.html?_nkw={quote_plus(keyword)}&_pgn=1")
    sizes = [len(ids) for _, ids in pages]
    assert all(n == data["page_size"] == 48 for n in sizes[:-1])
    assert 0 < sizes[-1] <= data["page_size"]
    assert len(pages) == -(-len(expected) // data["page_size"])
    assert NEXT.search(pages[-1][0]) is None
    seen = [i for _, ids in pages for i in ids]
    assert len(seen) == len(set(seen))
    assert set(seen) == expected
    assert f"{len(expected):,}</span> results for" in pages[0][0]


def test_search_ignores_case_punctuation_and_stop_words(base, data):
    def content_words(title: str) -> list[str]:
        return [w for w in words(title) if w not in STOP and w.isalpha() and len(w) > 3]

    target = next(x for x in data["active"] if len(content_words(x["title"])) >= 2)
    w1, w2 = content_words(target["title"])[:2]
    query = f"The {w1.upper()}, of  {w2[:3]}!"
    expected = {str(x["id"]) for x in data["active"] if matches(query, x["title"])}
    pages = walk(f"{base}/sch/i.html?_nkw={quote_plus(query)}&_pgn=1")
    seen = {i for _, ids in pages for i in ids}
    assert str(target["id"]) in seen
    assert seen == expected


def test_search_orders_whole_words_first_then_newest(base, data):
    titles = {str(x["id"]): words(x["title"]) for x in data["active"]}
    vocab = Counter(w for toks in titles.values() for w in set(toks) if w.isalpha() and len(w) > 2)
    term = None
    for word, _ in vocab.most_common():
        if word in STOP:
            continue
        exact = [i for i, t in titles.items() if word in t]
        partial = [
            i for i, t in titles.items() if word not in t and any(w.startswith(word) for w in t)
        ]
        if exact and partial and len(exact) + len(partial) <= 500:
            term = word
            break
    assert term is not None, "no word is both a title word and a prefix of another"
    pages = walk(f"{base}/sch/i.html?_nkw={quote_plus(term)}&_pgn=1")
    seen = [i for _, ids in pages for i in ids]
    expected = sorted(
        (i for i, t in titles.items() if any(w.startswith(term) for w in t)),
        key=lambda i: (0 if term in titles[i] else 1, -int(i)),
    )
    assert seen == expected


def test_search_without_matches_says_zero_results(base):
    status, _, body = get(f"{base}/sch/i.html?_nkw=zzqxj+nonexistent&_pgn=1")
    assert status == 200
    assert "0</span> results for" in body
    assert "No exact matches found" in body
    assert CARD_ID.findall(body) == []
    assert NEXT.search(body) is None


def test_removed_listing_says_ended_and_is_not_searchable(base, data):
    assert data["removed"], "the data has no removed listing: this test would prove nothing"
    gone = data["removed"][0]
    status, _, body = get(f"{base}/itm/{gone['id']}")
    assert status == 200
    assert ENDED_TEXT in body
    assert 'id="itemTitle"' not in body
    _, _, results = get(f"{base}/sch/i.html?_nkw={quote_plus(gone['title'])}&_pgn=1")
    assert str(gone["id"]) not in CARD_ID.findall(results)


def test_unknown_listing_is_404_we_looked_everywhere(base, data):
    unknown = max(int(x["id"]) for x in data["listings"]) + 1
    status, ctype, body = get(f"{base}/itm/{unknown}")
    assert status == 404
    assert ctype.startswith("text/html")
    assert "We looked everywhere." in body
    assert get(f"{base}/no/such/page")[0] == 404
    assert get(f"{base}/str/{unknown}-no-such-seller")[0] == 404


def test_active_listing_page_shows_its_data(base, data):
    item = data["active"][0]
    seller = data["sellers"].get(str(item["seller_id"]), {})
    status, _, body = get(f"{base}/itm/{item['id']}")
    assert status == 200
    assert str(escape(item["title"])) in body
    assert f"US ${float(item['price']):,.2f}" in body
    assert f'href="/str/{quote(str(item["seller_id"]), safe="")}"' in body
    if seller.get("shop_name"):
        assert "Visit store:" in body


def test_store_pages_index_the_sellers_active_listings(base, data):
    per_seller = Counter(str(x["seller_id"]) for x in data["active"])
    seller_id = max(per_seller, key=lambda s: (per_seller[s], s))
    pages = walk(f"{base}/str/{quote(seller_id, safe='')}?_pgn=1")
    assert all(len(ids) == 24 for _, ids in pages[:-1])
    assert NEXT.search(pages[-1][0]) is None
    seen = [i for _, ids in pages for i in ids]
    expected = sorted(
        (str(x["id"]) for x in data["active"] if str(x["seller_id"]) == seller_id),
        key=lambda i: -int(i),
    )
    assert seen == expected
    seller = data["sellers"][seller_id]
    assert str(escape(seller["shop_name"])) in pages[0][0]


def test_robots_txt_disallows_cart_bid_myebay_without_crawl_delay(base):
    status, ctype, body = get(f"{base}/robots.txt")
    assert status == 200 and ctype.startswith("text/plain")
    for path in ("/cart", "/bid", "/myebay"):
        assert f"Disallow: {path}" in body
    assert "crawl-delay" not in body.lower()


def test_images_are_deterministic_pngs(base, data):
    first = next(x for x in data["active"] if x.get("images"))
    name = str(first["images"][0]).rsplit("/", 1)[-1]
    one = urllib.request.urlopen(f"{base}/img/{quote(name)}").read()
    two = urllib.request.urlopen(f"{base}/img/{quote(name)}").read()
    assert one == two and one.startswith(b"\x89PNG")
    assert urllib.request.urlopen(f"{base}/img/other.png").read() != one


def test_block_hook_serves_the_interstitial_on_any_url(base, data):
    for path in ("/", f"/itm/{data['active'][0]['id']}", "/sch/i.html?_nkw=x"):
        sep = "&" if "?" in path else "?"
        status, _, body = get(f"{base}{path}{sep}__block=1")
        assert status == 200
        assert "Pardon Our Interruption..." in body and BLOCK_TEXT in body


def test_rate_limit_blocks_a_client_over_its_burst_then_recovers():
    options = SiteOptions(rate_limit=1.0, burst=3)
    with ServerThread(make_app(DATA_DIR, options)) as server:
        bodies = [get(f"{server.url}/")[2] for _ in range(3)]
        assert not any(BLOCK_TEXT in b for b in bodies)
        status, _, body = get(f"{server.url}/")
        assert status == 200 and BLOCK_TEXT in body
        assert "Disallow" in get(f"{server.url}/robots.txt")[2]  # robots.txt is never limited
        time.sleep(1.2)  # one token a second
        assert BLOCK_TEXT not in get(f"{server.url}/")[2]


def test_no_rate_limit_by_default(base):
    assert not any(BLOCK_TEXT in get(f"{base}/")[2] for _ in range(60))


def test_hostile_strings_from_the_data_are_escaped(tmp_path):
    evil = '<script>alert("x")</script> & \'quoted\' "Matrix" <img src=x onerror=alert(1)>'
    seller = {
        "id": 'evil"/<seller>&',
        "nick": '<b>nick</b>"',
        "shop_name": "<script>shop()</script>",
        "location": "<i>Nowhere</i> & co",
        "rating": 99.0,
        "opened": "2020-01-01",
    }
    listing = {
        "id": "1",
        "title": evil,
        "price": 1.5,
        "sales": 2,
        "location": "<u>x</u>",
        "seller_id": seller["id"],
        "images": ['/img/"><script>.jpg'],
        "description": "<iframe src=//evil></iframe>\nline 2",
        "status": "active",
        "condition": "<b>Brand New</b>",
    }
    (tmp_path / "site.json").write_text(json.dumps({"name": "demobay", "page_size": 48}))
    (tmp_path / "sellers.jsonl").write_text(json.dumps(seller) + "\n")
    (tmp_path / "listings.jsonl").write_text(json.dumps(listing) + "\n")
    with ServerThread(make_app(tmp_path, SiteOptions())) as server:
        pages = [
            get(f"{server.url}/itm/1")[2],
            get(f"{server.url}/sch/i.html?_nkw=matrix&_pgn=1")[2],
            get(f"{server.url}/str/{quote(seller['id'], safe='')}")[2],
            get(f"{server.url}/sch/i.html?_nkw=%3Cscript%3Ealert(2)%3C/script%3E")[2],
        ]
    for body in pages:
        assert "<script>" not in body and "<iframe" not in body and "<img src=x" not in body
        assert "<b>nick" not in body and "<b>Brand" not in body and "<i>Nowhere" not in body
    assert "&lt;script&gt;alert(" in pages[0]
    assert "1</span> results for" in pages[1]
    assert "&lt;script&gt;shop()&lt;/script&gt;" in pages[2]
