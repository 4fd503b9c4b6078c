"""Recognise a rate-limit notice that carries no marker a page object knows, from its words.

Sites under load answer with short pages such as "访问过于频繁，请稍后再试", "Too many
requests", "アクセスが集中しています": often with status 200 and none of the captcha or login
markup the page objects look for. Read as an unknown page, such a notice would let the crawl
go on at full speed into more of them. ``rate_limit_notice`` says whether a page the
marketplace's classifier could not place is one, by the phrases sites use in the languages the
project crawls (Chinese simplified and traditional, Japanese, Korean, English, German, French,
Spanish), and only for a short page: a long page that happens to mention "频繁" in a
description is content, not a notice.

No settings affect this module; nothing here trusts or runs page text.
"""

from __future__ import annotations

import re

from parsel import Selector

# Visible text longer than this is a page with content, whatever it says.
MAX_NOTICE_CHARS = 2000

_PATTERNS = (
    # Chinese (simplified, traditional)
    r"(访问|請求|请求|操作|存取|訪問|搜索|搜尋)(过于|過於|太|过|過)(频繁|頻繁)",
    r"(访问|訪問|请求|請求)(频率|頻率)(过高|過高|过快|過快|超限|超過|超过)",
    r"(请求|請求|访问|訪問)次数(过多|過多|超限)",
    r"访问受限|訪問受限|访问被拒绝|訪問被拒絕|被限流",
    # Japanese, Korean
    r"アクセスが(集中|多すぎ|制限)|アクセス過多|リクエストが多すぎ|リクエスト数が上限",
    r"요청이\s*너무\s*많|요청\s*한도",
    # English, German, French, Spanish
    r"too\s+many\s+requests|rate[\s-]?limit(ed|ing)?\b|request\s+limit\s+(exceeded|reached)",
    r"unusual\s+traffic|you('| a)re\s+(making|sending)\s+requests\s+too\s+(fast|quickly)",
    r"zu\s+viele\s+anfragen|trop\s+de\s+requ[eê]tes|demasiadas\s+solicitudes",
)
_PHRASES = re.compile("|".join(_PATTERNS), re.IGNORECASE)


def visible_text(selector: Selector) -> str:
    """The page's text as a reader sees it: no scripts, styles or templates; spaces collapsed."""
    parts = selector.xpath(
        "//body//text()[not(ancestor::script) and not(ancestor::style)"
        " and not(ancestor::noscript) and not(ancestor::template)]"
    ).getall()
    if not parts:  # a fragment without <body>
        parts = selector.xpath(
            "//text()[not(ancestor::script) and not(ancestor::style)]").getall()
    title = selector.xpath("//title/text()").getall()
    return " ".join(" ".join(title + parts).split())


def rate_limit_notice(selector: Selector) -> str | None:
    """The phrase that makes this short page a rate-limit notice, or ``None``."""
    text = visible_text(selector)
    if not text or len(text) > MAX_NOTICE_CHARS:
        return None
    found = _PHRASES.search(text)
    return found.group(0) if found else None
