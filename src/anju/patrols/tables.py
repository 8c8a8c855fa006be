"""The patrols module's tables: checkpoints, routes and their ordered stops, shifts and check-ins.

Times are naive UTC. A shift's guard name is personal: sealed with the field cipher (bound to table,
column and the shift's id) and shown masked. A check-in is made only from a stored `patrol_record`
(matching.py), so `record_id` is unique: a record counts once however often it is seen.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
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

# Columns holding personal data, sealed with the platform's field cipher: table -> column -> masking kind.
SEALED: dict[str, dict[str, str]] = {"patrol_shift": {"guard_name": "name"}}


def patrol_tables(metadata: MetaData) -> None:
    """Add this module's tables to `metadata` (db/schema.py builds the platform's metadata from these)."""
    Table(
        "patrol_checkpoint",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("estate", String(40), nullable=False),
        Column("code", String(40), nullable=False),  # XG_BS of the records
        Column("name", String(100), nullable=False),
        Column("device_id", String(100), nullable=True),  # SBMC of a device's records
        Column("qr_code", String(100), nullable=True),
        Column("lon", Float, nullable=False),
        Column("lat", Float, nullable=False),
        Column("created_at", DateTime, nullable=False),
        UniqueConstraint("estate", "code"),
        comment="Patrol checkpoints (巡更点): a place with a code, optional device and QR code",
    )
    route = Table(
        "patrol_route",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("estate", String(40), nullable=False),
        Column("name", String(100), nullable=False),  # XLXL_MC
        Column("ordered", Boolean, nullable=False),  # checkpoints must be visited in order
        Column("windows", JSON, nullable=False),  # [{"start": "HH:MM", "end": "HH:MM"}] local time
        Column("created_at", DateTime, nullable=False),
        Column("created_by", String(80), nullable=False),
        UniqueConstraint("estate", "name"),
        comment="Patrol routes (巡更路线) with their planned time windows",
    )
    Index(None, route.c.estate)
    Table(
        "patrol_stop",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("route_id", Integer, nullable=False),
        Column("seq", Integer, nullable=False),
        Column("checkpoint_id", Integer, nullable=False),
        UniqueConstraint("route_id", "seq"),
        UniqueConstraint("route_id", "checkpoint_id"),
        comment="A route's checkpoints in the order they are to be visited",
    )
    shift = Table(
        "patrol_shift",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("route_id", Integer, nullable=False),
        Column("estate", String(40), nullable=False),
        Column("guard_name", Text, nullable=True),  # sealed
        Column("guard_user", String(80), nullable=True),
        Column("starts_at", DateTime, nullable=False),
        Column("ends_at", DateTime, nullable=False),
        Column("checked_at", DateTime, nullable=True),  # when the end of the window was judged
        Column("missed", JSON, nullable=True),  # checkpoint codes not visited, once judged
        Column("created_at", DateTime, nullable=False),
        Column("created_by", String(80), nullable=False),
        comment="Patrol shifts: a route assigned to a guard for a window",
    )
    Index(None, shift.c.estate, shift.c.starts_at)
    Index(None, shift.c.checked_at, shift.c.ends_at)
    checkin = Table(
        "patrol_checkin",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("shift_id", Integer, nullable=False),
        Column("checkpoint_id", Integer, nullable=False),
        Column("seq", Integer, nullable=False),
        Column("at", DateTime, nullable=False),
        Column("method", String(20), nullable=False),  # qr | nfc | device | manual
        Column("in_order", Boolean, nullable=False),
        Column("record_id", String(50), nullable=False),
        Column("source", String(40), nullable=False),
        UniqueConstraint("record_id"),
        UniqueConstraint("shift_id", "checkpoint_id"),
        comment="Check-ins matched to shifts from stored patrol_record records",
    )
    Index(None, checkin.c.shift_id)
