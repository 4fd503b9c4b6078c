"""What every marketplace's page objects share: the per-marketplace bundle and text helpers.

A marketplace module (``crawler/pages/<name>.py``) exposes ``PAGES``, a :class:`MarketplacePages`
naming its page-object classes, its page classifier and its URL builders. Spiders look the bundle
up by marketplace name (``crawler.pages.get_pages``) and never import a marketplace directly.
Page objects are pure: they read a ``web_poet.HttpResponse`` and return items from
``crawler.items``; no Scrapy, no database, no catalogue.

No settings affect this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from web_poet import HttpResponse

from crawler.items import PageKind

_WS = re.compile(r"\s+")


def clean_text(value: str | None) -> str | None:
    """Collapse whitespace and strip; ``None`` or an empty string becomes ``None``."""
    if value is None:
        return None
    value = _WS.sub(" ", value).strip()
    return value or None


@dataclass(frozen=True)
class MarketplacePages:
    """Everything a spider needs to know about one marketplace's pages."""

    name: str
    language: str  # "zh" | "en" | ...: which catalogue titles make good search keywords
    classify: Callable[[HttpResponse], PageKind]
    search_page: type
    listing_page: type
    shop_page: type
    removed_page: type
    blocked_page: type
    # (base_url, keyword, page_index starting at 0) -> absolute URL of that search-result page
    search_url: Callable[[str, str, int], str]
    # (base_url, seller_id) -> absolute URL of the seller's storefront (first page)
    shop_url: Callable[[str, str], str]
    # (base_url, listing_id) -> absolute URL of the listing page
    listing_url: Callable[[str, str], str]
    # The currency prices are shown in when the page does not say (e.g. "¥" on a CNY site).
    currency: str | None = None
