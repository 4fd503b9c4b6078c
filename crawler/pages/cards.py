"""Result pages without structured data: the dominant group of repeated priced cards.

The generic page objects' last resort (``crawler.pages.generic``; Rakuten's search pages use it
too): elements at the same DOM path (tag and digit-less classes from ``<body>``; sibling
variants such as ``AdHolder`` merged) that occur at least four times, each holding a link, a
title-like text and one to eight price-like texts. Only a dominant group counts (no unrelated
group half its size), and none on a site's front page, on an item URL, on a page with one
product's "add to cart" outside the cards (recommendations) or when the cards sit under several
headings (carousels). On the real eBay, Amazon, JD and Taobao result pages this finds exactly
what their own page objects find (``tests/test_pages_generic.py``).

A card's price is its price element's text as shown, except that cents typeset apart (a
``<sup>`` or a cent / fraction / decimal class after an integer) are read as the decimals
(:func:`price_text`).

No settings affect this module.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

from web_poet import HttpResponse

from crawler.items import ListingItem
from crawler.pages.base import clean_text
from crawler.pages.common import abs_url, unique
from crawler.pages.structured import fallback_id, listing_id_from_url

MIN_CARDS = 4
MAX_CARD_PRICES = 8  # price, struck-out price, unit price, screen-reader copies...
_CODES = ("USD|EUR|GBP|JPY|CNY|RMB|AUD|CAD|CHF|HKD|TWD|KRW|INR|SGD|NZD|SEK|NOK|DKK|PLN|BRL|MXN|RUB|ILS"
          "|IDR|MYR|PHP|THB|VND|ZAR|TRY|AED|SAR|CZK|HUF")  # the ISO codes parse_price knows
_PRICE_LIKE = re.compile(
    rf"(?:[$€£¥￥₩₹₽]|(?<![A-Za-z])(?:{_CODES}))\s*\d"
    rf"|\d[\d,.\s]*\s*(?:円|元|€|£|₽|zł|\bkr\b|(?:{_CODES})(?![A-Za-z]))"
)
_SEARCH_URL = re.compile(
    r"[?&](?:q|k|kw|keywords?|query|search|searchtext|_nkw|text|w|st)=|/(?:search|s|sch|wholesale|find)(?:/|\?|$)", re.IGNORECASE
)
_ITEM_URL = re.compile(r"(?:^|/)(?:item|itm|dp|products?|goods|detail|offer)(?:/|\.|$)|item\.html?$", re.IGNORECASE)
_BUY_ATTR = re.compile(r"add[-_]?to[-_]?(?:cart|basket|bag)|buy[-_]?now|J_Link(?:Buy|Basket)|InitCartUrl", re.IGNORECASE)
_BUY_TEXT = re.compile(r"add to (?:cart|basket|bag)|buy (?:it )?now|カートに入れる|購入手続き|加入购物车|立即购买|"
                       r"in den warenkorb|ajouter au panier|añadir a la cesta|aggiungi al carrello", re.IGNORECASE)
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_SR_ONLY = ("clipped", "sr-only", "visually-hidden", "screen-reader-text", "a-offscreen")
_HIDDEN = " or ".join(f"contains(concat(' ', normalize-space(@class), ' '), ' {c} ')" for c in _SR_ONLY)
_SHOWN_TEXT = f".//text()[not(ancestor::*[{_HIDDEN} or @hidden or self::script or self::style])]"
_LETTER = re.compile(r"[^\W\d_]")
_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "head", "select", "option"}
_CENTS_CLASS = re.compile(r"cent|fraction|decimal", re.IGNORECASE)
_CENTS = re.compile(r"\d{2}")
_INTEGER_END = re.compile(r"(?<![\d.,])(?:\d{1,3}(?:,\d{3})+|\d+)$")  # "12", "1,280"; not "12.5"


# -- repeated cards --------------------------------------------------------------------------
def _cards_unlikely(response: HttpResponse) -> bool:
    """A site's front page (carousels) or a product page (recommendations) shows no results."""
    parts = urlsplit(str(response.url))
    if not parts.netloc or _SEARCH_URL.search(f"{parts.path}?{parts.query}"):
        return False
    front = parts.path in ("", "/") and not parts.query
    return front or bool(_ITEM_URL.search(parts.path) or parts.netloc.startswith(("item.", "detail.")))


def _shown_text(el: Any) -> str | None:
    """Text of ``el`` without screen-reader-only parts ("Opens in a new window or tab")."""
    return clean_text("".join(el.xpath(_SHOWN_TEXT)))


def _marks_cents(el: Any) -> bool:
    return isinstance(el.tag, str) and (el.tag == "sup" or bool(_CENTS_CLASS.search(el.get("class") or "")))


