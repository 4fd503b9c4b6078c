"""Page objects, one module per marketplace; ``get_pages(name)`` returns its bundle.

No settings affect this module.
"""

from __future__ import annotations

import importlib

from crawler.pages.base import MarketplacePages

KNOWN_MARKETPLACES = (
    "demomart",
    "demobay",
    "taobao",
    "tmall",
    "jd",
    "ebay",
    "amazon",
    "aliexpress",
)


def get_pages(marketplace: str) -> MarketplacePages:
    """Return the page-object bundle of ``marketplace`` or raise ``KeyError`` naming the known ones."""
    if marketplace not in KNOWN_MARKETPLACES:
        raise KeyError(
            f"unknown marketplace {marketplace!r}; known: {', '.join(KNOWN_MARKETPLACES)}"
        )
    module = importlib.import_module(f"crawler.pages.{marketplace}")
    pages: MarketplacePages = module.PAGES
    return pages
