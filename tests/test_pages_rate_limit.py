"""Rate-limit notices in words only: recognised in every language crawled, never on content."""

from __future__ import annotations

from pathlib import Path

import pytest
from parsel import Selector

from crawler.pages.rate_limit import MAX_NOTICE_CHARS, rate_limit_notice

# Saved pages of every kind but block pages (a captcha page may well say "访问被拒绝").
ROOT = Path(__file__).resolve().parents[1]
FIXTURE_PAGES = sorted(p for p in ROOT.glob("fixtures/pages/**/*.html") if "BlockedPage" not in str(p))


def _page(body: str, title: str = "") -> Selector:
    return Selector(text=f"<html><head><title>{title}</title>"
                         f"<script>var msg='too many requests';</script></head>"
                         f"<body>{body}</body></html>")


@pytest.mark.parametrize("body", [
    "<p>访问过于频繁，请稍后再试</p>",
    "<div>亲，您的请求过于频繁，请休息一下</div>",
    "<p>您的訪問過於頻繁，請稍後再試</p>",
    "<p>请求次数过多，请明天再来</p>",
    "<p>アクセスが集中しています。しばらく時間をおいてから再度お試しください。</p>",
    "<p>요청이 너무 많습니다. 잠시 후 다시 시도하세요.</p>",
    "<h1>Too Many Requests</h1><p>Please slow down.</p>",
    "<p>You have been rate-limited. Try again in a minute.</p>",
    "<p>Our systems have detected unusual traffic from your computer network.</p>",
    "<p>Zu viele Anfragen. Bitte versuchen Sie es später erneut.</p>",
    "<p>Trop de requêtes</p>",
    "<p>Demasiadas solicitudes</p>",
])
def test_short_notices_are_recognised(body: str) -> None:
    assert rate_limit_notice(_page(body)) is not None


def test_the_title_alone_is_enough() -> None:
    assert rate_limit_notice(_page("<p>429</p>", title="Too many requests")) is not None


@pytest.mark.parametrize("body", [
    "",
    "<p>页面加载中</p>",
    "<p>Item not found</p>",
    "<p>The Dark Knight Blu-ray, region free</p>",
    "<p>很抱歉，您查看的宝贝不存在，可能已下架或者被转移。</p>",
])
def test_other_short_pages_are_not(body: str) -> None:
    assert rate_limit_notice(_page(body)) is None


def test_a_script_saying_it_is_not_a_notice() -> None:
    # _page's script says "too many requests": scripts are not what a reader sees.
    assert rate_limit_notice(_page("<p>搜索结果</p>")) is None


def test_a_long_page_that_mentions_the_words_is_content() -> None:
    description = "这款蓝光碟片画质清晰，音效出色，适合收藏。" * (MAX_NOTICE_CHARS // 20 + 1)
    body = f"<h1>黑暗骑士 蓝光</h1><p>{description}</p><p>卖家提示：请勿频繁下单，访问过于频繁会被限制</p>"
    assert rate_limit_notice(_page(body)) is None


@pytest.mark.parametrize("path", FIXTURE_PAGES, ids=lambda p: f"{p.parts[-4]}/{p.parts[-3]}")
def test_no_saved_page_is_a_notice(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", errors="replace")
    assert rate_limit_notice(Selector(text=text)) is None
