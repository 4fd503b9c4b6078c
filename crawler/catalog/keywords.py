"""Search keywords from catalogue titles, per marketplace language.

``primary``: one keyword per title in the marketplace's language: on a Chinese-language site
the first alias written in Chinese characters (the mainland release title comes first by
convention), else the title; elsewhere the title. ``all``: the title and every alias.

No settings affect this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Protocol

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class Titled(Protocol):
    @property
    def title(self) -> str: ...

    @property
    def aliases(self) -> Sequence[str]: ...


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def keywords_for(entries: Iterable[Titled], language: str, strategy: str = "primary",
                 limit: int | None = None) -> list[str]:
    """Distinct keywords, in catalogue order."""
    out: dict[str, None] = {}
    for entry in entries:
        if strategy == "all":
            candidates = [entry.title, *entry.aliases]
        elif language == "zh":
            cjk = [a for a in entry.aliases if has_cjk(a)]
            candidates = [cjk[0] if cjk else entry.title]
        else:
            candidates = [entry.title]
        for kw in candidates:
            kw = " ".join(kw.split())
            if kw:
                out.setdefault(kw, None)
    keywords = list(out)
    return keywords[:limit] if limit is not None else keywords
