"""Matches: the matching engine's decision per (listing, member), with its signals.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("catalog_id", sa.String(length=128), nullable=True),
        sa.Column("catalog_ids", JSON_TYPE, nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Numeric(precision=6, scale=4, asdecimal=False), nullable=False),
        sa.Column("signals", JSON_TYPE, nullable=True),
        sa.Column("engine_version", sa.String(length=32), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("first_decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('takedown', 'review', 'none')", name=op.f("ck_matches_decision")
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_matches_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["crawl_runs.id"], name=op.f("fk_matches_run_id_crawl_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matches")),
        sa.UniqueConstraint("listing_id", "member", name=op.f("uq_matches_listing_id_member")),
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_matches_member_decision"), ["member", "decision"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_matches_catalog_id"), ["catalog_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matches_catalog_id"))
        batch_op.drop_index(batch_op.f("ix_matches_member_decision"))
    op.drop_table("matches")
