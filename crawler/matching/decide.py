"""Signals to decision: ``takedown``, ``review`` or ``none``, with every reason shown.

Each signal has a name, a weight from the configuration and the listing text that triggered
it. ``score`` is the sum of the weights, clipped to 0..1. ``takedown`` needs the takedown
threshold *and* an offer that is a copy of the work (a disc, file, link, account or at least
format words); ``review`` needs the review threshold. A seller authorised for the matched
title's member is never queued, whatever else the listing says.

Settings: ``weights``, ``thresholds``, ``prices`` and ``pre_release`` of the matching
configuration (:mod:`crawler.matching.config`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from crawler.matching.candidate import Candidate
from crawler.matching.config import MatchConfig
from crawler.matching.evasion import Fold
from crawler.matching.offer import Offer
from crawler.matching.score import Analysis

TAKEDOWN = "takedown"
REVIEW = "review"
NONE = "none"


@dataclass(slots=True)
class Signal:
    name: str
    weight: float
    evidence: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "weight": self.weight, "evidence": self.evidence}


@dataclass(slots=True)
class Decision:
    """The engine's verdict on one listing (the ``reelguard match`` output line)."""

    id: str
    decision: str
    catalog_id: str | None = None
    catalog_ids: list[str] = field(default_factory=list)
    member: str | None = None
    score: float = 0.0
    signals: list[Signal] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "decision": self.decision,
            "catalog_id": self.catalog_id,
            "catalog_ids": list(self.catalog_ids),
            "member": self.member,
            "score": self.score,
            "signals": [s.as_dict() for s in self.signals],
        }


@dataclass(slots=True)
class SellerStatus:
    """Whether the listing's seller is on the authorised list, and for which members."""

    authorised_for: frozenset[str]


def decide(listing_id: str, analysis: Analysis, offer: Offer, folds: tuple[Fold, ...] = (), *,
           config: MatchConfig,
           seller: str | None, seller_status: SellerStatus, price: float | None,
           currency: str | None, today: dt.date) -> Decision:
    if not analysis.accepted:
        return _no_match(listing_id, analysis)
    w = config.weights
    cands = analysis.accepted
    primary = max(cands, key=lambda c: (c.strength, -c.start))
    title = primary.title
    signals: list[Signal] = []
    add = signals.append

    how = "misspelt" if primary.fuzzy is not None else "found"
    detail = f", similarity {primary.fuzzy:g}" if primary.fuzzy is not None else ""
    add(Signal("title_match", _r(w["title_match"] * primary.strength),
               f'{how} "{primary.matched}" = {title.title} ({title.id}), '
               f"strength {primary.strength:.2f}{detail}"))
    if primary.ambiguous:
        add(Signal("ambiguous_title", 0.0,
                   f'"{primary.matched}" is also {", ".join(primary.ambiguous)}; '
                   f"chose {title.id} ({config.ambiguous_prefer})"))
    for how in _normalisations(primary, folds):
        add(Signal("normalised", 0.0, how))
    if primary.year_match is not None:
        add(Signal("year_match", w["year_match"], str(primary.year_match)))
    if primary.season is not None:
        add(Signal("season", 0.0, f"season {primary.season}"))

    kind = offer.kind
    if kind == "copy":
        words = offer.all_terms("disc", "digital", "stream", "bootleg")
        add(Signal("offer_copy", w["offer_copy"], ", ".join(_uniq(words)[:6])))
        if offer.has("unrelated"):
            add(Signal("unrelated_terms", w["unrelated_terms"],
                       ", ".join(_uniq(offer.all_terms("unrelated"))[:4])))
    elif kind == "quality":
        add(Signal("offer_quality_only", w["offer_quality_only"],
                   ", ".join(_uniq(offer.all_terms("quality", "collection"))[:6])))
    elif kind == "goods":
        add(Signal("offer_goods", w["offer_goods"],
                   ", ".join(_uniq(offer.all_terms("merch", "book", "soundtrack", "game"))[:6])))
    elif kind == "unrelated":
        add(Signal("offer_unrelated", w["offer_unrelated"],
                   ", ".join(_uniq(offer.all_terms("unrelated"))[:6])))
    elif kind == "unknown":
        add(Signal("offer_unknown", w["offer_unknown"],
                   "no word says what is sold (disc, file, goods...)"))
    copyish = kind in ("copy", "quality")
    if copyish and offer.has("bootleg"):
        add(Signal("bootleg_terms", w["bootleg_terms"],
                   ", ".join(_uniq(offer.all_terms("bootleg"))[:6])))
    if len(cands) > 1 or analysis.ranges or offer.has("collection"):
        parts = []
        if len(cands) > 1:
            parts.append(f"{len(cands)} titles: " + ", ".join(c.title.id for c in cands))
        parts.extend(analysis.ranges[:2])
        parts.extend(_uniq(offer.all_terms("collection"))[:3])
        add(Signal("collection", w["collection"] if copyish else 0.0, "; ".join(parts)))
    if offer.has("official"):
        add(Signal("official_claim", w["official_claim"],
                   ", ".join(_uniq(offer.all_terms("official"))[:3])))

    product = _product_veto(primary, offer)
    if product:
        add(Signal("product_category", w["product_category"], product))
    elif primary.key.short and not _corroborated(primary, analysis, offer):
        add(Signal("everyday_title_alone", w["everyday_title_alone"],
                   f'"{primary.matched}" is an everyday word or very short title, with no film, '
                   f"format or year next to it"))

    low = _low_price(price, currency, title.member, title.kind, config)
    if low is not None and kind not in ("goods", "unrelated"):
        add(Signal("low_price", w["low_price"], low))

    if config.pre_release and copyish:
        pre = _pre_release(cands, today)
        if pre:
            add(Signal("pre_release", w["pre_release"], pre))

    authorised_here = title.member in seller_status.authorised_for
    if authorised_here:
        add(Signal("authorised_seller", -1.0,
                   f"{seller} is authorised by {title.member}: never queued"))
    elif seller_status.authorised_for:
        add(Signal("seller_authorised_other", w["seller_authorised_other"],
                   f"{seller} is authorised by {', '.join(sorted(seller_status.authorised_for))}, "
                   f"not by {title.member}"))
    else:
        add(Signal("unauthorised_seller", w["unauthorised_seller"],
                   f"{seller or 'unknown seller'} is not authorised by {title.member}"))

    score = _r(max(0.0, min(1.0, sum(s.weight for s in signals))))
    by_sound = primary.how is not None and primary.how.startswith("pinyin")
    # A title met by its sound alone is a guess among homophones: a copy must be on offer,
    # and only disc, bootleg or file/link words make it certain enough to take down.
    sure = not by_sound or offer.has("bootleg") or offer.has("disc") or offer.has("digital")
    if authorised_here or (by_sound and not copyish):
        verdict = NONE
        score = 0.0 if authorised_here else score
    elif score >= config.thresholds["takedown"] and copyish and sure:
        verdict = TAKEDOWN
    elif score >= config.thresholds["review"]:
        verdict = REVIEW
    else:
        verdict = NONE
    ids = [c.title.id for c in cands]
    if primary.title.id in ids:
        ids.remove(primary.title.id)
    return Decision(listing_id, verdict, title.id, [title.id, *ids], title.member, score, signals)


