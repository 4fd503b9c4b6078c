"""Storage models for sellers under the agreement (issue 5); see crawler/db/models.py for the rules.

* ``strikes``: the repeat-infringer ledger. One strike per takedown request the platform
  *accepted* (a confirmed removal, never a mere detection): when, which work, which request,
  which evidence. ``offence`` is the kind of offence the policy gives points for (``disc``,
  ``download``, ``streaming``, ``other``). Unique per request, so re-running the ledger update
  never counts a removal twice.
* ``seller_events``: the audit log of decisions about a seller (escalations, licence flags,
  links, investigations), one row per event, never updated. An escalation row carries the
  strikes (ids, requests, evidence hashes) that justify it in ``evidence``.
* ``licence_findings``: the latest check of a shop's publication licence (出版物经营许可证):
  status, the parsed number/holder/dates, the problems in words and the evidence of the shop
  page it was read from. One row per seller, replaced by each check.
* ``seller_identifiers``: contact identifiers and image hashes seen for a seller (phone, WeChat,
  QQ, email, return address, perceptual image hash), each with the page and evidence that
  shows it. ``value`` is normalised (digits of a phone, lower-case email, hex pHash).
* ``seller_links``: two sellers that share an identifier (or near-identical images), with the
  two identifier rows that prove it; ``seller_a < seller_b``.
* ``seller_clusters``: the linked-account clusters, recomputed from ``seller_links`` after each
  crawl; ``cluster_id`` is the smallest seller id of the cluster.
* ``investigations``: targeted crawls of one seller and the case file they produced.

No settings affect this module.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crawler.db.models import Base, UTCDateTime, _json, utcnow

IDENTIFIER_KINDS = ("phone", "wechat", "qq", "email", "address", "image")
LICENCE_STATUSES = (
    "valid",
    "expired",
    "not_yet_valid",
    "missing",
    "malformed",
    "holder_mismatch",
    "unregistered",
)


class Strike(Base):
    """A confirmed removal counted against a seller (see the module docstring)."""

    __tablename__ = "strikes"
    __table_args__ = (
        UniqueConstraint("request_id"),
        Index(None, "seller_id", "struck_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"))
    marketplace: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[int] = mapped_column(ForeignKey("takedown_requests.id"))
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"))
    member: Mapped[str] = mapped_column(String(64))
    catalog_id: Mapped[str | None] = mapped_column(String(128))
    work: Mapped[str | None] = mapped_column(Text)  # the catalogue title, for people
    offence: Mapped[str] = mapped_column(String(32), default="other")
    struck_at: Mapped[datetime] = mapped_column(UTCDateTime())  # when the removal was confirmed
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SellerEvent(Base):
    """One decision about a seller, in the audit log (never updated)."""

    __tablename__ = "seller_events"
    __table_args__ = (Index(None, "seller_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))  # escalation | licence_flag | linked | ...
    policy: Mapped[str | None] = mapped_column(String(64))
    from_level: Mapped[str | None] = mapped_column(String(32))
    to_level: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[list[dict[str, Any]] | None] = mapped_column(_json())
    actor: Mapped[str] = mapped_column(String(128), default="reelguard")


class LicenceFinding(Base):
    """The latest check of one shop's publication licence."""

    __tablename__ = "licence_findings"
    __table_args__ = (
        UniqueConstraint("seller_id"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in LICENCE_STATUSES) + ")", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"))
    marketplace: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    sells_discs: Mapped[bool] = mapped_column(Boolean, default=False)
    disc_listings: Mapped[int] = mapped_column(Integer, default=0)
    number: Mapped[str | None] = mapped_column(Text)
    holder: Mapped[str | None] = mapped_column(Text)
    authority: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    problems: Mapped[list[str] | None] = mapped_column(_json())
    register: Mapped[str | None] = mapped_column(Text)  # the register file checked against
    register_holder: Mapped[str | None] = mapped_column(Text)
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    evidence_url: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SellerIdentifier(Base):
    """An identifier seen for a seller, with the capture that shows it."""

    __tablename__ = "seller_identifiers"
    __table_args__ = (
        UniqueConstraint("seller_id", "kind", "value"),
        Index(None, "kind", "value"),
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in IDENTIFIER_KINDS) + ")", name="kind"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(512))
    shown: Mapped[str | None] = mapped_column(Text)  # as shown on the page (or the image URL)
    listing_id: Mapped[int | None] = mapped_column(ForeignKey("listings.id"))
    url: Mapped[str | None] = mapped_column(Text)
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SellerLink(Base):
    """Two sellers sharing an identifier, with the two sightings that prove it."""

    __tablename__ = "seller_links"
    __table_args__ = (
        UniqueConstraint("seller_a", "seller_b", "kind", "value"),
        CheckConstraint("seller_a < seller_b", name="ordered"),
        Index(None, "seller_b"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seller_a: Mapped[int] = mapped_column(ForeignKey("sellers.id"))
    seller_b: Mapped[int] = mapped_column(ForeignKey("sellers.id"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(512))
    identifier_a: Mapped[int] = mapped_column(ForeignKey("seller_identifiers.id"))
    identifier_b: Mapped[int] = mapped_column(ForeignKey("seller_identifiers.id"))
    distance: Mapped[int | None] = mapped_column(Integer)  # Hamming distance for images
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SellerCluster(Base):
    """The linked-account cluster a seller belongs to (recomputed after each crawl)."""

    __tablename__ = "seller_clusters"

    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), primary_key=True)
    cluster_id: Mapped[int] = mapped_column(Integer, index=True)
    size: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Investigation(Base):
    """A targeted crawl of one seller (and its linked accounts) and its case file."""

    __tablename__ = "investigations"
    __table_args__ = (CheckConstraint("state IN ('running', 'done', 'failed')", name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    marketplace: Mapped[str] = mapped_column(String(64))
    seller_key: Mapped[str] = mapped_column(String(255))
    depth: Mapped[int] = mapped_column(Integer, default=1)
    linked: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
    case_path: Mapped[str | None] = mapped_column(Text)
    case_sha256: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[dict[str, Any] | None] = mapped_column(_json())
    error: Mapped[str | None] = mapped_column(Text)
