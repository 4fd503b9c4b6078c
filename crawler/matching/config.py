"""The matching configuration: weights, thresholds, prices and the term lexicon, parsed once.

``MatchConfig.load(path)`` reads ``crawler/matching/matching.yaml`` (the documented default)
and, when ``path`` is given, the monitoring team's copy on top of it: keys left out keep their
default values. Contradictions (review threshold above takedown, weights outside -1..1, an
unknown key, a lexicon category with an unknown offer kind) are refused at start-up with a
:class:`crawler.exceptions.ConfigError` naming the file and the key.

Settings: the ``--config`` option of ``reelguard match`` (or ``MatchEngine(config=...)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crawler.exceptions import ConfigError

DEFAULT_CONFIG = Path(__file__).with_name("matching.yaml")
OFFER_KINDS = ("copy", "bootleg", "quality", "collection", "goods", "unrelated", "official",
               "context", "noise", "bonus", "negation", "sequel", "product")
WEIGHT_NAMES = (
    "title_match", "year_match", "year_mismatch", "sequel_mismatch", "offer_copy",
    "offer_quality_only", "offer_goods", "offer_unrelated", "unrelated_terms", "bootleg_terms",
    "collection", "low_price", "unauthorised_seller", "pre_release", "official_claim",
    "everyday_title_alone", "seller_authorised_other", "offer_unknown", "product_category",
)
THRESHOLD_NAMES = ("takedown", "review", "min_match", "fuzzy_latin", "fuzzy_cjk")


@dataclass(frozen=True)
class LexiconCategory:
    name: str
    offer: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class MatchConfig:
    """Everything the engine reads from configuration, validated."""

    weights: dict[str, float]
    thresholds: dict[str, float]
    categories: tuple[LexiconCategory, ...]
    everyday_titles: tuple[str, ...]
    normal_prices: dict[str, float]
    member_prices: dict[str, dict[str, float]]
    low_price_ratio: float
    series_price_factor: float
    pre_release: bool
    ambiguous_prefer: str
    source: str = field(default=str(DEFAULT_CONFIG))

    @classmethod
    def load(cls, path: str | Path | None = None) -> MatchConfig:
        base = _read_yaml(DEFAULT_CONFIG)
        source = str(DEFAULT_CONFIG)
        lexicon_dir = DEFAULT_CONFIG.parent
        if path is not None:
            path = Path(path)
            user = _read_yaml(path)
            unknown = sorted(set(user) - set(base))
            if unknown:
                raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}")
            base = _merge(base, user)
            source = str(path)
            if "lexicon" in user:
                lexicon_dir = path.parent
        lexicon_path = lexicon_dir / str(base.get("lexicon") or "lexicon.yaml")
        return cls._from_dict(base, _read_yaml(lexicon_path), source, str(lexicon_path))

    @classmethod
    def _from_dict(cls, raw: dict[str, Any], lexicon: dict[str, Any], source: str,
                   lexicon_source: str) -> MatchConfig:
        problems: list[str] = []
        weights = _numbers(raw.get("weights"), WEIGHT_NAMES, "weights", problems)
        for name, value in weights.items():
            if not -1.0 <= value <= 1.0:
                problems.append(f"weights.{name} = {value} is outside -1..1")
        thresholds = _numbers(raw.get("thresholds"), THRESHOLD_NAMES, "thresholds", problems)
        if thresholds.get("review", 0) > thresholds.get("takedown", 1):
            problems.append("thresholds.review is above thresholds.takedown")
        for name in ("takedown", "review", "min_match"):
            if not 0.0 <= thresholds.get(name, 0) <= 1.0:
                problems.append(f"thresholds.{name} must be within 0..1")
        for name in ("fuzzy_latin", "fuzzy_cjk"):
            if not 50 <= thresholds.get(name, 100) <= 100:
                problems.append(f"thresholds.{name} must be within 50..100")
        prices = raw.get("prices") or {}
        normal = {str(k).upper(): float(v) for k, v in (prices.get("normal") or {}).items()}
        members = {str(m): {str(k).upper(): float(v) for k, v in (p or {}).items()}
                   for m, p in (prices.get("members") or {}).items()}
        ratio = float(prices.get("low_price_ratio", 0.4))
        if not 0 < ratio < 1:
            problems.append("prices.low_price_ratio must be between 0 and 1")
        prefer = str(raw.get("ambiguous_prefer", "newest"))
        if prefer not in ("newest", "oldest"):
            problems.append("ambiguous_prefer must be newest or oldest")
        categories: list[LexiconCategory] = []
        for name, spec in (lexicon.get("categories") or {}).items():
            offer = str((spec or {}).get("offer", ""))
            if offer not in OFFER_KINDS:
                problems.append(f"{lexicon_source}: category {name}: unknown offer {offer!r}")
                continue
            terms = tuple(str(t) for t in (spec.get("terms") or []) if str(t).strip())
            categories.append(LexiconCategory(str(name), offer, terms))
        if problems:
            raise ConfigError(f"{source}: " + "; ".join(problems))
        return cls(
            weights=weights, thresholds=thresholds, categories=tuple(categories),
            everyday_titles=tuple(str(t) for t in lexicon.get("everyday_titles") or ()),
            normal_prices=normal, member_prices=members, low_price_ratio=ratio,
            series_price_factor=float(prices.get("series_factor", 2.0)),
            pre_release=bool((raw.get("pre_release") or {}).get("enabled", True)),
            ambiguous_prefer=prefer, source=source,
        )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of keys to values")
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = _merge(base[key], value)
        else:
            out[key] = value
    return out


def _numbers(section: Any, names: tuple[str, ...], label: str,
             problems: list[str]) -> dict[str, float]:
    if not isinstance(section, dict):
        problems.append(f"{label} must be a mapping")
        return {}
    out: dict[str, float] = {}
    for key, value in section.items():
        if key not in names:
            problems.append(f"{label}.{key} is not a known {label[:-1]}")
            continue
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            problems.append(f"{label}.{key} = {value!r} is not a number")
    for name in names:
        if name not in out and name in section:
            continue
        if name not in section:
            problems.append(f"{label}.{name} is missing")
    return out
