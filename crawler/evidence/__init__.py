"""Evidence (issue 4): what a listing looked like at the moment of the crawl, provably.

* ``store``   content-addressed, write-once artefact files (``sha256/ab/cd/<hex>``)
* ``warc``    the raw HTTP exchange as WARC/1.1 records (warcio)
* ``capture`` a crawled listing (or a person-supplied saved page) -> artefacts -> chain
* ``chain``   the append-only, hash-chained log (table ``evidence``)
* ``verify``  re-hash every artefact, walk the chain, check every WARC's own digests
* ``export``  a self-contained WACZ package anyone can verify with ``sha256sum``

Settings: ``REELGUARD_EVIDENCE_DIR`` (see ``store``), ``REELGUARD_EVIDENCE`` (see
``pipelines/evidence.py``).
"""
