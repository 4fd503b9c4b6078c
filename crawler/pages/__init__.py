"""Page objects, one module per marketplace; ``get_pages(name)`` returns its bundle.

``KNOWN_MARKETPLACES`` are the marketplaces spiders crawl (each has a profile, URL builders and
block handling that crawls rely on). ``PARSE_ONLY_MARKETPLACES`` have page objects for pages
saved by hand (``reelguard parse`` / ``ingest``) but are not crawl targets: naming one to a
spider or in ``monitor.yaml`` stays an error. ``parse_pages(name)`` is what ``parse`` reads a page
with: the marketplace's own bundle, else the generic one (``crawler.pages.generic``:
schema.org, ``og:`` meta, repeated priced cards), which serves every site we do not know and
never becomes a crawl target by accident.

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
PARSE_ONLY_MARKETPLACES = ("rakuten",)
GENERIC = "generic"
# What `reelguard parse --marketplace` accepts.
PARSE_MARKETPLACES = (*KNOWN_MARKETPLACES, *PARSE_ONLY_MARKETPLACES, GENERIC)


def get_pages(marketplace: str) -> MarketplacePages:
    """Return the page-object bundle of ``marketplace`` or raise ``KeyError`` naming the known ones."""
    if marketplace not in KNOWN_MARKETPLACES:
        raise KeyError(
            f"unknown marketplace {marketplace!r}; known: {', '.join(KNOWN_MARKETPLACES)}"
        )
    module = importlib.import_module(f"crawler.pages.{marketplace}")
    pages: MarketplacePages = module.PAGES
    return pages


def parse_pages(marketplace: str | None) -> MarketplacePages:
    """The bundle a saved page of ``marketplace`` is read with: its own, else the generic one."""
    name = marketplace if marketplace in PARSE_MARKETPLACES else GENERIC
    module = importlib.import_module(f"crawler.pages.{name}")
    pages: MarketplacePages = module.PAGES
    return pages