def _text_pieces(el: Any, cents: bool) -> Any:
    """``(text, in_cents_markup)`` for each text node of ``el``, the strings ``itertext()`` gives."""
    if el.text:
        yield el.text, cents
    for child in el:
        if isinstance(child.tag, str):  # comments and processing instructions: their tail only
            yield from _text_pieces(child, cents or _marks_cents(child))
        if child.tail:
            yield child.tail, cents


def price_text(price_el: Any) -> str | None:
    """The price an element shows, its text nodes joined as a reader sees them.

    Shops typeset cents apart: ``$<span>12</span><sup>99</sup>`` or ``<span class=cents>99``
    reads "$12.99", not "$1299". Two digits in a ``<sup>`` or in an element whose class says
    cent / fraction / decimal, right after an integer, become its decimals (the same after the
    element, as its next sibling). Without that markup the text is joined as it stands
    (``¥1,280<small>円</small>`` is "¥1,280円"), so ``parse_price`` reads it as before; a
    separator the markup shows itself (``<span class=cents>.99``) is kept as shown.
    """
    text = ""
    for piece, cents in _text_pieces(price_el, False):
        if cents and _CENTS.fullmatch(piece.strip()) and _INTEGER_END.search(text.rstrip()):
            text = f"{text.rstrip()}.{piece.strip()}"
        else:
            text += piece
    after = price_el.getnext()
    if (after is not None and not (price_el.tail or "").strip() and _marks_cents(after)
            and _CENTS.fullmatch("".join(after.itertext()).strip()) and _INTEGER_END.search(text.rstrip())):
        text = f"{text.rstrip()}.{''.join(after.itertext()).strip()}"
    return clean_text(text)


def _title_like(text: str | None) -> bool:
    return bool(text and len(text) >= 4 and _LETTER.search(text) and not (len(text) <= 40 and _PRICE_LIKE.search(text)))


def _card(response: HttpResponse, el: Any, price_els: set[Any]) -> ListingItem | None:
    """One result card: its title, link and first price (one marked ``price`` preferred)."""
    from crawler.normalize.fields import parse_price

    prices = [p for p in el.iter() if p in price_els]
    price_el = next((p for p in prices if "price" in (p.get("class") or "").lower()), prices[0] if prices else None)
    shown = price_text(price_el) if price_el is not None else None
    if not shown or not parse_price(shown)[0]:
        return None
    lowered = "translate(@class,'TITLE','title')"
    candidates = (el.xpath(".//*[@itemprop='name']") + el.xpath(".//h1|.//h2|.//h3|.//h4|.//h5|.//h6")
                  + el.xpath(f".//*[contains({lowered},'title')]")
                  + sorted(el.iter("a"), key=lambda a: -len("".join(a.itertext()))))
    title, link = None, None
    for cand in candidates:
        text = _shown_text(cand) or clean_text(cand.get("title"))
        if _title_like(text):
            title = text
            link = cand if cand.tag == "a" else next(iter(cand.iter("a")), None)
            if link is None:
                link = next(cand.iterancestors("a"), None)
            break
    if title is None:
        alt = next((clean_text(i.get("alt")) for i in el.iter("img") if _title_like(clean_text(i.get("alt")))), None)
        title = alt
    links = [a for a in el.iter("a") if abs_url(response, a.get("href"))]
    if link is None or not abs_url(response, link.get("href")):
        link = links[0] if links else None
    if not title or link is None:
        return None
    url = abs_url(response, link.get("href")) or ""
    img = next((i.get("data-src") or i.get("src") for i in el.iter("img") if i.get("src") or i.get("data-src")), None)
    return ListingItem(
        listing_id=listing_id_from_url(url) or fallback_id(url, title), url=url, title=title,
        price_text=shown, image_urls=unique([abs_url(response, img)]), page_kind="card",
    )


def _buy_control_outside(body: Any, cards: set[Any]) -> bool:
    """Whether the page has one product's "add to cart" / "buy now" controls off the cards (a
    result page may show many, on carousels of their own: that is not an item page)."""
    found = 0
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        attrs = " ".join(el.get(a) or "" for a in ("id", "class", "name"))
        label = ""
        if el.tag in ("button", "input"):
            label = (clean_text("".join(el.itertext())) or "") + " " + (el.get("value") or "")
        if (_BUY_ATTR.search(attrs) or _BUY_TEXT.search(label)) and not any(a in cards for a in el.iterancestors()):
            found += 1
    return 1 <= found <= 3


