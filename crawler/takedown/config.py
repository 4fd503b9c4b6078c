"""Who files notices for each member: ``takedown.yaml`` parsed once into typed objects.

Per member: the rights holder's legal name and address, the agent's name, e-mail, postal address
and phone, the signature, the good-faith and accuracy statements, and whether ``takedown``
decisions are approved without a person (``auto_approve_takedown``). ``defaults`` fill what a
member does not say. A malformed file is refused at load with a message naming the key.

Settings: ``REELGUARD_TAKEDOWN_CONFIG`` (environment; path of a takedown.yaml, default the
bundled ``crawler/takedown/takedown.yaml``) or ``--config``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crawler.exceptions import ConfigError

DEFAULT_PATH = Path(__file__).resolve().parent / "takedown.yaml"
ENV_VAR = "REELGUARD_TAKEDOWN_CONFIG"


@dataclass(frozen=True)
class Agent:
    name: str = ""
    email: str = ""
    address: str = ""
    phone: str = ""


@dataclass(frozen=True)
class MemberConfig:
    """Everything a notice needs to say about the member it is filed for."""

    member: str
    legal_name: str = ""
    address: str = ""
    email: str = ""
    signature: str = ""
    agent: Agent = field(default_factory=Agent)
    good_faith_statement: str = ""
    accuracy_statement: str = ""
    auto_approve_takedown: bool = False


@dataclass(frozen=True)
class TakedownConfig:
    path: str
    members: dict[str, MemberConfig]
    defaults: MemberConfig

    def member(self, name: str) -> MemberConfig:
        """The member's settings; an unknown member gets the defaults (and no legal name, so
        the pre-filing check refuses its notices instead of guessing)."""
        found = self.members.get(name)
        if found is not None:
            return found
        return MemberConfig(
            member=name,
            agent=self.defaults.agent,
            good_faith_statement=self.defaults.good_faith_statement,
            accuracy_statement=self.defaults.accuracy_statement,
            auto_approve_takedown=False,
        )

    def auto_approves(self, member: str) -> bool:
        return self.member(member).auto_approve_takedown

    @classmethod
    def load(cls, path: str | Path | None = None) -> TakedownConfig:
        chosen = Path(path or os.environ.get(ENV_VAR) or DEFAULT_PATH)
        try:
            raw = yaml.safe_load(chosen.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"cannot read takedown config {chosen}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{chosen}: not valid YAML: {exc}") from exc
        return cls.from_dict(raw, str(chosen))

    @classmethod
    def from_dict(cls, raw: Any, path: str = "<dict>") -> TakedownConfig:
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping with 'members'")
        unknown = set(raw) - {"defaults", "members"}
        if unknown:
            raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
        base = _section(raw.get("defaults") or {}, f"{path}: defaults")
        defaults = _member("*", base, {}, f"{path}: defaults")
        members_raw = raw.get("members") or {}
        if not isinstance(members_raw, dict):
            raise ConfigError(f"{path}: 'members' must map member names to settings")
        members = {
            str(name): _member(str(name), _section(body or {}, f"{path}: {name}"), base,
                               f"{path}: members.{name}")
            for name, body in members_raw.items()
        }
        return cls(path=path, members=members, defaults=defaults)


_MEMBER_KEYS = {
    "legal_name", "address", "email", "signature", "agent", "good_faith_statement",
    "accuracy_statement", "auto_approve_takedown",
}
_AGENT_KEYS = {"name", "email", "address", "phone"}


def _section(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = set(value) - _MEMBER_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    return value


def _str(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ConfigError(f"{where}: expected text, got {type(value).__name__}")
    return " ".join(str(value).split())


def _member(name: str, body: dict[str, Any], base: dict[str, Any], where: str) -> MemberConfig:
    merged = {**base, **body}
    agent_raw = {**(base.get("agent") or {}), **(body.get("agent") or {})}
    unknown = set(agent_raw) - _AGENT_KEYS
    if unknown:
        raise ConfigError(f"{where}.agent: unknown key(s) {', '.join(sorted(unknown))}")
    auto = merged.get("auto_approve_takedown", False)
    if not isinstance(auto, bool):
        raise ConfigError(f"{where}.auto_approve_takedown: expected true or false, got {auto!r}")
    return MemberConfig(
        member=name,
        legal_name=_str(merged.get("legal_name"), f"{where}.legal_name"),
        address=_str(merged.get("address"), f"{where}.address"),
        email=_str(merged.get("email"), f"{where}.email"),
        signature=_str(merged.get("signature"), f"{where}.signature"),
        agent=Agent(**{k: _str(agent_raw.get(k), f"{where}.agent.{k}") for k in _AGENT_KEYS}),
        good_faith_statement=_str(merged.get("good_faith_statement"),
                                  f"{where}.good_faith_statement"),
        accuracy_statement=_str(merged.get("accuracy_statement"), f"{where}.accuracy_statement"),
        auto_approve_takedown=auto,
    )
