"""Directors and cast of the catalogue, found in listing text in one pass.

Built once per catalogue from the optional ``directors`` and ``cast`` columns
(:mod:`crawler.catalog.importer`): every name a person goes by (``Christopher Nolan``,
``克里斯托弗·诺兰``, ``诺兰``), normalised, plus the family name alone where it is telling
(Latin: 5+ letters; Chinese: the part after the last ``·``, 2+ characters) and no other person
of the catalogue has it. Names of one person given on different titles are merged into one
person when any name is shared. One Aho-Corasick automaton finds them all.

What names are for (:mod:`crawler.matching.score`): a collection named by a person
(``Christopher Nolan Collection 7 Movies``, ``诺兰导演作品集``) is every member work of that
person; titles that share a name (remakes) are told apart by the person a listing names.

No settings affect this module.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import ahocorasick

from crawler.catalog.importer import CatalogEntry
from crawler.matching.normalize import CJK_CLASS, normalize_text

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_CJK = re.compile(f"[{CJK_CLASS}]")


@dataclass(slots=True)
class Person:
    names: set[str]
    directed: set[int]
    acted: set[int]
    name: str = ""  # as the catalogue first wrote it


@dataclass(slots=True)
class PersonHit:
    start: int
    end: int
    person: Person
    full: bool = True  # a full name, not the family name alone


class PeopleIndex:
    """Every catalogue person by every name, for one-pass lookup."""

    def __init__(self, entries: Sequence[CatalogEntry]) -> None:
        parent: dict[str, str] = {}  # union-find over normalised names

        def find(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        roles: list[tuple[list[str], int, str]] = []
        raw_names: dict[str, set[str]] = {}
        labels: dict[str, str] = {}
        for idx, entry in enumerate(entries):
            for role, people in (("directed", entry.directors), ("acted", entry.cast)):
                for names in people:
                    keys = [k for k in (normalize_text(n) for n in names) if _telling(k)]
                    if not keys:
                        continue
                    raw_names.setdefault(keys[0], set()).update(names)
                    labels.setdefault(keys[0], names[0])
                    for k in keys:
                        parent.setdefault(k, k)
                    root = find(keys[0])
                    for k in keys[1:]:
                        parent[find(k)] = root
                    roles.append((keys, idx, role))
        persons: dict[str, Person] = {}
        for keys, idx, role in roles:
            person = persons.setdefault(find(keys[0]),
                                        Person(set(), set(), set(), labels[keys[0]]))
            person.names.update(keys)
            getattr(person, role).add(idx)
        self.persons = list(persons.values())
        by_name: dict[str, Person] = {}
        for person in self.persons:
            for name in person.names:
                by_name[name] = person
        surnames: dict[str, set[int]] = {}
        pid_of = {id(p): i for i, p in enumerate(self.persons)}
        for first, raws in raw_names.items():
            pid = pid_of[id(persons[find(first)])]
            for raw in raws:
                short = _family_name(raw)
                if short and short not in by_name:
                    surnames.setdefault(short, set()).add(pid)
        for short, pids in surnames.items():
            if len(pids) == 1:  # "nolan" only when one person of the catalogue is a Nolan
                by_name[short] = self.persons[next(iter(pids))]
        self.automaton = ahocorasick.Automaton()
        for name, person in by_name.items():
            self.automaton.add_word(name, (name, person))
        self.size = len(by_name)
        if self.size:
            self.automaton.make_automaton()

    def scan(self, text: str) -> list[PersonHit]:
        """Longest non-overlapping names in ``text`` (normalised), Latin ones on word edges."""
        if not self.size:
            return []
        found: list[PersonHit] = []
        n = len(text)
        for end, (name, person) in self.automaton.iter(text):
            start = end - len(name) + 1
            if name[0] in _ALNUM and start > 0 and text[start - 1] in _ALNUM:
                continue
            if name[-1] in _ALNUM and end + 1 < n and text[end + 1] in _ALNUM:
                continue
            found.append(PersonHit(start, end + 1, person, name in person.names))
        found.sort(key=lambda h: (h.start - h.end, h.start))
        kept: list[PersonHit] = []
        for hit in found:
            if all(hit.end <= k.start or hit.start >= k.end for k in kept):
                kept.append(hit)
        return sorted(kept, key=lambda h: h.start)


def _telling(name: str) -> bool:
    if _CJK.search(name):
        return len(name.replace(" ", "")) >= 2
    return len(name.replace(" ", "")) >= 4


def _family_name(raw: str) -> str | None:
    """"诺兰" of "克里斯托弗·诺兰", "nolan" of "Christopher Nolan"; None when not telling."""
    if _CJK.search(raw):
        parts = re.split(r"[·•・.\s]+", raw.strip())
        tail = normalize_text(parts[-1]) if len(parts) > 1 else ""
        return tail if len(tail) >= 2 else None
    parts = normalize_text(raw).split()
    return parts[-1] if len(parts) > 1 and len(parts[-1]) >= 5 else None
