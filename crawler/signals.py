"""Reelguard's own Scrapy signals.

``crawl_event`` is sent (``crawler.signals.send_catch_log``) by middlewares and spiders with
``kind`` ("blocked", "error", "refused", "removed", "unknown_page", ...), ``url``, ``reason`` and
``marketplace`` keyword arguments; ``crawler.extensions.runlog.CrawlRunRecorder`` stores each
one on the crawl run.
"""

from __future__ import annotations

crawl_event = object()
