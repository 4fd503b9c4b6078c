"""Sellers under the agreement: strike ledger, seller audit log, licence findings, identifiers,
links and clusters of linked accounts, investigations; evidence gains the ``image`` kind.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

OLD_KINDS = "kind IN ('warc', 'html', 'screenshot', 'fields', 'decision', 'saved_page')"
NEW_KINDS = "kind IN ('warc', 'html', 'screenshot', 'fields', 'decision', 'saved_page', 'image')"


def _evidence_kinds(sql: str) -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_evidence_kind"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_evidence_kind"), sql)


# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _evidence_kinds(NEW_KINDS)
    op.create_table(
        "investigations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("marketplace", sa.String(length=64), nullable=False),
        sa.Column("seller_key", sa.String(length=255), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("linked", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("case_path", sa.Text(), nullable=True),
        sa.Column("case_sha256", sa.String(length=64), nullable=True),
        sa.Column(
            "summary",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "state IN ('running', 'done', 'failed')", name=op.f("ck_investigations_state")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_investigations_run_id_crawl_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_investigations")),
    )
    op.create_table(
        "licence_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seller_id", sa.Integer(), nullable=False),
        sa.Column("marketplace", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("sells_discs", sa.Boolean(), nullable=False),
        sa.Column("disc_listings", sa.Integer(), nullable=False),
        sa.Column("number", sa.Text(), nullable=True),
        sa.Column("holder", sa.Text(), nullable=True),
        sa.Column("authority", sa.Text(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column(
            "problems",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("register", sa.Text(), nullable=True),
        sa.Column("register_holder", sa.Text(), nullable=True),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=True),
        sa.Column("evidence_url", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('valid', 'expired', 'not_yet_valid', 'missing', 'malformed', 'holder_mismatch', 'unregistered')",
            name=op.f("ck_licence_findings_status"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_licence_findings_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_findings")),
        sa.UniqueConstraint("seller_id", name=op.f("uq_licence_findings_seller_id")),
    )
    op.create_table(
        "seller_clusters",
        sa.Column("seller_id", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_seller_clusters_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("seller_id", name=op.f("pk_seller_clusters")),
    )
    with op.batch_alter_table("seller_clusters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_seller_clusters_cluster_id"), ["cluster_id"], unique=False
        )

    op.create_table(
        "seller_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seller_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("policy", sa.String(length=64), nullable=True),
        sa.Column("from_level", sa.String(length=32), nullable=True),
        sa.Column("to_level", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "evidence",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_seller_events_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seller_events")),
    )
    with op.batch_alter_table("seller_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_seller_events_seller_id_at"), ["seller_id", "at"], unique=False
        )

    op.create_table(
        "seller_identifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seller_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.Column("shown", sa.Text(), nullable=True),
        sa.Column("listing_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('phone', 'wechat', 'qq', 'email', 'address', 'image')",
            name=op.f("ck_seller_identifiers_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_seller_identifiers_listing_id_listings")
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_seller_identifiers_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seller_identifiers")),
        sa.UniqueConstraint(
            "seller_id", "kind", "value", name=op.f("uq_seller_identifiers_seller_id_kind_value")
        ),
    )
    with op.batch_alter_table("seller_identifiers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_seller_identifiers_kind_value"), ["kind", "value"], unique=False
        )

    op.create_table(
        "seller_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seller_a", sa.Integer(), nullable=False),
        sa.Column("seller_b", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.Column("identifier_a", sa.Integer(), nullable=False),
        sa.Column("identifier_b", sa.Integer(), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("seller_a < seller_b", name=op.f("ck_seller_links_ordered")),
        sa.ForeignKeyConstraint(
            ["identifier_a"],
            ["seller_identifiers.id"],
            name=op.f("fk_seller_links_identifier_a_seller_identifiers"),
        ),
        sa.ForeignKeyConstraint(
            ["identifier_b"],
            ["seller_identifiers.id"],
            name=op.f("fk_seller_links_identifier_b_seller_identifiers"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_a"], ["sellers.id"], name=op.f("fk_seller_links_seller_a_sellers")
        ),
        sa.ForeignKeyConstraint(
            ["seller_b"], ["sellers.id"], name=op.f("fk_seller_links_seller_b_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seller_links")),
        sa.UniqueConstraint(
            "seller_a",
            "seller_b",
            "kind",
            "value",
            name=op.f("uq_seller_links_seller_a_seller_b_kind_value"),
        ),
    )
    with op.batch_alter_table("seller_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seller_links_seller_b"), ["seller_b"], unique=False)

    op.create_table(
        "strikes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seller_id", sa.Integer(), nullable=False),
        sa.Column("marketplace", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("catalog_id", sa.String(length=128), nullable=True),
        sa.Column("work", sa.Text(), nullable=True),
        sa.Column("offence", sa.String(length=32), nullable=False),
        sa.Column("struck_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_strikes_listing_id_listings")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["takedown_requests.id"],
            name=op.f("fk_strikes_request_id_takedown_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_strikes_seller_id_sellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strikes")),
        sa.UniqueConstraint("request_id", name=op.f("uq_strikes_request_id")),
    )
    with op.batch_alter_table("strikes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_strikes_seller_id_struck_at"), ["seller_id", "struck_at"], unique=False
        )


def downgrade() -> None:
    _evidence_kinds(OLD_KINDS)
    with op.batch_alter_table("strikes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_strikes_seller_id_struck_at"))

    op.drop_table("strikes")
    with op.batch_alter_table("seller_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seller_links_seller_b"))

    op.drop_table("seller_links")
    with op.batch_alter_table("seller_identifiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seller_identifiers_kind_value"))

    op.drop_table("seller_identifiers")
    with op.batch_alter_table("seller_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seller_events_seller_id_at"))

    op.drop_table("seller_events")
    with op.batch_alter_table("seller_clusters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seller_clusters_cluster_id"))

    op.drop_table("seller_clusters")
    op.drop_table("licence_findings")
    op.drop_table("investigations")
