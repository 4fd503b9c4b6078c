"""Evidence: the append-only, hash-chained log of captured artefacts (table ``evidence``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("capture_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=128), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=True),
        sa.Column("marketplace", sa.String(length=64), nullable=True),
        sa.Column("listing_key", sa.String(length=255), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('warc', 'html', 'screenshot', 'fields', 'decision', 'saved_page')",
            name=op.f("ck_evidence_kind"),
        ),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_evidence_seq_positive")),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_evidence_listing_id_listings")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["crawl_runs.id"], name=op.f("fk_evidence_run_id_crawl_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
        sa.UniqueConstraint("seq", name=op.f("uq_evidence_seq")),
        sa.UniqueConstraint("entry_hash", name=op.f("uq_evidence_entry_hash")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_evidence_listing_id"), ["listing_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_evidence_capture_id"), ["capture_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_capture_id"))
        batch_op.drop_index(batch_op.f("ix_evidence_listing_id"))
        batch_op.drop_index(batch_op.f("ix_evidence_sha256"))
    op.drop_table("evidence")
