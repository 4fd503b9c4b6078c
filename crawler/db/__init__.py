"""Durable storage: models (``models``), engines/sessions/migrations (``session``), data
functions (``repo``) and storage errors (``errors``). See ``crawler.db.session`` for settings.
"""
