"""Whether a listing sells a physical disc, with the matching engine's own vocabulary.

A shop needs a publication licence (出版物经营许可证) to sell audio-visual products on physical
media; a shop that only sells downloads, accounts, posters or toys is not in scope of the licence
check. A listing is a *disc listing* when the matching lexicon (``crawler/matching/lexicon.yaml``
through :func:`crawler.matching.offer.classify`) reads its title as a copy of a work with a disc
word (DVD, Blu-ray, 蓝光, 光盘, 碟片, 4K UHD, D9, BD50…) and

* no download, cloud-drive or streaming word (``蓝光原盘 百度网盘`` is a file, not a disc),
* no unrelated-goods word (a DVD *player*, blank discs, storage cases),
* a disc word other than a storage carrier alone (a ``U盘`` or a ``车载`` stick is not a disc).

Only the title is read: it is what the listing offers; descriptions mention everything.
Titles are cut at the engine's ``MAX_TITLE`` characters.

Settings: none (the bundled matching configuration's lexicon).
"""

from __future__ import annotations

import functools

from crawler.matching.config import MatchConfig
from crawler.matching.engine import MAX_TITLE
from crawler.matching.normalize import normalize, normalize_text
from crawler.matching.offer import Lexicon, classify

# Disc-category words that name a storage carrier rather than a disc.
CARRIER_WORDS = ("u盘", "优盘", "usb drive", "usb stick", "flash drive", "车载")
NOT_A_DISC_CATEGORIES = ("digital", "stream", "unrelated")


@functools.cache
def _lexicon() -> tuple[Lexicon, frozenset[str]]:
    carriers = frozenset(normalize_text(word) for word in CARRIER_WORDS)
    return Lexicon(MatchConfig.load()), carriers


def disc_terms(title: str | None) -> list[str]:
    """The disc words that make ``title`` a disc listing; empty when it is not one."""
    if not title:
        return []
    lexicon, carriers = _lexicon()
    offer = classify(lexicon.scan(normalize(title[:MAX_TITLE]).text))
    if offer.kind != "copy" or any(offer.has(c) for c in NOT_A_DISC_CATEGORIES):
        return []
    return [term for term in offer.terms.get("disc", []) if term not in carriers]


def is_disc_listing(title: str | None) -> bool:
    return bool(disc_terms(title))
