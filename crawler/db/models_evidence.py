"""Storage models for the evidence part of Reelguard (issue 4); see crawler/db/models.py for the rules.

No settings affect this module.
"""

from __future__ import annotations
