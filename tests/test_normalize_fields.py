"""Prices and counts as shown on real marketplaces -> values (crawler.normalize.fields)."""

from __future__ import annotations

import time

import pytest

from crawler.normalize.fields import clean, parse_count, parse_price


@pytest.mark.parametrize(
    ("shown", "site_currency", "want"),
    [
        ("¥25.00", "CNY", (25.0, "CNY")),
        ("￥３５.８０", "CNY", (35.8, "CNY")),
        ("¥ 1,299", "CNY", (1299.0, "CNY")),
        ("¥2,500", "JPY", (2500.0, "JPY")),
        ("€ 97,39 - 128,72", "EUR", (97.39, "EUR")),
        ("EUR 1.234,50", None, (1234.5, "EUR")),
        ("IDR1,614,898.07", "USD", (1614898.07, "IDR")),
        ("US $12.99", None, (12.99, "USD")),
        ("C $8.00", "USD", (8.0, "CAD")),
        ("$5", "AUD", (5.0, "AUD")),
        ("£7.49 to £9.99", None, (7.49, "GBP")),
        ("1 614 898,07 ₽", None, (1614898.07, "RUB")),
        ("25.00 30.00", "CNY", (25.0, "CNY")),
        ("1.2万", "CNY", (12000.0, "CNY")),
        ("RMB 88", None, (88.0, "CNY")),
        (".99", "USD", (0.99, "USD")),
    ],
)
def test_parse_price_reads_marketplace_formats(shown, site_currency, want):
    assert parse_price(shown, site_currency) == want


def test_parse_price_without_a_number_keeps_the_currency_only():
    assert parse_price("面议", "CNY") == (None, "CNY")
    assert parse_price(None, "CNY") == (None, "CNY")


def test_parse_price_hostile_text_is_bounded():
    started = time.monotonic()
    value, _ = parse_price("1" + ", " * 500_000 + "x", "CNY")
    assert time.monotonic() - started < 1.0
    assert value == 1.0


@pytest.mark.parametrize(
    ("shown", "want"),
    [("123人付款", 123), ("1.2万+人付款", 12000), ("2,345 sold", 2345), ("3k+ bought", 3000)],
)
def test_parse_count_reads_sales(shown, want):
    assert parse_count(shown) == want


def test_clean_strips_controls_and_caps_length():
    assert clean("a\x00b\u202ec  d") == "a b c d"
    assert len(clean("x" * 50_000) or "") == 20_000
