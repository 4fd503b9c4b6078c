"""How Reelguard launches a browser: Debian's chromium by path, headless, quiet.

Playwright's own browser download does not work on these machines, so the executable is always
given. Settings: ``REELGUARD_CHROMIUM_PATH`` (Scrapy setting or environment variable, default
``/usr/bin/chromium``).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

DEFAULT_CHROMIUM_PATH = "/usr/bin/chromium"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]


def chromium_path(configured: str | None = None) -> str:
    """The chromium executable: the configured path, ``$REELGUARD_CHROMIUM_PATH``, or the default."""
    path = configured or os.environ.get("REELGUARD_CHROMIUM_PATH") or DEFAULT_CHROMIUM_PATH
    if not os.path.exists(path):
        found = shutil.which("chromium") or shutil.which("chromium-browser")
        if found:
            return found
    return path


def launch_options(configured_path: str | None = None) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch``."""
    return {
        "executable_path": chromium_path(configured_path),
        "headless": True,
        "args": list(CHROMIUM_ARGS),
    }