def _sectioned(members: list[Any]) -> bool:
    """Whether the cards sit in several blocks each under a heading of its own ("Deals of the
    day", "Movies & TV"): carousels of one template, not the rows of one result grid."""
    parents = list(dict.fromkeys(m.getparent() for m in members))
    if len(parents) < 2:
        return False
    common = next((a for a in parents[0].iterancestors() if all(a in p.iterancestors() for p in parents[1:])), None)
    members_set = set(members)
    headed = 0
    for node in parents:
        while node is not None and node is not common:
            for sib in node.itersiblings(preceding=True):
                if not isinstance(sib.tag, str) or any(d in members_set for d in sib.iter()):
                    continue
                if sib.tag in _HEADINGS or sib.get("role") == "heading" or any(d.tag in _HEADINGS for d in sib.iter()):
                    headed += 1
                    break
            else:
                node = node.getparent()
                continue
            break
    return headed >= 2


def _merge_variants(
    groups: dict[int, list[Any]], shape: dict[int, tuple[int, str, frozenset[str]]], pos: dict[Any, int]
) -> list[list[Any]]:
    """Sibling groups whose classes mostly agree are one group (``s-result-item AdHolder``
    beside ``s-result-item``: sponsored results are results too)."""
    keyed: dict[tuple[int, str], list[tuple[frozenset[str], list[Any]]]] = defaultdict(list)
    for key, members in groups.items():
        parent, tag, classes = shape[key]
        for seen, merged in keyed[(parent, tag)]:
            if classes and len(seen & classes) >= 0.6 * len(seen | classes):
                merged.extend(members)
                break
        else:
            keyed[(parent, tag)].append((classes, list(members)))
    return [sorted(m, key=pos.__getitem__) for entries in keyed.values() for _, m in entries]


def card_listings(response: HttpResponse) -> list[ListingItem]:
    """The dominant group of repeated priced cards, or nothing (see the module docstring)."""
    if _cards_unlikely(response):
        return []
    root = response.selector.root
    body = next(iter(root.iter("body")), root)
    order: list[Any] = []
    sig: dict[Any, int] = {}
    shape: dict[int, tuple[int, str, frozenset[str]]] = {}
    stack: list[tuple[Any, int]] = [(body, 0)]
    while stack:  # pre-order, keyed by the DOM path of tags and (digit-less) classes
        el, parent = stack.pop()
        classes = frozenset(re.sub(r"\d+", "", c) for c in (el.get("class") or "").split())
        sig[el] = hash((parent, el.tag, classes))
        shape[sig[el]] = (parent, el.tag, classes)
        order.append(el)
        stack.extend((c, sig[el]) for c in reversed(el) if isinstance(c.tag, str) and c.tag not in _SKIP_TAGS)
    tlen: dict[Any, int] = {}
    prices: dict[Any, int] = {}
    links: dict[Any, int] = {}
    price_els: set[Any] = set()
    for el in reversed(order):  # children before parents
        kids = [c for c in el if c in tlen]
        tlen[el] = len(el.text or "") + sum(tlen.get(c, 0) + len(c.tail or "") for c in el)
        prices[el] = sum(prices[c] for c in kids)
        if not prices[el] and tlen[el] <= 40 and _PRICE_LIKE.search("".join(el.itertext())):
            prices[el] = 1
            price_els.add(el)
        links[el] = sum(links[c] for c in kids) + (el.tag == "a" and bool(abs_url(response, el.get("href"))))
    groups: dict[int, list[Any]] = defaultdict(list)
    for el in order:
        if 1 <= prices[el] <= MAX_CARD_PRICES and links[el]:
            groups[sig[el]].append(el)
    found: list[tuple[int, int, list[Any], list[ListingItem]]] = []
    for members in _merge_variants(groups, shape, {el: i for i, el in enumerate(order)}):
        if len(members) < MIN_CARDS:
            continue
        cards = [c for c in (_card(response, m, price_els) for m in members) if c]
        if len({c.url for c in cards}) >= MIN_CARDS and len(cards) >= 0.6 * len(members):
            found.append((len(cards), -len(list(members[0].iterancestors())), members, cards))
    if not found:
        return []
    found.sort(key=lambda f: (f[0], f[1]), reverse=True)
    best = found[0]
    best_set = set(best[2])
    if _buy_control_outside(body, best_set) or _sectioned(best[2]):
        return []  # an item page's recommendations; a landing page's headed carousels
    for count, _, members, _ in found[1:]:
        ancestors = set(members[0].iterancestors())
        related = bool(ancestors & best_set) or any(a in set(members) for a in best[2][0].iterancestors())
        if not related and 2 * count >= best[0]:
            return []  # two comparable groups: carousels of a landing page, not one result list
    return best[3]
