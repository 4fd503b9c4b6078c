"""Turn a Scrapy response into the framework-free page input page objects read.

Page objects take a ``web_poet.HttpResponse``; this is the one place that knows Scrapy's
response type, so the same page object runs on a crawled page, a browser-rendered page
(scrapy-playwright returns the same response type) and a page saved to disk.

No settings affect this module.
"""

from __future__ import annotations

import weakref
from typing import Any

from web_poet import HttpResponse, HttpResponseHeaders

# Scrapy's responses are slotted (no attribute can be added) but weak-referenceable: the block
# detector and the spider callback read the same response, which is parsed once this way.
_page_inputs: weakref.WeakKeyDictionary[Any, HttpResponse] = weakref.WeakKeyDictionary()


def to_page_input(response: Any) -> HttpResponse:
    """Build the web-poet input for ``response`` (a ``scrapy.http.Response``), memoised on it."""
    try:
        cached = _page_inputs.get(response)
    except TypeError:  # not weak-referenceable: build it each time
        cached = None
    if cached is not None:
        return cached
    headers = HttpResponseHeaders.from_bytes_dict(response.headers)
    encoding = getattr(response, "encoding", None)
    page_input = HttpResponse(
        url=str(response.url),
        body=response.body,
        status=response.status,
        headers=headers,
        encoding=encoding,
    )
    try:
        _page_inputs[response] = page_input
    except TypeError:
        pass
    return page_input
