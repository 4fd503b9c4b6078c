"""Failed sign-ins are limited, so passwords cannot be guessed at the speed of the server.

A sliding window per user name and per client address: after ``MAX_FAILURES`` failed attempts
within ``WINDOW_S`` seconds, further attempts on that name (or from that address) are refused
with 429 until the oldest failure leaves the window, whether the password is right or not (a
guesser must not learn that it found it). A successful sign-in clears the name's failures. The
state is in the server's memory: a restart forgets it, and each server process counts its own.

No settings affect this module.
"""

from __future__ import annotations

import threading
import time
from collections import deque

MAX_FAILURES = 5
WINDOW_S = 15 * 60.0


class SignInThrottle:
    """Failures per key (``user:<name>``, ``addr:<ip>``) within the window."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(username: str, address: str | None) -> list[str]:
        return [f"user:{username.strip().lower()}"] + ([f"addr:{address}"] if address else [])

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def wait_s(self, keys: list[str], now: float | None = None) -> float:
        """Seconds before these keys may try again (0: now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            waits = [self.window_s - (now - times[0]) for key in keys
                     if len(times := self._recent(key, now)) >= self.max_failures]
        return max(waits, default=0.0)

    def failed(self, keys: list[str], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in keys:
                self._recent(key, now)
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(self.keys(username, None)[0], None)
