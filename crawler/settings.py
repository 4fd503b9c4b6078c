"""Scrapy settings of the Reelguard project (``SCRAPY_SETTINGS_MODULE=crawler.settings``).

Everything a monitor does not need is off (``file://``/``data:``/``ftp``/``s3`` handlers, the
telnet console, the remote-control server). Reelguard's own settings are prefixed ``REELGUARD_``
and parsed once into :class:`crawler.config.ReelguardConfig`; environment variables of the same
name override them (see ``crawler.config``).
"""

from __future__ import annotations

from crawler import __version__
from crawler.browser.launch import launch_options
from crawler.profiles import download_slots, load_profiles, profiles_path

BOT_NAME = "reelguard"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

USER_AGENT = f"Reelguard/{__version__} (+https://github.com/reelguard/reelguard; anti-piracy monitor)"

# -- Politeness -------------------------------------------------------------------------------
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 8.0
# Items and requests of one response processed at once. Scrapy's default (100) starts 100
# asyncio tasks for every response, about a fifth of the CPU of a listing page (bench/crawl.py);
# the pipelines are synchronous, so more than a few buys nothing.
CONCURRENT_ITEMS = 16
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
REDIRECT_MAX_TIMES = 5
DEPTH_LIMIT = 50
# Per-marketplace politeness (concurrency, delay of each marketplace's download slot) from the
# marketplace profiles (crawler/marketplaces.yaml, or REELGUARD_PROFILES in the environment);
# crawler.monitor.runner recomputes it when REELGUARD_PROFILES is given as a setting.
DOWNLOAD_SLOTS = download_slots(load_profiles(profiles_path()))

# -- Attack surface off -------------------------------------------------------------------------
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
DOWNLOAD_HANDLERS = {
    "file": None,
    "data": None,
    "s3": None,
    "ftp": None,
    "http": "crawler.browser.handler.PagePoolPlaywrightHandler",
    "https": "crawler.browser.handler.PagePoolPlaywrightHandler",
}
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

# -- Browser (scrapy-playwright, only for requests with meta["playwright"]) -------------------
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_LAUNCH_OPTIONS = launch_options()
PLAYWRIGHT_MAX_CONTEXTS = 1
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 4
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 30_000
PLAYWRIGHT_ABORT_REQUEST = "crawler.browser.handler.abort_heavy_requests"

# -- Components ----------------------------------------------------------------------------
DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.ssrf.PrivateAddressGuardMiddleware": 50,
    # RFC 9309's policy (5xx or unreachable: crawl nothing), Crawl-delay, refusals recorded.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.robots.RobotsPolicyMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.retry.RetryAfterMiddleware": 550,
    "crawler.middlewares.blocks.BlockDetectionMiddleware": 560,
    # After HttpCompressionMiddleware (590) has decoded the body, before the block detector
    # reads the page: undeclared or wrongly declared CJK pages are read in their encoding.
    "crawler.middlewares.encoding.EncodingSniffMiddleware": 570,
    # Sees responses before HttpCompressionMiddleware (590) decodes them: the WARC says what
    # Content-Encoding the client removed.
    "crawler.evidence.warc.ContentEncodingRecorder": 595,
}
ITEM_PIPELINES = {
    "pipelines.normalize.NormalizePipeline": 100,
    "pipelines.match.MatchPipeline": 200,
    "pipelines.store.StorePipeline": 400,
    # After store (it needs the listing's row id), before the takedown queue (500) that points
    # requests to evidence by hash: see pipelines/evidence.py.
    "pipelines.evidence.EvidencePipeline": 450,
    "pipelines.identifiers.IdentifierPipeline": 470,  # linked accounts: pipelines/identifiers.py
    "pipelines.licence.LicencePipeline": 455,  # shop-page evidence, licence findings at close
    "pipelines.queue.QueuePipeline": 500,
}
EXTENSIONS = {
    "crawler.extensions.runlog.CrawlRunRecorder": 10,
    "crawler.extensions.progress.ProgressReporter": 20,
    "scrapy.extensions.closespider.CloseSpider": 500,
}

LOG_LEVEL = "INFO"
STATS_DUMP = False
FEED_EXPORT_ENCODING = "utf-8"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"

# -- Reelguard ----------------------------------------------------------------------------
REELGUARD_DATABASE_URL = None  # default sqlite:///var/reelguard.db, env REELGUARD_DATABASE_URL
REELGUARD_ALLOWED_PRIVATE_HOSTS: list[str] = []  # hosts allowed to resolve to private addresses
REELGUARD_MARKETPLACE_URLS: dict[str, str] = {}  # marketplace -> base URL override
REELGUARD_PROFILES = None  # a marketplaces.yaml replacing bundled profiles (env REELGUARD_PROFILES)
REELGUARD_BLOCK_RETRY_TIMES = 4
REELGUARD_BLOCK_BACKOFF = 2.0  # seconds added to the slot's delay at each block, doubled
REELGUARD_MAX_BLOCKED = 200  # stop the crawl after this many block pages (0: never)
REELGUARD_RETRY_AFTER_MAX = 60.0  # never wait longer than this for a Retry-After
REELGUARD_ROBOTS_MAX_CRAWL_DELAY = 30.0  # a longer robots.txt Crawl-delay is capped to this
REELGUARD_FOLLOW_LISTINGS = True  # search/storefront spiders open each listing page
REELGUARD_MAX_SEARCH_PAGES = 20  # pages of results per keyword and marketplace
REELGUARD_MAX_SHOP_PAGES = 50
REELGUARD_BROWSER = "auto"  # auto: only when a page needs JS; always; never
REELGUARD_PROGRESS = False
REELGUARD_MATCHING_CONFIG = None  # path of a matching.yaml (default: crawler/matching/matching.yaml)
REELGUARD_TAKEDOWN_QUEUE = True  # the queue pipeline opens takedown requests (500)
REELGUARD_TAKEDOWN_CONFIG = None  # path of a takedown.yaml (default: crawler/takedown/takedown.yaml)
REELGUARD_EVIDENCE = True  # capture evidence of takedown/review listings (pipelines/evidence.py)
REELGUARD_EVIDENCE_DIR = None  # default var/evidence, env REELGUARD_EVIDENCE_DIR
REELGUARD_EVIDENCE_SCREENSHOT = True  # render + full-page screenshot in a browser page
REELGUARD_LINKING = True  # contact identifiers and image hashes of sellers (pipelines/identifiers.py)
# Investigations: capture every page (every listing, every storefront index page), not only
# takedown/review listings and the first shop page (pipelines/evidence.py, pipelines/licence.py).
REELGUARD_EVIDENCE_ALL = False
REELGUARD_LICENCE_REGISTER = None  # CSV register of publication licences (crawler/licences)

# -- Distributed crawls (crawler/distributed/: `reelguard worker`, `monitor run --distributed`) --
# REDIS_URL (environment or setting; default redis://127.0.0.1:6379/0) is the shared frontier.
REELGUARD_REDIS_PREFIX = "reelguard"  # key prefix of a crawl in Redis
REELGUARD_REDIS_WAIT = 60.0  # seconds a worker rides out a Redis outage before exiting 7
REELGUARD_LEASE_SECONDS = 60.0  # a dead worker's requests return after this (renewed while alive)
REELGUARD_MAX_DELIVERIES = 3  # deliveries without an ack before a request is recorded as failed
REELGUARD_IDLE_TIMEOUT = 10.0  # a worker exits when the whole crawl has been idle this long
