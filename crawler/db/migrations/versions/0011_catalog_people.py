"""Catalogue metadata for matching: directors, cast and franchise of each title (issue 18).

Each column holds a JSON list of people (or franchises), each a list of the names it goes by
(``[["Christopher Nolan", "克里斯托弗·诺兰", "诺兰"]]``); NULL when the catalogue gives none.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
COLUMNS = ("directors", "cast", "franchise")


def upgrade() -> None:
    with op.batch_alter_table("catalog_titles") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, JSON_TYPE, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("catalog_titles") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
