"""Project errors: unexpected outcomes that keep their cause, URL and marketplace.

Expected outcomes use Scrapy's vocabulary (``DropItem``, ``IgnoreRequest``, ``CloseSpider``);
these are for what a user must fix or what must not be swallowed. The CLI turns any
:class:`ReelguardError` into one clear line and a non-zero exit code.

No settings affect this module.
"""

from __future__ import annotations


class ReelguardError(Exception):
    """Base of every project error; ``str()`` is the one-line message shown to the user."""

    exit_code = 1


class ConfigError(ReelguardError):
    """Bad or contradictory configuration (settings, ``monitor.yaml``, command options)."""

    exit_code = 2


class UnknownMarketplace(ConfigError):
    """A marketplace name that no page-object bundle or profile knows."""


class CatalogError(ReelguardError):
    """A catalogue or authorised-sellers file that cannot be imported; lists every problem."""

    exit_code = 3

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        shown = "; ".join(problems[:20])
        more = f" (+{len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(f"{path}: refused, {len(problems)} problem(s): {shown}{more}")


class StorageError(ReelguardError):
    """The database is unreachable, locked beyond the timeout, or not migrated."""

    exit_code = 4


class UnreachableSite(ReelguardError):
    """A marketplace that cannot be reached at all (refused, DNS, timeout on the first page)."""

    exit_code = 5

    def __init__(self, marketplace: str, url: str, cause: str) -> None:
        self.marketplace = marketplace
        self.url = url
        self.cause = cause
        super().__init__(f"{marketplace}: cannot reach {url}: {cause}")


class ExtractionError(ReelguardError):
    """A page whose layout the page objects do not recognise."""

    def __init__(self, marketplace: str, url: str, detail: str) -> None:
        self.marketplace = marketplace
        self.url = url
        super().__init__(f"{marketplace}: unrecognised page at {url}: {detail}")


class CrawlFailed(ReelguardError):
    """A crawl that fetched nothing or was mostly blocked (judged after the run)."""

    exit_code = 6


class EvidenceError(ReelguardError):
    """Evidence that cannot be exported or found (an unknown request, a tampered artefact)."""

    exit_code = 1


class UnknownSeller(ConfigError):
    """A seller the marketplace does not know (its storefront is missing, e.g. HTTP 404)."""

    def __init__(self, marketplace: str, seller: str, detail: str) -> None:
        self.marketplace = marketplace
        self.seller = seller
        super().__init__(f"{marketplace}: no seller {seller!r}: {detail}")


class StorefrontBlocked(CrawlFailed):
    """A storefront served only login walls, captchas or rate-limit pages."""

    def __init__(self, marketplace: str, seller: str, detail: str) -> None:
        self.marketplace = marketplace
        self.seller = seller
        super().__init__(f"{marketplace}: the storefront of {seller!r} is blocked: {detail}")


class LicenceRegisterError(CatalogError):
    """A licence register file (CSV) that cannot be loaded; lists every problem by line.

    Exit code 3, like every refused input file (catalogue, authorised sellers, register).
    """


class RedisUnavailable(ReelguardError):
    """The shared frontier (Redis) stayed unreachable longer than ``REELGUARD_REDIS_WAIT``.

    Exit code 7. A worker that exits with it has lost nothing: its in-flight requests are
    leased and go back to the frontier when the leases expire (``crawler.distributed``).
    """

    exit_code = 7

    def __init__(self, url: str, waited: float, cause: str) -> None:
        self.url = url
        super().__init__(f"Redis at {url} unreachable for {waited:.0f} s "
                         f"(REELGUARD_REDIS_WAIT): {cause}")
