"""The notices module's tables: notices, their deliveries per channel, and read receipts.

Times are naive UTC like every other table. `region` is a node of the region tree (a community reaches its
estates). Nothing here is personal: who drafted, approved and published is an account name (as in the audit
log), and a reader of a receipt is kept only as a keyed digest (HMAC-SM3 under the blind-index key).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)


def notice_tables(metadata: MetaData) -> None:
    """Add this module's tables to `metadata` (db/schema.py builds the platform's metadata from these)."""
    notice = Table(
        "notice",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("region", String(40), nullable=False),
        Column("title", String(200), nullable=False),
        Column("body", Text, nullable=False),
        Column("content_type", String(40), nullable=False),  # notices/data/notices.yaml content_types
        Column("category", String(40), nullable=False),
        Column("audience", String(40), nullable=False),
        Column("channels", JSON, nullable=False),  # channel keys, in the order given
        Column("status", String(20), nullable=False),  # draft | approved | scheduled | published | ...
        Column("lon", Float, nullable=True),
        Column("lat", Float, nullable=True),
        Column("publish_at", DateTime, nullable=True),  # when a scheduled notice goes out
        Column("expires_at", DateTime, nullable=True),
        Column("source", String(80), nullable=False),  # api | cli | the system that published it
        Column("created_at", DateTime, nullable=False),
        Column("created_by", String(80), nullable=False),
        Column("approved_at", DateTime, nullable=True),
        Column("approved_by", String(80), nullable=True),
        Column("published_at", DateTime, nullable=True),
        Column("published_by", String(80), nullable=True),
        Column("withdrawn_at", DateTime, nullable=True),
        Column("withdrawn_by", String(80), nullable=True),
        Column("withdraw_reason", String(500), nullable=True),
        comment="Notices (信息发布): drafts, approval of policy content, publication, withdrawal",
    )
    Index(None, notice.c.region, notice.c.status)
    Index(None, notice.c.status, notice.c.publish_at)
    delivery = Table(
        "notice_delivery",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("notice_id", Integer, nullable=False),
        Column("channel", String(40), nullable=False),
        Column("adapter", String(20), nullable=False),  # webhook | screen | manual
        Column("status", String(24), nullable=False),  # sent | failed | pending_confirmation | confirmed
        Column("detail", String(500), nullable=True),  # the far side's answer or why it failed
        Column("record_id", String(50), nullable=False),  # the `notice` record of this publication
        Column("attempted_at", DateTime, nullable=False),
        Column("confirmed_at", DateTime, nullable=True),
        Column("confirmed_by", String(80), nullable=True),
        UniqueConstraint("notice_id", "channel"),
        comment="One notice's publication on one channel, with its outcome",
    )
    Index(None, delivery.c.channel, delivery.c.attempted_at)
    Table(
        "notice_receipt",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("notice_id", Integer, nullable=False),
        Column("channel", String(40), nullable=False),
        Column("reader", String(64), nullable=False),  # keyed digest of the reader's identifier
        Column("read_at", DateTime, nullable=False),
        UniqueConstraint("notice_id", "reader"),
        comment="Read receipts from channels that report them (app, mini program)",
    )
