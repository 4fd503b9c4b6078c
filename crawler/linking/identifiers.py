"""Contact identifiers in listing and shop text: phones, WeChat and QQ ids, emails, addresses.

Pirate sellers move buyers off the platform ("加微信 … 发网盘链接", "更多片源加V：…",
"电话/微信同号 138…", "Questions? Email …"), and the same operator running several accounts
tends to leave the same contact on all of them: that is what links the accounts. This module
only *reads* text; it never decides anything. :func:`extract` returns every :class:`Hit` with
its normalised ``value`` (what identifiers are compared on) and the text ``shown`` on the page.

What is recognised (NFKC first, so full-width digits and letters, circled digits and the
full-width ``＠`` read as ASCII; zero-width and control characters and HTML tags count as
separators):

* **phone**: a mainland mobile number, 11 digits with a valid ``13x``–``19x`` prefix, written
  plain, grouped or split digit by digit (spaces, dashes, dots), with an optional ``+86`` /
  ``0086`` prefix, or in Chinese numerals (``一三八…``). The value is the 11 digits. A digit run
  that goes on (order numbers, barcodes, ISBNs, timestamps) is not a phone, nor is a number
  introduced by an order/tracking/barcode word.
* **wechat**: an id after a WeChat word (微信, 威信, 薇信, V信, VX, WX, WeChat, 加V …): 6–20
  characters, a letter first, then letters, digits, ``_`` or ``-``; lower-cased. A phone number
  introduced by a WeChat word (``微信：138…``) or declared the same (``电话/微信同号 138…``,
  ``138…（微信同号）``) is also that seller's WeChat, with the phone digits as value. After an
  English word (``WeChat``) an id needs a colon or a digit/underscore, so "WeChat payments" is
  not an id.
* **qq**: 5–11 digits (no leading 0) after QQ, 扣扣, 企鹅 (a QQ *group* number is not a QQ id),
  or the digits of a ``…@qq.com`` address.
* **email**: lower-cased; ``＠``, ``[at]``/``(at)`` and ``[dot]``/``(dot)`` are read as ``@``
  and ``.``; ``name at example dot com`` only right after an email word. Asset names such as
  ``logo@2x.png`` are not addresses.
* **address**: the text after 退货地址 / 退换货地址 / 寄回地址 / 售后地址 / 发货地址 / "return
  address", up to the end of the sentence or the next contact word, at most
  :data:`MAX_ADDRESS_CHARS`; it must look like an address (a 省/市/区/路/号… word, or digits
  and letters). The value is NFKC, lower-case, without whitespace.

Every pattern is linear (bounded repetitions, no nested unbounded quantifiers) and the input is
cut at :data:`MAX_TEXT_CHARS`, so hostile text (HTML, megabytes, control characters) costs
bounded time and never raises. :func:`mask` hides most of a value for people
(``138****5678``); the data keeps the full value.

No settings affect this module.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

KINDS = ("phone", "wechat", "qq", "email", "address")
MAX_TEXT_CHARS = 1_000_000  # longer text is cut: extraction time stays bounded
MAX_HITS_PER_KIND = 50
MAX_SHOWN_CHARS = 200
MAX_ADDRESS_CHARS = 120
CONTEXT_CHARS = 14  # how far around a phone number its keywords are looked for

# Characters that separate digits of a number written to dodge filters ("138-1234-5678",
# "1 3 8 …", "138·1234·5678").
_SEP = r"[ \-.·_~—–]"
# Chinese numerals (and their financial forms) spell phone numbers to dodge filters: only an
# 11-numeral run on its own is read as a number (a numeral next to ASCII digits is just a word).
_CN_NUMERALS = ("〇零", "一壹幺", "二贰两", "三叁", "四肆", "五伍", "六陆", "七柒", "八捌", "九玖")
_CN_DIGITS = str.maketrans({c: str(d) for d, group in enumerate(_CN_NUMERALS) for c in group})
_CN_CLASS = "[" + "".join(_CN_NUMERALS) + "]"
_CN_PHONE = re.compile(
    rf"(?={_CN_CLASS})(?<!{_CN_CLASS})(?<!\d){_CN_CLASS}{{11}}(?!{_CN_CLASS})(?!\d)"
)
# Control characters, zero-width characters and bidi controls: one space each (same length).
_BLANK = str.maketrans(
    {
        c: " "
        for c in [
            *range(9),
            11,
            12,
            *range(14, 32),
            *range(0x7F, 0xA0),
            *range(0x200B, 0x2010),
            *range(0x202A, 0x202F),
            *range(0x2060, 0x2065),
            0xFEFF,
            0xAD,
        ]
    }
)
_TAG = re.compile(r"<[^<>]{0,1000}>")

_PHONE = re.compile(
    # The lookahead first: most positions fail on one character test.
    rf"(?=[+0(1])(?<!\d)(?<!\d{_SEP})(?<!\d{_SEP}{{2}})"
    rf"(?:(?:\+|00)\s?86{_SEP}{{0,2}}|\(\s?\+?86\s?\){_SEP}{{0,2}})?"
    rf"(1(?:{_SEP}{{0,2}}\d){{10}})"
    rf"(?!{_SEP}{{0,2}}\d)"
)
_MOBILE = re.compile(r"1(?:3\d|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8\d|9[0-35-9])\d{8}")
# Numbers introduced by these words are order, tracking or product numbers, not phones.
_NOT_PHONE = re.compile(
    r"(?:订单|单号|编号|货号|条码|条形码|型号|序列号|批号|书号|运单|快递|物流|isbn|issn|ean|upc"
    r"|sku|order|tracking|serial|barcode|item\s*(?:no|number)|no\.).{0,4}$",
    re.IGNORECASE,
)
_WX_WORD = (
    r"(?=[微威薇徽维維vVwW加+➕])(?:微\s*信|威\s*信|薇\s*信|徽\s*信|维\s*信|維\s*信|v\s*信|加\s*薇|加\s*v|[+➕]\s*v"
    r"|(?<![a-z0-9])(?:vx|wx|weixin|wechat)(?![a-z])|(?<![a-z0-9])v(?=\s*[:：]))"
)
_WX_ANY = re.compile(_WX_WORD, re.IGNORECASE)
_SAME = re.compile(r"同号|同步|同微|同手机|同电话|同上")
_FILL = r"[\s:：=\-—~、,，.。()（）\[\]【】「」'\"“”❤♥★☆/|]"
_WECHAT = re.compile(
    rf"{_WX_WORD}(?P<sep>{_FILL}{{0,6}}(?:号码|账号|号|id)?{_FILL}{{0,4}})"
    r"(?P<id>[a-z][a-z0-9_-]{5,19})(?![a-z0-9_-])",
    re.IGNORECASE,
)
_LATIN_WX = re.compile(r"(?:vx|wx|weixin|wechat|v)$", re.IGNORECASE)
_QQ = re.compile(
    rf"(?<![a-z0-9])(?:qq|扣\s*扣|企\s*鹅|q(?=\s*[:：]))\s*(?:号码|账号|号)?{_FILL}{{0,6}}"
    r"(?P<num>[1-9]\d{4,10})(?!\d)",
    re.IGNORECASE,
)
_AT = r"(?:@|\s?[\[\(（{【]\s?(?:at|艾特)\s?[\]\)）}】]\s?)"
_DOT = r"(?:\.|\s?[\[\(（{【]\s?(?:dot|点)\s?[\]\)）}】]\s?)"
_DOMAIN = rf"(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?{_DOT}){{1,6}}[a-z]{{2,24}}"
_EMAIL = re.compile(
    rf"(?<![a-z0-9._%+-])(?P<local>[a-z0-9._%+-]{{1,64}}){_AT}(?P<domain>{_DOMAIN})"
    r"(?![a-z0-9-])",
    re.IGNORECASE,
)
_SPOKEN_DOT = r"(?:\.|\s+dot\s+)"
_EMAIL_SPOKEN = re.compile(
    r"(?:e-?mail|mail|邮箱|邮件)\W{0,3}"
    r"(?P<local>[a-z0-9._%+-]{1,64})\s+at\s+"
    rf"(?P<domain>(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?{_SPOKEN_DOT}){{1,6}}[a-z]{{2,24}})"
    r"(?![a-z0-9-])",
    re.IGNORECASE,
)
_DOT_WORDS = re.compile(_DOT + "|" + _SPOKEN_DOT, re.IGNORECASE)
_ASSET_TLDS = frozenset(
    {
        "png",
        "jpg",
        "jpeg",
        "gif",
        "webp",
        "svg",
        "bmp",
        "ico",
        "js",
        "css",
        "htm",
        "html",
        "php",
        "json",
        "xml",
        "mp4",
        "avi",
        "mkv",
    }
)
_ADDRESS = re.compile(
    r"(?:(?:退货|退换货?|换货|寄回|回寄|售后|发货)\s*地\s*址|returns?\s+address)"
    rf"[\s:：]{{0,4}}(?P<addr>[^\n。；;|!！?？，]{{4,{MAX_ADDRESS_CHARS + 40}}})",
    re.IGNORECASE,
)
# Where an address ends: the next contact word, or a long digit run (a phone, a postcode).
_ADDRESS_END = re.compile(
    r"收件人|联系人|收货人|电话|手机|微信|威信|薇信|qq|邮编|邮箱|tel(?![a-z])|phone|mobile|email|e-mail"
    r"|wechat|vx|\d{7,}|(?<!\d)1\d{2}[ \-]\d{4}[ \-]\d{4}|\.(?:\s|$)",
    re.IGNORECASE,
)
_ADDRESS_WORDS = re.compile(
    r"[省市区县路街道号镇村巷楼室弄栋幢园厦]|\d.*[a-z]|[a-z].*\d", re.IGNORECASE
)
_DIGITS = re.compile(r"\d")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Hit:
    """One identifier found in a text: normalised ``value``, the text ``shown``, its span."""

    kind: str
    value: str
    shown: str
    start: int
    end: int


class _Text:
    """The text as scanned: same length as the original where NFKC allows (else an offset map),
    so every hit can quote the original characters it came from."""

    def __init__(self, original: str) -> None:
        original = original[:MAX_TEXT_CHARS]
        self.original = original
        blanked = _TAG.sub(lambda m: " " * len(m.group()), original.translate(_BLANK))
        nfkc = unicodedata.normalize("NFKC", blanked)
        self.offsets: list[int] | None = None
        if len(nfkc) == len(blanked):
            self.scan = nfkc
        else:  # some character expanded or composed: map each scanned char to its source
            parts: list[str] = []
            offsets: list[int] = []
            cache: dict[str, str] = {}
            for i, ch in enumerate(blanked):
                norm = cache.get(ch)
                if norm is None:
                    norm = cache[ch] = unicodedata.normalize("NFKC", ch)
                parts.append(norm)
                offsets.extend([i] * len(norm))
            self.scan = "".join(parts)
            self.offsets = offsets

    def source(self, start: int, end: int) -> tuple[int, int]:
        if self.offsets is None:
            return start, end
        if not self.offsets:
            return 0, 0
        last = len(self.offsets) - 1
        s = self.offsets[min(start, last)]
        e = self.offsets[min(max(end - 1, 0), last)] + 1
        return s, max(s, e)

    def shown(self, start: int, end: int) -> str:
        s, e = self.source(start, end)
        text = " ".join(_TAG.sub(" ", self.original[s:e].translate(_BLANK)).split())
        return text[:MAX_SHOWN_CHARS]


def _window_before(scan: str, start: int) -> str:
    """The few characters before ``start`` in the same clause."""
    window = scan[max(0, start - CONTEXT_CHARS) : start]
    cut = max(window.rfind(p) for p in "。；;!！\n，,")
    return window[cut + 1 :]


def _window_after(scan: str, end: int) -> str:
    window = scan[end : end + CONTEXT_CHARS]
    cuts = [i for i in (window.find(p) for p in "。；;!！\n") if i >= 0]
    return window[: min(cuts)] if cuts else window


def _phones(text: _Text, out: list[Hit]) -> None:
    scan = text.scan
    spans = [(m.start(), m.end(), m.group(1)) for m in _PHONE.finditer(scan)]
    spans += [
        (m.start(), m.end(), m.group().translate(_CN_DIGITS)) for m in _CN_PHONE.finditer(scan)
    ]
    for start, end, digits in spans:
        value = "".join(_DIGITS.findall(digits))
        if not _MOBILE.fullmatch(value):
            continue
        if _NOT_PHONE.search(scan[max(0, start - CONTEXT_CHARS) : start]):
            continue
        out.append(Hit("phone", value, text.shown(start, end), start, end))
        before = _window_before(scan, start)
        after = _window_after(scan, end)
        if _WX_ANY.search(before) or (_WX_ANY.search(after) and _SAME.search(after)):
            # "微信：138…", "电话/微信同号 138…", "138…（微信同号）": the phone is the WeChat id.
            first = start - len(before)
            out.append(Hit("wechat", value, text.shown(first, end), first, end))


def _wechats(text: _Text, out: list[Hit]) -> None:
    for m in _WECHAT.finditer(text.scan):
        wx_id = m.group("id")
        keyword = text.scan[m.start() : m.start("sep")]
        english = _LATIN_WX.fullmatch(keyword.strip()) is not None
        declared = re.search(r"[:：=]|号|id", m.group("sep"), re.IGNORECASE) is not None
        if english and not declared and not re.search(r"[\d_-]", wx_id):
            # After an English word only an id that looks like one: "WeChat payments" is not.
            continue
        out.append(Hit("wechat", wx_id.lower(), text.shown(m.start(), m.end()), m.start(), m.end()))


def _qqs(text: _Text, out: list[Hit]) -> None:
    for m in _QQ.finditer(text.scan):
        out.append(Hit("qq", m.group("num"), text.shown(m.start(), m.end()), m.start(), m.end()))


def _email_value(local: str, domain: str) -> str | None:
    domain = _DOT_WORDS.sub(".", domain).lower().strip(".")
    local = local.lower().strip(".")
    if not local or "." not in domain or domain.rsplit(".", 1)[-1] in _ASSET_TLDS:
        return None
    return f"{local}@{domain}"


def _emails(text: _Text, out: list[Hit]) -> None:
    for pattern in (_EMAIL, _EMAIL_SPOKEN):
        for m in pattern.finditer(text.scan):
            value = _email_value(m.group("local"), m.group("domain"))
            if value is None:
                continue
            start = m.start("local")
            shown = text.shown(start, m.end())
            out.append(Hit("email", value, shown, start, m.end()))
            local, domain = value.split("@", 1)
            if domain == "qq.com" and re.fullmatch(r"[1-9]\d{4,10}", local):
                out.append(Hit("qq", local, shown, start, m.end()))


def normalize_address(raw: str) -> str:
    """The comparison form of an address: NFKC, lower-case, no whitespace, bounded."""
    text = unicodedata.normalize("NFKC", raw.translate(_BLANK)).lower()
    return "".join(text.split()).strip(",，、.:：-—")[:MAX_ADDRESS_CHARS]


def _addresses(text: _Text, out: list[Hit]) -> None:
    for m in _ADDRESS.finditer(text.scan):
        start, raw = m.start("addr"), m.group("addr")
        end_at = _ADDRESS_END.search(raw)
        if end_at is not None:
            raw = raw[: end_at.start()]
        raw = raw[:MAX_ADDRESS_CHARS]
        if _CJK.search(raw):
            # A Chinese address ends with its house/room number; what follows is other text.
            last = max(raw.rfind(c) for c in "号室楼栋幢座")
            if last >= 4:
                raw = raw[: last + 1]
        value = normalize_address(raw)
        if len(value) < 6 or not _ADDRESS_WORDS.search(value):
            continue
        end = start + len(raw.rstrip())
        out.append(Hit("address", value, text.shown(m.start(), end), m.start(), end))


def extract(*texts: str | None) -> list[Hit]:
    """Every identifier in ``texts`` (title, description, shop profile…), one hit per
    (kind, value), in order of appearance; never raises on any string."""
    hits: list[Hit] = []
    for raw in texts:
        if not raw:
            continue
        text = _Text(str(raw))
        found: list[Hit] = []
        for finder in (_phones, _wechats, _qqs, _emails, _addresses):
            finder(text, found)
        hits.extend(sorted(found, key=lambda h: (h.start, KINDS.index(h.kind))))
    seen: set[tuple[str, str]] = set()
    per_kind: dict[str, int] = {}
    unique: list[Hit] = []
    for hit in hits:
        key = (hit.kind, hit.value)
        if key in seen or per_kind.get(hit.kind, 0) >= MAX_HITS_PER_KIND:
            continue
        seen.add(key)
        per_kind[hit.kind] = per_kind.get(hit.kind, 0) + 1
        unique.append(hit)
    return unique


def mask(kind: str, value: str) -> str:
    """``value`` with most of it hidden, for people (``138****5678``); images stay as they are."""
    if kind == "image" or not value:
        return value
    if kind == "phone" and len(value) >= 7:
        return f"{value[:3]}****{value[-4:]}"
    if kind in ("qq", "wechat"):
        keep = 2 if len(value) > 5 else 1
        return f"{value[:keep]}{'*' * max(3, len(value) - 2 * keep)}{value[-keep:]}"
    if kind == "email" and "@" in value:
        local, domain = value.split("@", 1)
        return f"{local[:2]}***@{domain}"
    if kind == "address":
        return value[:6] + ("…" if len(value) > 6 else "")
    return value[:2] + "***"
