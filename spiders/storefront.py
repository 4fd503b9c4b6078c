"""``storefront``: crawl whole storefronts of sellers under watch.

``scrapy crawl storefront -a marketplace=demomart -a seller=shop1,shop2``. Each shop page gives
the seller's profile and licence block and a page of its listing index; index pages are
followed up to ``REELGUARD_MAX_SHOP_PAGES`` and each listing page is opened
(``REELGUARD_FOLLOW_LISTINGS``). The first page's seller item carries its response, for the
evidence of the licence block (``pipelines/licence.py``); with ``REELGUARD_EVIDENCE_ALL`` every
further index page is passed on as a ``ShopPage`` to be captured too.
"""

from __future__ import annotations

from typing import Any

from crawler.config import _EnvFirst
from crawler.exceptions import ConfigError
from crawler.items import ShopPage, Storefront
from crawler.spider_base import MarketplaceSpider, split_arg


class StorefrontSpider(MarketplaceSpider):
    name = "storefront"

    def __init__(self, seller: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sellers = split_arg(seller)
        if not self.sellers:
            raise ConfigError("storefront: give the seller(s) to crawl with -a seller=ID[,ID...]")

    async def start(self):  # type: ignore[override]
        for marketplace in self.marketplaces:
            pages = self.pages(marketplace)
            for seller in self.sellers:
                if ":" in seller:  # "marketplace:seller" pins a seller to one marketplace
                    only, seller_id = seller.split(":", 1)
                    if only != marketplace:
                        continue
                else:
                    seller_id = seller
                yield self.make_request(
                    pages.shop_url(self.base_urls[marketplace], seller_id),
                    marketplace,
                    self.parse_shop,
                    meta={"seller_id": seller_id, "page_index": 0},
                )

    async def parse_shop(self, response):  # type: ignore[no-untyped-def]
        marketplace = response.meta["marketplace"]
        kind = self.page_kind(response)
        if kind != "shop":
            self.unexpected_page(response, "shop", kind)
            return
        shop: Storefront = await self.extract(response, self.pages(marketplace).shop_page)
        index = response.meta.get("page_index", 0)
        if index == 0:
            shop.seller.marketplace = marketplace
            shop.seller.response = response
            yield shop.seller
        elif self._evidence_all():
            yield ShopPage(seller_id=shop.seller.seller_id, marketplace=marketplace,
                           url=response.url, page_index=index, response=response)
        for card in shop.listings:
            if not card.seller_id:
                card.seller_id = shop.seller.seller_id
            if self.rg.follow_listings:
                yield self.listing_request(card, marketplace, "storefront", None)
            else:
                yield self.with_context(card, response, "storefront")
        if shop.next_page_url and self.next_page_allowed(
            response, index + 1, "REELGUARD_MAX_SHOP_PAGES", self.rg.max_shop_pages
        ):
            yield self.make_request(
                shop.next_page_url,
                marketplace,
                self.parse_shop,
                meta={"seller_id": response.meta.get("seller_id"), "page_index": index + 1},
            )

    def _evidence_all(self) -> bool:
        if not hasattr(self, "_evidence_all_pages"):
            self._evidence_all_pages = _EnvFirst(self.settings).bool("REELGUARD_EVIDENCE_ALL")
        return self._evidence_all_pages
