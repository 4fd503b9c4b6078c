"""Monitoring jobs: one pass now (``runner``), passes on a cron schedule (``schedule``)."""
