"""Initial schema: marketplaces, sellers, listings, observations, runs, events, catalogue.

Hand-checked autogenerate output (``alembic revision --autogenerate --rev-id 0001``). Types
are spelled out here instead of importing ``crawler.db.models`` so this revision keeps
describing the same schema whatever the models become: ``UTCDateTime`` is stored as
``DateTime(timezone=True)`` and JSON columns are ``JSONB`` on PostgreSQL.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "authorized_sellers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("marketplace", sa.String(length=64), nullable=False),
        sa.Column("seller", sa.String(length=255), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorized_sellers")),
        sa.UniqueConstraint(
            "marketplace",
            "seller",
            "member",
            name=op.f("uq_authorized_sellers_marketplace_seller_member"),
        ),
    )
    op.create_table(
        "catalog_titles",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("aliases", JSON_TYPE, nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("release_date", sa.Date(), nullable=True),
        sa.Column("home_release_date", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_titles")),
    )
    op.create_index(op.f("ix_catalog_titles_member"), "catalog_titles", ["member"], unique=False)

    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=32), nullable=False),
        sa.Column("marketplaces", sa.String(length=255), nullable=False),
        sa.Column("args", JSON_TYPE, nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("exit_reason", sa.Text(), nullable=True),
        sa.Column("stats", JSON_TYPE, nullable=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("listings", sa.Integer(), nullable=False),
        sa.Column("blocked", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'finished', 'failed', 'interrupted')",
            name=op.f("ck_crawl_runs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_runs")),
    )
    op.create_table(
        "marketplaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplaces")),
        sa.UniqueConstraint("name", name=op.f("uq_marketplaces_name")),
    )
    op.create_table(
        "crawl_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("marketplace", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_crawl_events_run_id_crawl_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_events")),
    )
    op.create_index(
        op.f("ix_crawl_events_run_id_kind"), "crawl_events", ["run_id", "kind"], unique=False
    )

    op.create_table(
        "sellers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("marketplace_id", sa.Integer(), nullable=False),
        sa.Column("seller_key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("shop_name", sa.Text(), nullable=True),
        sa.Column("shop_url", sa.Text(), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("rating_text", sa.Text(), nullable=True),
        sa.Column("opened_text", sa.Text(), nullable=True),
        sa.Column("licence_number", sa.Text(), nullable=True),
        sa.Column("licence_holder", sa.Text(), nullable=True),
        sa.Column("licence_authority", sa.Text(), nullable=True),
        sa.Column("licence_valid_from", sa.String(length=64), nullable=True),
        sa.Column("licence_valid_to", sa.String(length=64), nullable=True),
        sa.Column("licence_raw", sa.Text(), nullable=True),
        sa.Column("has_licence_block", sa.Boolean(), nullable=False),
        sa.Column("profile", JSON_TYPE, nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["last_run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_sellers_last_run_id_crawl_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["marketplace_id"],
            ["marketplaces.id"],
            name=op.f("fk_sellers_marketplace_id_marketplaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sellers")),
        sa.UniqueConstraint(
            "marketplace_id", "seller_key", name=op.f("uq_sellers_marketplace_id_seller_key")
        ),
    )
    op.create_table(
        "listings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("marketplace_id", sa.Integer(), nullable=False),
        sa.Column("listing_key", sa.String(length=255), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("title_norm", sa.Text(), nullable=True),
        sa.Column("price", sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("price_text", sa.Text(), nullable=True),
        sa.Column("seller_id", sa.Integer(), nullable=True),
        sa.Column("sales_count", sa.Integer(), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("image_urls", JSON_TYPE, nullable=True),
        sa.Column("condition", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('active', 'removed')", name=op.f("ck_listings_status")),
        sa.ForeignKeyConstraint(
            ["last_run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_listings_last_run_id_crawl_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["marketplace_id"],
            ["marketplaces.id"],
            name=op.f("fk_listings_marketplace_id_marketplaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"],
            ["sellers.id"],
            name=op.f("fk_listings_seller_id_sellers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listings")),
        sa.UniqueConstraint(
            "marketplace_id", "listing_key", name=op.f("uq_listings_marketplace_id_listing_key")
        ),
    )
    op.create_index(op.f("ix_listings_last_seen"), "listings", ["last_seen"], unique=False)
    op.create_index(op.f("ix_listings_seller_id"), "listings", ["seller_id"], unique=False)
    op.create_index(op.f("ix_listings_title_norm"), "listings", ["title_norm"], unique=False)

    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("price", sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=True),
        sa.Column("keyword", sa.Text(), nullable=True),
        sa.Column("fetched_via", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["listing_id"],
            ["listings.id"],
            name=op.f("fk_observations_listing_id_listings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_observations_run_id_crawl_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
        sa.UniqueConstraint("listing_id", "run_id", name=op.f("uq_observations_listing_id_run_id")),
    )
    op.create_index(op.f("ix_observations_run_id"), "observations", ["run_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_observations_run_id"), table_name="observations")

    op.drop_table("observations")
    op.drop_index(op.f("ix_listings_title_norm"), table_name="listings")
    op.drop_index(op.f("ix_listings_seller_id"), table_name="listings")
    op.drop_index(op.f("ix_listings_last_seen"), table_name="listings")

    op.drop_table("listings")
    op.drop_table("sellers")
    op.drop_index(op.f("ix_crawl_events_run_id_kind"), table_name="crawl_events")

    op.drop_table("crawl_events")
    op.drop_table("marketplaces")
    op.drop_table("crawl_runs")
    op.drop_index(op.f("ix_catalog_titles_member"), table_name="catalog_titles")

    op.drop_table("catalog_titles")
    op.drop_table("authorized_sellers")
