"""Page handlers, one module per area; each starts with ``current_user`` and reads through
``crawler.web.scope`` (via ``crawler.web.queries``)."""
