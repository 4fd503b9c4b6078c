"""A small hand-written catalogue for the matching tests (not taken from any benchmark)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

CATALOG_CSV = """id,member,title,year,aliases,kind,release_date,home_release_date
war-matrix-1999,Warner Bros.,The Matrix,1999,黑客帝国|骇客任务,film,1999-03-31,1999-09-21
par-godfather-1972,Paramount,The Godfather,1972,教父,film,,
dis-toy-story-1995,Disney,Toy Story,1995,玩具总动员|反斗奇兵,film,,
dis-toy-story-2-1999,Disney,Toy Story 2,1999,玩具总动员2,film,,
fox-speed-1994,Fox,Speed,1994,生死时速,film,,
dis-lion-king-1994,Disney,The Lion King,1994,狮子王,film,,
dis-lion-king-2019,Disney,The Lion King,2019,狮子王,film,,
uni-office-tv,Universal,The Office,2005,办公室,series,,
uni-far-shore-2027,Universal,The Far Shore,2027,远方的海岸,film,2027-03-05,2027-07-01
"""

AUTHORIZED_CSV = """marketplace,seller,member
taobao,华纳官方旗舰店,Warner Bros.
ebay,wb_store,Warner Bros.
ebay,disney_shop,Disney
"""

TODAY = dt.date(2026, 11, 28)


def write_catalog(folder: Path) -> tuple[Path, Path]:
    catalog = folder / "catalog.csv"
    authorized = folder / "authorized.csv"
    catalog.write_text(CATALOG_CSV, encoding="utf-8")
    authorized.write_text(AUTHORIZED_CSV, encoding="utf-8")
    return catalog, authorized
