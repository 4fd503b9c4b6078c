"""Items: what page objects extract and what pipelines carry to storage.

Page objects (``crawler.pages``) fill these from a response and nothing else: values are kept
*as shown* on the page (``price_text``), never interpreted. The normalise pipeline
(``pipelines.normalize``) fills the derived fields (``price``, ``currency``, ``title_norm``) and
the spider fills the crawl context (``marketplace``, ``keyword``, ``source``, ``fetched_via``).

No settings affect this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

PageKind = Literal["search", "item", "shop", "blocked", "removed", "unknown"]
"""What a page is. ``blocked`` covers login walls, captchas and rate-limit pages."""


@dataclass
class Licence:
    """A shop's publication licence block (出版物经营许可证) as shown on its shop page."""

    number: str | None = None
    holder: str | None = None
    authority: str | None = None
    valid_from: str | None = None  # as shown, e.g. "2021-03-01"
    valid_to: str | None = None
    raw_text: str | None = None


@dataclass
class ListingItem:
    """One marketplace listing (an offer), from a search card, a shop index or its own page."""

    listing_id: str
    url: str
    title: str
    price_text: str | None = None
    seller_id: str | None = None
    seller_name: str | None = None
    shop_url: str | None = None
    sales_text: str | None = None
    location: str | None = None
    image_urls: list[str] = field(default_factory=list)
    description: str | None = None
    condition: str | None = None
    # Filled by the spider: context of the sighting.
    marketplace: str | None = None
    source: str | None = None  # "search" | "storefront" | "listing"
    keyword: str | None = None
    page_kind: str = "item"  # "item" for a full listing page, "card" for a search/shop card
    status: str = "active"  # "active" | "removed"
    fetched_via: str = "http"  # "http" | "browser"
    # Filled by the normalise pipeline.
    price: float | None = None
    currency: str | None = None
    sales_count: int | None = None
    title_norm: str | None = None


@dataclass
class SellerItem:
    """A seller / shop with its profile and licence block, from its storefront page."""

    seller_id: str
    name: str | None = None
    shop_url: str | None = None
    shop_name: str | None = None
    location: str | None = None
    rating_text: str | None = None
    opened_text: str | None = None
    licence: Licence | None = None
    has_licence_block: bool = False
    marketplace: str | None = None

    def __post_init__(self) -> None:
        # The response the shop page came from, set by the storefront spider for evidence of
        # the licence block (pipelines/licence.py). Deliberately not a dataclass field: it is
        # never stored, serialised (``asdict``, the page-object fixtures, ``profile``) or copied.
        self.response: Any = None


@dataclass
class ShopPage:
    """A storefront index page after the first, passed on only to be captured as evidence.

    Yielded by the storefront spider when ``REELGUARD_EVIDENCE_ALL`` is on (investigations:
    every page captured); the first page's :class:`SellerItem` already carries the profile.
    """

    seller_id: str
    marketplace: str
    url: str
    page_index: int
    response: Any = None


@dataclass
class SearchResults:
    """A page of search results."""

    listings: list[ListingItem] = field(default_factory=list)
    next_page_url: str | None = None
    total_text: str | None = None
    # True when the results are rendered by JavaScript and the HTML holds none of them.
    needs_browser: bool = False


@dataclass
class Storefront:
    """A page of a shop: its seller profile and a page of its listing index."""

    seller: SellerItem
    listings: list[ListingItem] = field(default_factory=list)
    next_page_url: str | None = None


@dataclass
class RemovedListing:
    """A listing page that says the listing is gone (delisted, ended, removed)."""

    listing_id: str | None
    url: str
    message: str | None = None
    marketplace: str | None = None  # filled by the spider


@dataclass
class BlockedPage:
    """A login wall, captcha or rate-limit page served instead of what was asked for."""

    url: str
    reason: str  # "captcha" | "login" | "rate_limit"
    message: str | None = None


@dataclass
class CrawledListing:
    """A listing as a crawl saw it, carried through the pipelines with what it means for us.

    The spider wraps what the page object extracted (``listing``) with the response it came
    from (``response``, for evidence); the match pipeline adds ``decision`` (the engine's output
    as a dict: decision, catalog_id, catalog_ids, member, score, signals) and ``members`` (the
    rights holders it concerns); the store pipeline sets ``listing_db_id`` and, when the page
    named the seller, ``seller_db_id``.
    """

    listing: ListingItem
    response: Any = None
    decision: dict[str, Any] | None = None
    members: list[str] = field(default_factory=list)
    listing_db_id: int | None = None
    seller_db_id: int | None = None
