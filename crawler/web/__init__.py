"""The review dashboard (``reelguard serve``): queue, request, seller, runs and overview pages.

Server-rendered (Starlette + Jinja2, autoescaped for every template), signed-in users only,
each scoped to one member's requests (``crawler.web.scope``) or an administrator.
"""
