"""Alembic migrations for Reelguard (a package so that the revisions ship in the wheel)."""
