"""Alembic revisions, linear: 0001_initial, then 0002_..., each revising the previous one."""
