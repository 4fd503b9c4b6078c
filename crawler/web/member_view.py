"""A member's own part of a decision that concerns several members: the one filter every page
and download of the dashboard applies to decision data before a member's user sees it.

A listing is decided once against every member's catalogue (``pipelines.match``): a collection
naming a Warner and a Universal work gives one decision whose ``catalog_ids``, signals
(``title_match``, ``collection``, ``ambiguous_title``, ``pre_release``, ``unauthorised_seller``
…) and ``member_catalog_ids`` name both members' works, and that decision is stored as it is in
``matches`` (one row per member) and in the ``decision`` evidence artefact. The row filters of
``crawler.web.scope`` decide *which* rows a user sees; :class:`MemberView` decides what of a
visible decision they see:

* another member's catalogue ids and names are dropped from id lists and from keys
  (``member_catalog_ids``, ``members``, ``catalog_ids``);
* in any text (a signal's evidence, any other string) another member's catalogue ids and titles
  become ``[another member's work]`` and another member's name ``[another member]``; the user's
  own ids, titles and name are kept, also where they contain one of those;
* numbers (weights, score) and everything else stay, so the signals still add up;
* an administrator sees everything unchanged.

Whose a work is comes from ``catalog_titles``: every catalogue id the decision mentions
anywhere (its lists, its keys, its text: an ambiguous title names ids outside the lists), plus
the ids and members the decision itself declares (an id no longer in the catalogue that is not
the user's own counts as another member's).

:func:`member_artefact` serves a ``decision`` artefact to a member: the stored bytes when
nothing in them is another member's (so its SHA-256 still checks), else the member's view of
it, marked as such.

No settings affect this module. Data functions take a session and never commit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import literal, or_, select
from sqlalchemy.orm import Session

from crawler.db.models import CatalogTitle
from crawler.evidence.chain import canonical_json
from crawler.web.users import Principal

WORK = "[another member's work]"
MEMBER = "[another member]"
# Artefact kinds holding a decision (JSON): served to a member through the view.
DECISION_KINDS = frozenset({"decision"})
ID_KEYS = ("catalog_id", "catalog_ids")
MEMBER_KEYS = ("member", "members")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _declared(value: Any, ids: dict[str, str | None], members: set[str]) -> None:
    """Catalogue ids (with their member when the decision says it) and member names that
    ``value`` names in its structure."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "member_catalog_ids" and isinstance(item, dict):
                for member, member_ids in item.items():
                    members.add(str(member))
                    for cid in member_ids or []:
                        ids[str(cid)] = str(member)
            elif key in ID_KEYS:
                for cid in item if isinstance(item, list) else [item]:
                    if isinstance(cid, str):
                        ids.setdefault(cid, None)
            elif key in MEMBER_KEYS:
                members.update(m for m in (item if isinstance(item, list) else [item])
                               if isinstance(m, str))
            else:
                _declared(item, ids, members)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _declared(item, ids, members)


def _pattern(tokens: Iterable[str]) -> re.Pattern[str] | None:
    parts = []
    for token in sorted(filter(None, tokens), key=len, reverse=True):  # the longest wins
        # A Latin word is matched whole ("Up" is not redacted inside "Upgrade"); CJK and
        # punctuation have no word boundaries to respect.
        left = r"(?<![A-Za-z0-9])" if token[:1].isascii() and token[:1].isalnum() else ""
        right = r"(?![A-Za-z0-9])" if token[-1:].isascii() and token[-1:].isalnum() else ""
        parts.append(f"{left}{re.escape(token)}{right}")
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


class MemberView:
    """What of a decision one user may see (see the module docstring)."""

    def __init__(self, replace: dict[str, str | None] | None = None) -> None:
        # lower-cased token -> its placeholder, or None for the user's own (left as written)
        self._replace = replace or {}
        self._pattern = _pattern(self._replace)

    def _foreign(self, text: str) -> bool:
        return self._replace.get(text.lower()) is not None

    def text(self, value: str) -> str:
        if self._pattern is None:
            return value
        out = self._pattern.sub(lambda m: self._replace.get(m.group(0).lower()) or m.group(0),
                                value)
        return out.replace(f"{WORK} ({WORK})", WORK)  # "Title (id)" of one work: say it once

    def value(self, value: Any) -> Any:
        """``value`` (a decision, a signal list, a match dict…) as this user may see it."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self.value(v)
                    for k, v in value.items() if not (isinstance(k, str) and self._foreign(k))}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value if not (isinstance(v, str) and self._foreign(v))]
        return value


def member_view(session: Session, principal: Principal, *decisions: Any,
                own_ids: Iterable[str] = ()) -> MemberView:
    """The view of ``decisions`` (dicts, lists, strings) for ``principal``; ``own_ids`` are
    catalogue ids known to be the user's (a request's ``catalog_ids``)."""
    if principal.is_admin:
        return MemberView()
    mine = principal.member
    declared_ids: dict[str, str | None] = {}
    members: set[str] = set()
    _declared(list(decisions), declared_ids, members)
    blob = "\n".join(_strings(list(decisions)))
    rows = session.execute(
        select(CatalogTitle.id, CatalogTitle.title, CatalogTitle.member).where(or_(
            CatalogTitle.id.in_(list(declared_ids)), literal(blob).contains(CatalogTitle.id),
        ))
    ).all() if blob else []
    owner = {cid: member for cid, member in declared_ids.items()}
    owner.update({cid: member for cid, _, member in rows})
    own = set(own_ids) | {cid for cid, member in owner.items() if member == mine}
    replace: dict[str, str | None] = {}
    for cid in owner:
        if cid not in own:
            replace[cid.lower()] = WORK
    for _, title, member in rows:
        if member != mine and title:
            replace[title.lower()] = WORK
    for member in members | {m for m in owner.values() if m}:
        if member != mine:
            replace[member.lower()] = MEMBER
    # The user's own ids, titles and name are never rewritten, even where they contain
    # (or equal) another member's token.
    keep = own | {title for cid, title, _ in rows if cid in own and title}
    keep |= {mine} if mine else set()
    for token in keep:
        replace[token.lower()] = None
    return MemberView(replace)


def member_artefact(session: Session, principal: Principal, kind: str, data: bytes,
                    sha256: str) -> bytes | None:
    """The member's copy of a ``decision`` artefact, or None to serve the stored bytes."""
    if principal.is_admin or kind not in DECISION_KINDS:
        return None
    try:
        decision = json.loads(data)
    except ValueError:
        return None  # not JSON (then not a decision this module wrote): nothing to filter
    view = member_view(session, principal, decision)
    shown = view.value(decision)
    if shown == decision:
        return None
    if isinstance(shown, dict):
        shown["withheld"] = (f"other members' works and names are withheld from this copy of "
                             f"artefact sha256 {sha256}; its hash covers the whole decision")
    return canonical_json(shown)
