"""The takedown queue (issue 4): requests per (member, listing), notices, submission, follow-up.

``models`` live in ``crawler.db.models_takedown``; ``states`` is the state machine and audit
log, ``queue`` enqueues and claims, ``notices`` builds batches and checks them before filing,
``export`` writes them as JSON/CSV, ``submit`` files them with a marketplace's intake,
``followup`` checks what happened, ``report`` sums it up, ``cli`` is ``reelguard takedown``.

Settings: ``REELGUARD_TAKEDOWN_CONFIG`` (see ``crawler.takedown.config``).
"""
