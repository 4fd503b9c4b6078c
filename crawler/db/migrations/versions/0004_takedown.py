"""Takedown queue: requests (one open per member and listing), their audit log, notice batches.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
OPEN_SQL = "state NOT IN ('removed', 'rejected', 'withdrawn', 'relisted')"
STATES_SQL = (
    "state IN ('pending_review', 'approved', 'submitted', 'acknowledged', 'removed', "
    "'rejected', 'relisted', 'withdrawn')"
)


def upgrade() -> None:
    op.create_table(
        "notice_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("marketplace", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("complaint_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("listing_count", sa.Integer(), nullable=False),
        sa.Column("payload", JSON_TYPE, nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('prepared', 'submitting', 'submitted', 'failed')",
            name=op.f("ck_notice_batches_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_batches")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notice_batches_idempotency_key")),
    )
    op.create_index(op.f("ix_notice_batches_state"), "notice_batches", ["state"], unique=False)

    op.create_table(
        "takedown_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("marketplace", sa.String(length=64), nullable=False),
        sa.Column("catalog_ids", JSON_TYPE, nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Numeric(precision=6, scale=4, asdecimal=False), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cites_request_id", sa.Integer(), nullable=True),
        sa.Column("approved_by", sa.String(length=128), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notice_batch_id", sa.Integer(), nullable=True),
        sa.Column("complaint_id", sa.String(length=64), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("platform_status", sa.String(length=16), nullable=True),
        sa.Column("platform_reason", sa.Text(), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("time_to_removal_s", sa.Float(), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(STATES_SQL, name=op.f("ck_takedown_requests_state")),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_takedown_requests_listing_id_listings")
        ),
        sa.ForeignKeyConstraint(
            ["cites_request_id"], ["takedown_requests.id"],
            name=op.f("fk_takedown_requests_cites_request_id_takedown_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["notice_batch_id"], ["notice_batches.id"],
            name=op.f("fk_takedown_requests_notice_batch_id_notice_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_requests")),
    )
    op.create_index(
        "ux_takedown_requests_open", "takedown_requests", ["member", "listing_id"], unique=True,
        sqlite_where=sa.text(OPEN_SQL), postgresql_where=sa.text(OPEN_SQL),
    )
    op.create_index(
        op.f("ix_takedown_requests_state_member_marketplace"), "takedown_requests",
        ["state", "member", "marketplace"], unique=False,
    )
    op.create_index(
        op.f("ix_takedown_requests_listing_id"), "takedown_requests", ["listing_id"], unique=False
    )
    op.create_index(
        op.f("ix_takedown_requests_notice_batch_id"), "takedown_requests", ["notice_batch_id"],
        unique=False,
    )

    op.create_table(
        "takedown_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["takedown_requests.id"],
            name=op.f("fk_takedown_events_request_id_takedown_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_takedown_events")),
    )
    op.create_index(
        op.f("ix_takedown_events_request_id"), "takedown_events", ["request_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_takedown_events_request_id"), table_name="takedown_events")
    op.drop_table("takedown_events")
    op.drop_index(op.f("ix_takedown_requests_notice_batch_id"), table_name="takedown_requests")
    op.drop_index(op.f("ix_takedown_requests_listing_id"), table_name="takedown_requests")
    op.drop_index(
        op.f("ix_takedown_requests_state_member_marketplace"), table_name="takedown_requests"
    )
    op.drop_index("ux_takedown_requests_open", table_name="takedown_requests")
    op.drop_table("takedown_requests")
    op.drop_index(op.f("ix_notice_batches_state"), table_name="notice_batches")
    op.drop_table("notice_batches")
