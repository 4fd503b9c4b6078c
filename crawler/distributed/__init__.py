"""Distributed crawls: many workers on many machines share one frontier in Redis.

The frontier and duplicate filter are scrapy-redis's (pinned 0.9.1), extended where stock
scrapy-redis loses work: a popped request is not deleted but *leased* (``queue``), and the
lease is acknowledged only once everything the request produced is committed to PostgreSQL
(``tracking``). A worker killed with SIGKILL leaves its leases in the processing set; they
expire and any other worker re-queues them (``reclaim``).

Modules: ``connection`` (Redis client with a bounded wait), ``queue`` (the leased queue and
its Lua scripts), ``scheduler`` (scrapy-redis's scheduler on that queue), ``tracking`` (which
request an item came from; ack after commit; heartbeat, reclaim and idle close), ``seed``
(the crawl's description and its start requests), ``phases`` (a run's next phase, seeded
once by the worker that sees the previous one complete), ``worker`` (``reelguard worker``),
``coordinator`` (``reelguard monitor run --distributed``).

Settings: ``REDIS_URL``, ``REELGUARD_REDIS_PREFIX``, ``REELGUARD_REDIS_WAIT``,
``REELGUARD_LEASE_SECONDS``, ``REELGUARD_MAX_DELIVERIES``, ``REELGUARD_IDLE_TIMEOUT``.
"""
