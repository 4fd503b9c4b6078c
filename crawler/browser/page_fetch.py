"""One browser fetch on an open page, turned into a Scrapy response with few driver trips.

:class:`PageFetchingHandler` holds scrapy-playwright's ``_download_request_with_page`` and
``_get_response_and_download`` rewritten for a page that stays open for the next request
(:class:`crawler.browser.handler.PagePoolPlaywrightHandler` keeps the pool): TLS details are
asked for only over https (plain http has none), the response headers are read while the page
methods run and the content is taken, and a response's headers are read from the driver only
when a download needs them. Downloads (a navigation that starts one) come back as Scrapy
responses as in scrapy-playwright.

Settings: ``PLAYWRIGHT_*`` (scrapy-playwright's: browser type, download timeout).
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from ipaddress import ip_address
from typing import TYPE_CHECKING

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Response as PlaywrightResponse
from scrapy.http.headers import Headers
from scrapy.responsetypes import responsetypes
from scrapy_playwright._utils import _encode_body, _get_page_content, _set_redirect_meta
from scrapy_playwright.handler import Download, ScrapyPlaywrightDownloadHandler

if TYPE_CHECKING:
    from playwright.async_api import Download as PlaywrightDownload
    from playwright.async_api import Page
    from scrapy import Request, Spider
    from scrapy.http import Response

logger = logging.getLogger(__name__)


class PageFetchingHandler(ScrapyPlaywrightDownloadHandler):
    """scrapy-playwright's handler with a fetch on a page it never closes (no pool itself)."""

    async def _download_with_pooled_page(
        self, request: Request, page: Page, spider: Spider
    ) -> Response:
        """scrapy-playwright's ``_download_request_with_page`` for a pooled page, with fewer
        driver round trips: TLS details are asked for only over https (plain http has none),
        and the response headers are read while the page methods run and the content is taken.
        The page is never closed here.
        """
        request.meta["playwright_page"] = page
        start_time = time.time()
        response, download = await self._get_response_and_download(request, page, spider)
        headers_task: asyncio.Task[dict[str, str]] | None = None
        if isinstance(response, PlaywrightResponse):
            await _set_redirect_meta(request=request, response=response)
            headers_task = asyncio.ensure_future(response.all_headers())
        elif not download:
            logger.warning(
                "Navigating to %s returned None, the response"
                " will have empty headers and status 200",
                request,
            )
        try:
            await self._apply_page_methods(page, request, spider)
            body_str = await _get_page_content(
                page=page,
                spider=spider,
                context_name=request.meta.get("playwright_context", "default"),
                scrapy_request_url=request.url,
                scrapy_request_method=request.method,
            )
        except BaseException:
            if headers_task is not None:
                headers_task.cancel()
                with suppress(BaseException):
                    await headers_task
            raise
        headers = Headers(await headers_task) if headers_task is not None else Headers()
        headers.pop("Content-Encoding", None)
        request.meta["download_latency"] = time.time() - start_time

        server_ip_address = None
        if response is not None:
            with suppress(PlaywrightError, KeyError, TypeError, ValueError):
                if response.url.startswith("https:"):
                    request.meta["playwright_security_details"] = await response.security_details()
                else:
                    request.meta["playwright_security_details"] = None
                server_addr = await response.server_addr()
                server_ip_address = ip_address(server_addr["ipAddress"])  # type: ignore[index]

        if download and download.exception:
            raise download.exception
        if download:
            request.meta["playwright_suggested_filename"] = download.suggested_filename
            respcls = responsetypes.from_args(url=download.url, body=download.body)
            download_headers = Headers(download.headers)
            download_headers.pop("Content-Encoding", None)
            return respcls(
                url=download.url,
                status=download.response_status,
                headers=download_headers,
                body=download.body,
                request=request,
                flags=["playwright"],
            )
        body, encoding = _encode_body(headers=headers, text=body_str)
        respcls = responsetypes.from_args(headers=headers, url=page.url, body=body)
        return respcls(  # type: ignore[call-arg]
            url=page.url,
            status=response.status if response is not None else 200,
            headers=headers,
            body=body,
            request=request,
            flags=["playwright"],
            encoding=encoding,
            ip_address=server_ip_address,
        )

    async def _get_response_and_download(
        self, request: Request, page: Page, spider: Spider
    ) -> tuple[PlaywrightResponse | None, Download | None]:
        """scrapy-playwright's, except that a response's headers are read from the driver only
        when a download needs them, not for every response of every page (a round trip each).
        """
        response: PlaywrightResponse | None = None
        download = Download()
        download_started = asyncio.Event()
        download_ready = asyncio.Event()
        last_response: list[PlaywrightResponse] = []

        async def _handle_download(dwnld: PlaywrightDownload) -> None:
            download_started.set()
            self.stats.inc_value("playwright/download_count")
            try:
                if failure := await dwnld.failure():
                    raise RuntimeError(f"Failed to download {dwnld.url}: {failure}")
                download.body = (await dwnld.path()).read_bytes()
                download.url = dwnld.url
                download.suggested_filename = dwnld.suggested_filename
            except Exception as ex:  # noqa: BLE001 - kept, and raised with the response
                download.exception = ex
            finally:
                download_ready.set()

        def _handle_response(pw_response: PlaywrightResponse) -> None:
            download.response_status = pw_response.status
            last_response[:] = [pw_response]
            download_started.set()

        page_goto_kwargs = dict(request.meta.get("playwright_page_goto_kwargs") or {})
        page_goto_kwargs.pop("url", None)
        page.on("download", _handle_download)
        page.on("response", _handle_response)
        try:
            response = await page.goto(url=request.url, **page_goto_kwargs)
        except PlaywrightError as err:
            if not (
                "Download is starting" in err.message
                or self.config.browser_type_name == "chromium"
                and "net::ERR_ABORTED" in err.message
            ):
                raise
            try:
                await asyncio.wait_for(
                    download_started.wait(), timeout=self.config.download_timeout_secs
                )
            except TimeoutError as exc:
                raise err from exc
            if download.response_status == 204:
                raise
            if last_response:
                download.headers = await last_response[0].all_headers()
            try:
                await asyncio.wait_for(
                    download_ready.wait(), timeout=self.config.download_timeout_secs
                )
            except TimeoutError as exc:
                raise err from exc
        finally:
            page.remove_listener("download", _handle_download)
            page.remove_listener("response", _handle_response)
        return response, download if download else None
