"""Listing matching: which catalogue title a marketplace listing offers, and what to do about it.

``MatchEngine`` (:mod:`crawler.matching.engine`) decides ``takedown`` / ``review`` / ``none``
with explainable signals; ``reelguard match`` (:mod:`crawler.matching.cli`) runs it on a
JSON-lines file. Weights, thresholds and term lexicons live in ``matching.yaml`` and
``lexicon.yaml`` next to this file.

Settings: ``--config`` (the matching configuration file).
"""

from __future__ import annotations

from crawler.matching.decide import Decision, Signal
from crawler.matching.engine import ListingError, MatchEngine

__all__ = ["Decision", "ListingError", "MatchEngine", "Signal"]