def _normalisations(cand: Candidate, folds: tuple[Fold, ...]) -> list[str]:
    """What undoing an evasion did to the matched text ("confusable: ... -> ...")."""
    out = [cand.how] if cand.how else []
    matched = cand.matched.replace(" ", "")
    for fold in folds:
        after = fold.after.lower().replace(" ", "")
        if after and (after in matched or matched in after
                      or any(w in matched for w in fold.after.lower().split() if len(w) >= 3)):
            out.append(fold.describe())
    return list(dict.fromkeys(out))[:4]


def _no_match(listing_id: str, analysis: Analysis) -> Decision:
    signals: list[Signal] = []
    rej = analysis.rejected
    if rej is not None:
        if rej.sequel_mismatch is not None:
            signals.append(Signal("sequel_mismatch", 0.0,
                                  f'"{rej.matched} {rej.sequel_mismatch}" is not {rej.title.title} '
                                  f"({rej.title.id})"))
        elif rej.extended is not None:
            signals.append(Signal("title_extended", 0.0,
                                  f'"{rej.extended}" is longer than {rej.title.title} '
                                  f"({rej.title.id}): another title"))
        elif rej.year_mismatch is not None:
            signals.append(Signal("year_mismatch", 0.0,
                                  f'"{rej.matched}" {rej.year_mismatch} is not {rej.title.title} '
                                  f"{rej.title.year} ({rej.title.id})"))
        else:
            signals.append(Signal("weak_title_match", 0.0,
                                  f'"{rej.matched}" ~ {rej.title.title} ({rej.title.id}), '
                                  f"strength {rej.strength:.2f} below the minimum"))
    return Decision(listing_id, NONE, None, [], None, 0.0, signals)


def _corroborated(cand: Candidate, analysis: Analysis, offer: Offer) -> bool:
    if cand.year_match is not None or analysis.seasons or analysis.ranges:
        return True
    if len(analysis.accepted) > 1:
        return True
    # A subscription, an account or a "pack" says nothing of a film by itself ("The Times
    # subscription", "Up & Go 6 pack"): disc, file, bootleg, format or film words do.
    film = ("disc", "digital", "bootleg", "quality", "context")
    packs = [t for t in offer.all_terms("collection") if not t.endswith("pack")
             and t != "bundle"]
    return any(offer.has(c) for c in film) or bool(packs)


def _product_veto(cand: Candidate, offer: Offer) -> str | None:
    """Product words next to a title a phrase could contain, with nothing saying "film"."""
    if not offer.has("product") or offer.has("disc") or offer.has("bootleg"):
        return None
    if not (cand.key.short or cand.key.specificity < 0.8 or cand.how):
        return None
    words = ", ".join(_uniq(offer.all_terms("product"))[:4])
    return f'"{cand.matched}" next to {words}: a product named with a phrase, not the film'



def _low_price(price: float | None, currency: str | None, member: str, kind: str,
               config: MatchConfig) -> str | None:
    if price is None or currency is None or price <= 0:
        return None
    cur = currency.upper()
    normal = config.member_prices.get(member, {}).get(cur) or config.normal_prices.get(cur)
    if not normal:
        return None
    if kind == "series":
        normal *= config.series_price_factor
    limit = normal * config.low_price_ratio
    if price < limit:
        return f"{price:g} {cur} < {config.low_price_ratio:g} x normal {normal:g} {cur}"
    return None


def _pre_release(cands: list[Candidate], today: dt.date) -> str | None:
    for c in cands:
        t = c.title
        home = t.home_release_date
        if home is not None and home > today:
            return f"{t.title}: home release {home.isoformat()} is after {today.isoformat()}"
        if home is None and t.release_date is not None and t.release_date > today:
            return f"{t.title}: released {t.release_date.isoformat()}, after {today.isoformat()}"
        if home is None and t.release_date is None and t.year is not None and t.year > today.year:
            return f"{t.title}: a {t.year} title, not released yet"
    return None


def _uniq(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _r(value: float) -> float:
    return round(value, 3)
