"""Reelguard: anti-piracy monitoring of online marketplaces (core package)."""

__version__ = "0.1.0"
