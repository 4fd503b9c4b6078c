"""The repeat-infringer policy: a readable YAML file parsed once into a typed :class:`Policy`.

A policy says what counts against a seller (accepted removals only: a takedown request the
platform accepted and whose listing is confirmed gone, never a mere detection), over which
rolling window, how much each offence weighs, and which total reaches which escalation level:
``watch`` < ``warning`` < ``restriction_request`` < ``termination_request`` <
``law_enforcement_referral`` (shown as "restriction request", "law-enforcement referral").
The referral has its own criteria (copies sold, offences after a termination request) because
it is a different kind of step, not "more strikes".

Two presets ship in ``crawler/sellers/presets/`` (see the README there for what each is
modelled on): ``three_strikes`` (the default) and ``points``. ``load_policy(None)`` gives the
default, ``load_policy("points")`` a preset by name, anything else is read as a file path.

A file that contradicts itself is refused at load with a :class:`ConfigError` naming the file
and the key: thresholds not strictly increasing with the level, an unknown level or offence,
a window that is not a positive number of days, points given to a policy that counts
removals, a referral rule that depends on a level the policy never reaches...

Settings: ``REELGUARD_SELLER_POLICY`` (read by ``crawler.sellers.refresh`` and the CLI's
``--policy``; a preset name or a path).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crawler.exceptions import ConfigError

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
DEFAULT_PRESET = "three_strikes"
ENV_VAR = "REELGUARD_SELLER_POLICY"

LEVELS = (
    "watch",
    "warning",
    "restriction_request",
    "termination_request",
    "law_enforcement_referral",
)
LEVEL_WORDS = {
    "watch": "watch",
    "warning": "warning",
    "restriction_request": "restriction request",
    "termination_request": "termination request",
    "law_enforcement_referral": "law-enforcement referral",
}
OFFENCES = ("disc", "download", "streaming", "other")
UNITS = ("removals", "points")
COUNTS = ("accepted_removals",)

_KEYS = {
    "name",
    "title",
    "description",
    "counts",
    "unit",
    "window_days",
    "points",
    "relisting_points",
    "thresholds",
    "after_window",
    "linked_accounts",
    "referral",
}
_REFERRAL_KEYS = {"copies_sold", "removals_after_termination_request"}


def level_rank(level: str | None) -> int:
    """0 for no level, 1 for ``watch`` ... 5 for a referral (for sorting and comparing)."""
    return 0 if level is None else LEVELS.index(level) + 1


def level_words(level: str | None) -> str:
    return LEVEL_WORDS[level] if level else "none"


def parse_level(text: str) -> str:
    """A level from what a person types: ``termination request``, ``termination_request``,
    ``Termination-Request``; raises ``ValueError`` naming the levels otherwise."""
    key = "_".join(text.strip().lower().replace("-", " ").split())
    if key in ("law_enforcement_referral", "law_enforcement", "referral"):
        return "law_enforcement_referral"
    if key not in LEVELS:
        raise ValueError(
            f"unknown level {text!r}; levels: " + ", ".join(LEVEL_WORDS[lv] for lv in LEVELS)
        )
    return key


@dataclass(frozen=True)
class Referral:
    """When to ask for a law-enforcement referral (any criterion that is set suffices).

    ``copies_sold``: the sales shown on the seller's removed listings add up to at least this
    many copies. ``removals_after_termination_request``: at least this many accepted removals
    of listings first seen after the seller first reached ``termination_request`` (offences
    committed after it, not older listings whose removal came through later).
    """

    copies_sold: int | None = None
    removals_after_termination_request: int | None = None

    @property
    def enabled(self) -> bool:
        return self.copies_sold is not None or self.removals_after_termination_request is not None


@dataclass(frozen=True)
class Policy:
    """A validated repeat-infringer policy (see the module docstring and presets/README.md)."""

    name: str
    source: str
    unit: str  # "removals": every counted removal is 1; "points": per offence
    window_days: int
    thresholds: tuple[tuple[str, int], ...]  # (level, minimum total), in level order
    points: Mapping[str, int] = field(default_factory=dict)
    relisting_points: int = 0
    after_window: str | None = None  # the level of a seller whose removals all aged out
    pool_linked: bool = True
    referral: Referral = field(default_factory=Referral)
    title: str = ""
    description: str = ""
    counts: str = "accepted_removals"

    def weight(self, offence: str, relisting: bool) -> int:
        """What one counted removal adds to the total."""
        if self.unit == "removals":
            return 1
        return self.points.get(offence, self.points.get("other", 0)) + (
            self.relisting_points if relisting else 0
        )

    def threshold(self, level: str) -> int | None:
        return dict(self.thresholds).get(level)

    def level_for(self, total: int) -> str | None:
        """The highest level whose threshold ``total`` reaches (None below the first)."""
        reached = None
        for level, minimum in self.thresholds:
            if total >= minimum:
                reached = level
        return reached

    def next_after(self, level: str | None) -> tuple[str, int] | None:
        """The next threshold above ``level`` (None at the top)."""
        for lv, minimum in self.thresholds:
            if level_rank(lv) > level_rank(level):
                return lv, minimum
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "title": self.title,
            "counts": self.counts,
            "unit": self.unit,
            "window_days": self.window_days,
            "points": dict(self.points),
            "relisting_points": self.relisting_points,
            "thresholds": dict(self.thresholds),
            "after_window": self.after_window,
            "linked_accounts": "pool" if self.pool_linked else "ignore",
            "referral": dataclasses.asdict(self.referral),
        }


def presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def load_policy(name_or_path: str | Path | None = None) -> Policy:
    """The default preset (None or ""), a preset by name, or the policy file at a path."""
    if name_or_path is None or not str(name_or_path).strip():
        return _load_file(PRESETS_DIR / f"{DEFAULT_PRESET}.yaml")
    text = str(name_or_path).strip()
    if isinstance(name_or_path, str) and text in presets():
        return _load_file(PRESETS_DIR / f"{text}.yaml")
    path = Path(text)
    if not path.exists() and path.suffix == "" and "/" not in text and "\\" not in text:
        raise ConfigError(
            f"unknown policy preset {text!r}; presets: {', '.join(presets())} "
            f"(or give the path of a policy file)"
        )
    return _load_file(path)


def _load_file(path: Path) -> Policy:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read policy file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return policy_from_dict(raw, str(path))


def policy_from_dict(raw: Any, source: str = "<dict>") -> Policy:
    """Validate a parsed policy document; every problem names ``source`` and the key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping (name, unit, window_days, thresholds...)")
    unknown = sorted(set(map(str, raw)) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{source}: name: required, a non-empty text")
    counts = raw.get("counts", "accepted_removals")
    if counts not in COUNTS:
        raise ConfigError(
            f"{source}: counts: only 'accepted_removals' is supported (removals "
            f"the platform accepted; detections never count), not {counts!r}"
        )
    unit = raw.get("unit")
    if unit not in UNITS:
        raise ConfigError(f"{source}: unit: expected one of {', '.join(UNITS)}, got {unit!r}")
    window = _int(raw.get("window_days"), f"{source}: window_days", minimum=1)
    points: dict[str, int] = {}
    relisting = 0
    if unit == "points":
        points = _points(raw.get("points"), source)
        relisting = _int(raw.get("relisting_points", 0), f"{source}: relisting_points", minimum=0)
    else:
        for key in ("points", "relisting_points"):
            if raw.get(key) is not None:
                raise ConfigError(
                    f"{source}: {key}: given, but unit is 'removals' (every "
                    f"accepted removal counts 1); use unit: points"
                )
    thresholds = _thresholds(raw.get("thresholds"), source)
    after = raw.get("after_window")
    if after is not None:
        after = _level(after, f"{source}: after_window")
        if level_rank(after) >= level_rank(thresholds[0][0]):
            raise ConfigError(
                f"{source}: after_window: {after} must be below the first threshold's level "
                f"({thresholds[0][0]}): removals that aged out cannot weigh more than current ones"
            )
    linked = raw.get("linked_accounts", "pool")
    if linked not in ("pool", "ignore"):
        raise ConfigError(f"{source}: linked_accounts: expected pool or ignore, got {linked!r}")
    referral = _referral(raw.get("referral"), source, dict(thresholds))
    return Policy(
        name=name.strip(),
        source=source,
        unit=str(unit),
        window_days=window,
        thresholds=thresholds,
        points=points,
        relisting_points=relisting,
        after_window=after,
        pool_linked=linked == "pool",
        referral=referral,
        title=_text(raw.get("title"), f"{source}: title"),
        description=_text(raw.get("description"), f"{source}: description"),
        counts=str(counts),
    )


def _int(value: Any, where: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: expected a whole number >= {minimum}, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{where}: expected a whole number >= {minimum}, got {value}")
    return value


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected text, got {type(value).__name__}")
    return " ".join(value.split())


def _level(value: Any, where: str) -> str:
    if not isinstance(value, str) or value not in LEVELS:
        raise ConfigError(f"{where}: unknown level {value!r}; levels: {', '.join(LEVELS)}")
    return value


def _points(value: Any, source: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ConfigError(
            f"{source}: points: expected a mapping offence -> points "
            f"({', '.join(OFFENCES)}) when unit is points"
        )
    unknown = sorted(set(map(str, value)) - set(OFFENCES))
    if unknown:
        raise ConfigError(
            f"{source}: points: unknown offence(s) {', '.join(unknown)}; "
            f"offences: {', '.join(OFFENCES)}"
        )
    missing = [o for o in OFFENCES if o not in value]
    if missing:
        raise ConfigError(
            f"{source}: points: missing {', '.join(missing)} (every offence "
            f"needs its points, 0 included, so nothing is left implicit)"
        )
    return {o: _int(value[o], f"{source}: points.{o}", minimum=0) for o in OFFENCES}


def _thresholds(value: Any, source: str) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, dict) or not value:
        raise ConfigError(
            f"{source}: thresholds: expected a mapping level -> minimum total, "
            f"levels: {', '.join(LEVELS)}"
        )
    found: dict[str, int] = {}
    for key, minimum in value.items():
        level = _level(key, f"{source}: thresholds")
        found[level] = _int(minimum, f"{source}: thresholds.{level}", minimum=1)
    ordered = tuple((lv, found[lv]) for lv in LEVELS if lv in found)
    for (low, a), (high, b) in itertools.pairwise(ordered):
        if b <= a:
            raise ConfigError(
                f"{source}: thresholds.{high}: {b} is not above "
                f"thresholds.{low} ({a}); each level needs a higher total"
            )
    return ordered


def _referral(value: Any, source: str, thresholds: dict[str, int]) -> Referral:
    if value is None:
        return Referral()
    if not isinstance(value, dict):
        raise ConfigError(
            f"{source}: referral: expected a mapping ({', '.join(sorted(_REFERRAL_KEYS))})"
        )
    unknown = sorted(set(map(str, value)) - _REFERRAL_KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: referral: unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_REFERRAL_KEYS))}"
        )
    copies = value.get("copies_sold")
    after = value.get("removals_after_termination_request")
    if copies is not None:
        copies = _int(copies, f"{source}: referral.copies_sold", minimum=1)
    if after is not None:
        after = _int(after, f"{source}: referral.removals_after_termination_request", minimum=1)
        if "termination_request" not in thresholds:
            raise ConfigError(
                f"{source}: referral.removals_after_termination_request: the "
                f"policy has no thresholds.termination_request to count from"
            )
    return Referral(copies, after)
