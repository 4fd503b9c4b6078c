"""What each dashboard page reads: one module per page, every query through ``crawler.web.scope``."""
