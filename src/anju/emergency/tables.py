"""The emergency module's tables: plans and their versions, drills, supplies, shelters, evacuation graphs.

Times are stored naive in UTC like every other table; `region` is a node of the region tree (a community or
an estate), `estate` an estate code. Personal data (a supply store's custodian and phone) is stored
SM4-GCM-sealed, bound to table, column and row (see supplies.py); nothing else here is personal.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
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
SEALED: dict[str, dict[str, str]] = {"supply_store": {"custodian": "name", "custodian_phone": "phone"}}


def emergency_tables(metadata: MetaData) -> None:
    plan = Table(
        "emergency_plan",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("region", String(40), nullable=False),
        Column("hazard", String(40), nullable=False),
        Column("title", String(200), nullable=False),
        Column("superior_plan", String(300), nullable=True),  # the government plan it implements
        Column("version", Integer, nullable=False),  # the current version
        Column("published_version", Integer, nullable=True),  # the version residents were shown
        Column("published_at", DateTime, nullable=True),
        Column("published_by", String(80), nullable=True),
        Column("created_at", DateTime, nullable=False),
        Column("created_by", String(80), nullable=False),
        Column("updated_at", DateTime, nullable=False),
        UniqueConstraint("region", "hazard"),
        comment="Emergency plans (SE31): one per region and hazard, with a current and a published version",
    )
    Index(None, plan.c.region)
    version = Table(
        "emergency_plan_version",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("plan_id", Integer, nullable=False),
        Column("version", Integer, nullable=False),
        Column("contents", JSON, nullable=False),  # plan content key -> text (categories.yaml plan_contents)
        Column("adopted_at", DateTime, nullable=False),  # when this version took effect
        Column("note", Text, nullable=True),
        Column("created_by", String(80), nullable=False),
        UniqueConstraint("plan_id", "version"),
        comment="Every version of an emergency plan, never edited",
    )
    del version
    improvement = Table(
        "emergency_plan_improvement",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("plan_id", Integer, nullable=False),
        Column("improved_at", DateTime, nullable=False),
        Column("description", Text, nullable=False),
        Column("version", Integer, nullable=True),  # the plan version it produced, if any
        Column("recorded_by", String(80), nullable=False),
        comment="Improvements of a plan or of how it is implemented (SE31.3: 5 points each in a year)",
    )
    Index(None, improvement.c.plan_id, improvement.c.improved_at)
    drill = Table(
        "emergency_drill",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("region", String(40), nullable=False),
        Column("title", String(200), nullable=False),
        Column("hazard", String(40), nullable=False),
        Column("plan_id", Integer, nullable=True),
        Column("scenario", Text, nullable=False),
        Column("held_at", DateTime, nullable=False),
        Column("ended_at", DateTime, nullable=True),
        Column("evacuation", JSON, nullable=False),  # [{place, people, started_at, finished_at, seconds}]
        Column("findings", JSON, nullable=False),  # [text]
        Column("created_at", DateTime, nullable=False),
        Column("created_by", String(80), nullable=False),
        comment="Emergency exercises (SE32): scenario, when, evacuation timings, findings",
    )
    Index(None, drill.c.region, drill.c.held_at)
    participant = Table(
        "emergency_drill_participant",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("drill_id", Integer, nullable=False),
        Column("category", String(40), nullable=False),  # categories.yaml participants
        Column("headcount", Integer, nullable=False),
        Column("organisations", JSON, nullable=False),  # names of the organisations taking part, not people
        UniqueConstraint("drill_id", "category"),
        comment="Who took part in a drill, per category (SE32.2: 8 points per category)",
    )
    del participant
    followup = Table(
        "emergency_drill_followup",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("drill_id", Integer, nullable=False),
        Column("action", Text, nullable=False),
        Column("owner", String(200), nullable=True),  # a department or role, not a person's name
        Column("due_on", Date, nullable=True),
        Column("done_at", DateTime, nullable=True),
        Column("done_by", String(80), nullable=True),
        comment="What a drill's findings are to change, and whether it has",
    )
    Index(None, followup.c.drill_id)
    store = Table(
        "supply_store",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("estate", String(40), nullable=False),
        Column("name", String(200), nullable=False),
        Column("location", String(300), nullable=False),
        Column("lon", Float, nullable=True),
        Column("lat", Float, nullable=True),
        Column("custodian", Text, nullable=True),  # sealed
        Column("custodian_phone", Text, nullable=True),  # sealed
        Column("created_at", DateTime, nullable=False),
        comment="Emergency supply stores (应急物资储备点)",
    )
    Index(None, store.c.estate)
    item = Table(
        "supply_item",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("store_id", Integer, nullable=False),
        Column("name", String(200), nullable=False),
        Column("unit", String(20), nullable=False),
        Column("quantity", Integer, nullable=False),
        Column("minimum", Integer, nullable=False),
        Column("expires_on", Date, nullable=True),
        Column("location", String(200), nullable=True),  # shelf or room inside the store
        Column("below_minimum_since", DateTime, nullable=True),  # alarm raised, until restocked
        Column("near_expiry_since", DateTime, nullable=True),  # alarm raised, until replaced
        Column("updated_at", DateTime, nullable=False),
        UniqueConstraint("store_id", "name"),
        comment="Supply items: quantity, minimum level, expiry",
    )
    del item
    movement = Table(
        "supply_movement",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("item_id", Integer, nullable=False),
        Column("at", DateTime, nullable=False),
        Column("delta", Integer, nullable=False),
        Column("quantity_after", Integer, nullable=False),
        Column("reason", String(20), nullable=False),  # supplies.yaml movement_reasons
        Column("note", String(500), nullable=True),
        Column("actor", String(80), nullable=False),
        comment="Every change of a supply item's stock",
    )
    Index(None, movement.c.item_id, movement.c.at)
    shelter = Table(
        "shelter",
        metadata,
        Column("id", String(40), primary_key=True),
        Column("estate", String(40), nullable=False),
        Column("name", String(200), nullable=False),
        Column("type", String(20), nullable=False),  # shelters.yaml types
        Column("capacity", Integer, nullable=False),  # people
        Column("facilities", JSON, nullable=False),  # shelters.yaml facilities
        Column("status", String(20), nullable=False),  # shelters.yaml statuses
        Column("lon", Float, nullable=False),
        Column("lat", Float, nullable=False),
        Column("address", String(300), nullable=True),
        Column("updated_at", DateTime, nullable=False),
        comment="Emergency shelters (应急避难场所)",
    )
    Index(None, shelter.c.estate)
    Table(
        "evacuation_graph",
        metadata,
        Column("estate", String(40), primary_key=True),
        Column("nodes", JSON, nullable=False),  # [{id, kind, lon, lat}]
        Column("edges", JSON, nullable=False),  # [{a, b, metres?}]
        Column("updated_at", DateTime, nullable=False),
        Column("updated_by", String(80), nullable=False),
        comment="An estate's walkable path graph: buildings, junctions, shelters",
    )
    Table(
        "emergency_warning",
        metadata,
        Column("id", String(120), primary_key=True),  # the CAP identifier
        Column("region", String(40), nullable=True),
        Column("status", String(12), nullable=False),  # CAP status: Actual, Exercise, …
        Column("msg_type", String(8), nullable=False),  # Alert, Update, Cancel
        Column("sent_at", DateTime, nullable=False),
        Column("cap_references", JSON, nullable=False),  # ["sender,identifier,sent"]
        Column("cap_xml", Text, nullable=False),
        Column("created_by", String(80), nullable=False),
        comment="Warnings issued or received, kept as their CAP 1.2 documents",
    )
