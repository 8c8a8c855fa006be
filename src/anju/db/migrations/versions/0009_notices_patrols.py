"""notices and patrols

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("region", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("audience", sa.String(length=40), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("publish_at", sa.DateTime(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("approved_at", sa.DateTime(), nullable=True),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("published_by", sa.String(length=80), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=80), nullable=True),
        sa.Column("withdraw_reason", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
        comment="Notices (信息发布): drafts, approval of policy content, publication, withdrawal",
    )
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_region_status"), ["region", "status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_notice_status_publish_at"), ["status", "publish_at"], unique=False
        )

    op.create_table(
        "notice_delivery",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("adapter", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("record_id", sa.String(length=50), nullable=False),
        sa.Column("attempted_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("confirmed_by", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_notice_delivery")),
        sa.UniqueConstraint("notice_id", "channel", name=op.f("uq_notice_delivery_notice_id_channel")),
        comment="One notice's publication on one channel, with its outcome",
    )
    with op.batch_alter_table("notice_delivery", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notice_delivery_channel_attempted_at"), ["channel", "attempted_at"], unique=False
        )

    op.create_table(
        "notice_receipt",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("reader", sa.String(length=64), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_notice_receipt")),
        sa.UniqueConstraint("notice_id", "reader", name=op.f("uq_notice_receipt_notice_id_reader")),
        comment="Read receipts from channels that report them (app, mini program)",
    )

    op.create_table(
        "patrol_checkpoint",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("estate", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("device_id", sa.String(length=100), nullable=True),
        sa.Column("qr_code", sa.String(length=100), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_checkpoint")),
        sa.UniqueConstraint("estate", "code", name=op.f("uq_patrol_checkpoint_estate_code")),
        comment="Patrol checkpoints (巡更点): a place with a code, optional device and QR code",
    )
    op.create_table(
        "patrol_route",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("estate", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("ordered", sa.Boolean(), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_route")),
        sa.UniqueConstraint("estate", "name", name=op.f("uq_patrol_route_estate_name")),
        comment="Patrol routes (巡更路线) with their planned time windows",
    )
    with op.batch_alter_table("patrol_route", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patrol_route_estate"), ["estate"], unique=False)

    op.create_table(
        "patrol_stop",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_patrol_stop")),
        sa.UniqueConstraint("route_id", "checkpoint_id", name=op.f("uq_patrol_stop_route_id_checkpoint_id")),
        sa.UniqueConstraint("route_id", "seq", name=op.f("uq_patrol_stop_route_id_seq")),
        comment="A route's checkpoints in the order they are to be visited",
    )
    op.create_table(
        "patrol_shift",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=False),
        sa.Column("estate", sa.String(length=40), nullable=False),
        sa.Column("guard_name", sa.Text(), nullable=True),
        sa.Column("guard_user", sa.String(length=80), nullable=True),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=True),
        sa.Column("missed", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_shift")),
        comment="Patrol shifts: a route assigned to a guard for a window",
    )
    with op.batch_alter_table("patrol_shift", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patrol_shift_checked_at_ends_at"), ["checked_at", "ends_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_patrol_shift_estate_starts_at"), ["estate", "starts_at"], unique=False
        )

    op.create_table(
        "patrol_checkin",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("shift_id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("in_order", sa.Boolean(), nullable=False),
        sa.Column("record_id", sa.String(length=50), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_patrol_checkin")),
        sa.UniqueConstraint("record_id", name=op.f("uq_patrol_checkin_record_id")),
        sa.UniqueConstraint(
            "shift_id", "checkpoint_id", name=op.f("uq_patrol_checkin_shift_id_checkpoint_id")
        ),
        comment="Check-ins matched to shifts from stored patrol_record records",
    )
    with op.batch_alter_table("patrol_checkin", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patrol_checkin_shift_id"), ["shift_id"], unique=False)


def downgrade() -> None:
    for table in (
        "patrol_checkin",
        "patrol_shift",
        "patrol_stop",
        "patrol_route",
        "patrol_checkpoint",
        "notice_receipt",
        "notice_delivery",
        "notice",
    ):
        op.drop_table(table)
