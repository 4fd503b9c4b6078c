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


# Directors, cast and franchise columns (issue 18): real people of real films.
PEOPLE_CSV = """id,member,title,year,aliases,kind,directors,cast,franchise
war-inception-2010,Warner Bros.,Inception,2010,盗梦空间|全面启动,film,Christopher Nolan=克里斯托弗·诺兰,Leonardo DiCaprio=莱昂纳多·迪卡普里奥,
war-interstellar-2014,Warner Bros.,Interstellar,2014,星际穿越,film,Christopher Nolan,Matthew McConaughey,
war-dark-knight-2008,Warner Bros.,The Dark Knight,2008,蝙蝠侠：黑暗骑士,film,Christopher Nolan=诺兰,Christian Bale,Batman=蝙蝠侠
dis-lion-king-1994,Disney,The Lion King,1994,狮子王,film,Roger Allers|Rob Minkoff,,
dis-lion-king-2019,Disney,The Lion King,2019,狮子王,film,Jon Favreau=乔恩·费儒,Donald Glover,
dis-cinderella-2015,Disney,Cinderella,2015,灰姑娘|仙履奇缘,film,Kenneth Branagh,Lily James,
sony-up-2009,Disney,Up,2009,飞屋环游记,film,Pete Docter,,
fox-times-2019,Fox,The Times,2019,,film,,,
"""


def write_people_catalog(folder: Path) -> Path:
    catalog = folder / "people.csv"
    catalog.write_text(PEOPLE_CSV, encoding="utf-8")
    return catalog
