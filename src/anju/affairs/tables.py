"""The affairs module's tables (migration 0010).

People are referred to by registry person id (`person.id`), never copied. What is personal and not in the
registry (names of work-group members and attendees, free-text findings about a special person) is stored
sealed (SM4-GCM, bound to table, column and row id): `SEALED` lists those columns and their masking kind.
Times are naive UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
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

# table -> column -> masking kind (security/masking.py; "text": free text, identifiers in it masked)
SEALED: dict[str, dict[str, str]] = {
    "special_case": {"note": "text"},
    "special_visit": {"finding": "text"},
    "special_disposal": {"action": "text"},
    "health_member": {"name": "name", "phone": "phone"},
    "health_subject": {"name": "name", "phone": "phone", "note": "text"},
    "edu_attendance": {"name": "name"},
}


def _created() -> list[Column[object]]:
    return [
        Column("created_at", DateTime, nullable=False),
        Column("created_by", String(80), nullable=False),
    ]


def affairs_tables(metadata: MetaData) -> None:
    """Add this module's tables to `metadata` (db/schema.py builds the platform's metadata from these)."""
    _special(metadata)
    _events(metadata)
    _health(metadata)
    _education(metadata)


def _special(metadata: MetaData) -> None:
    case = Table(
        "special_case",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("person_id", String(32), nullable=False),  # registry person
        Column("estate", String(40), nullable=False),
        Column("category", String(30), nullable=False),  # registry special_populations.yaml
        Column("officer", String(80), nullable=False),  # the responsible officer (a user name)
        Column("risk_level", String(10), nullable=False),
        Column("visit_every_days", Integer, nullable=False),  # the visit plan
        Column("next_visit_on", Date, nullable=False),
        Column("equipment", JSON, nullable=False),  # locator band, one-touch call
        Column("note", Text, nullable=True),  # sealed
        Column("status", String(10), nullable=False),  # open | closed
        Column("closed_at", DateTime, nullable=True),
        *_created(),
        UniqueConstraint("person_id", "category"),
        comment="Special-population cases (SE42): one per person and category; police only",
    )
    Index(None, case.c.estate)
    visit = Table(
        "special_visit",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("case_id", Integer, nullable=False),
        Column("visited_at", DateTime, nullable=False),
        Column("method", String(20), nullable=False),
        Column("visitor", String(80), nullable=False),
        Column("risk_level", String(10), nullable=False),  # as judged at the visit
        Column("finding", Text, nullable=True),  # sealed
        *_created(),
        comment="Visits of a special-population case",
    )
    Index(None, visit.c.case_id)
    disposal = Table(
        "special_disposal",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("case_id", Integer, nullable=False),
        Column("occurred_at", DateTime, nullable=False),
        Column("kind", String(30), nullable=False),
        Column("action", Text, nullable=False),  # sealed
        Column("outcome", String(200), nullable=True),
        *_created(),
        comment="Emergency disposals during the supervision of a special person (SE42.2)",
    )
    Index(None, disposal.c.case_id)


def _events(metadata: MetaData) -> None:
    event = Table(
        "abnormal_event",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("estate", String(40), nullable=False),
        Column("type", String(30), nullable=False),
        Column("occurred_at", DateTime, nullable=False),
        Column("place", String(300), nullable=False),
        Column("lon", Float, nullable=True),
        Column("lat", Float, nullable=True),
        Column("summary", Text, nullable=False),
        Column("injured", Integer, nullable=False),
        Column("dead", Integer, nullable=False),
        Column("people", JSON, nullable=False),  # [{person_id, role}] — registry references only
        Column("status", String(12), nullable=False),
        Column("closed_at", DateTime, nullable=True),
        Column("uploaded_at", DateTime, nullable=True),  # to the upper platform
        Column("upload_result", String(12), nullable=True),
        Column("upload_ref", String(100), nullable=True),
        *_created(),
        comment="Abnormal events and injuries (SE41; 事故与伤害记录 of seed 002)",
    )
    Index(None, event.c.estate, event.c.occurred_at)
    action = Table(
        "abnormal_event_action",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("event_id", Integer, nullable=False),
        Column("at", DateTime, nullable=False),
        Column("actor", String(80), nullable=False),
        Column("action", Text, nullable=False),
        Column("status", String(12), nullable=False),  # the event's status after the action
        comment="How an abnormal event was handled, step by step",
    )
    Index(None, action.c.event_id)


def _health(metadata: MetaData) -> None:
    event = Table(
        "health_event",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("region", String(40), nullable=False),  # community or estate
        Column("title", String(200), nullable=False),
        Column("kind", String(30), nullable=False),
        Column("level", String(4), nullable=False),
        Column("started_at", DateTime, nullable=False),
        Column("ended_at", DateTime, nullable=True),
        Column("status", String(10), nullable=False),
        Column("description", Text, nullable=False),
        Column("mechanism_at", DateTime, nullable=True),  # when the work group (mechanism) was set up
        *_created(),
        comment="Public health events (SE44)",
    )
    Index(None, event.c.region, event.c.started_at)
    member = Table(
        "health_member",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("event_id", Integer, nullable=False),
        Column("name", Text, nullable=False),  # sealed
        Column("phone", Text, nullable=True),  # sealed
        Column("role", String(40), nullable=False),
        Column("unit", String(200), nullable=True),
        *_created(),
        comment="The work group of a public health event",
    )
    Index(None, member.c.event_id)
    subject = Table(
        "health_subject",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("event_id", Integer, nullable=False),
        Column("list", String(20), nullable=False),  # investigation | observation | management
        Column("person_id", String(32), nullable=True),  # registry person, when known
        Column("name", Text, nullable=True),  # sealed, for people not in the registry
        Column("phone", Text, nullable=True),  # sealed
        Column("estate", String(40), nullable=True),
        Column("start_on", Date, nullable=False),
        Column("end_on", Date, nullable=True),
        Column("status", String(12), nullable=False),
        Column("note", Text, nullable=True),  # sealed
        *_created(),
        comment="Investigation lists, medical observation and health management of a public health event",
    )
    Index(None, subject.c.event_id, subject.c.list)
    export = Table(
        "health_export",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("exported_at", DateTime, nullable=False),
        Column("exported_by", String(80), nullable=False),
        Column("format", String(8), nullable=False),
        Column("event_ids", JSON, nullable=False),
        Column("rows", Integer, nullable=False),
        comment="Exports of the public health database to the upper platform (SE44.3)",
    )
    Index(None, export.c.exported_at)


def _education(metadata: MetaData) -> None:
    material = Table(
        "edu_material",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("region", String(40), nullable=False),
        Column("title", String(200), nullable=False),
        Column("kind", String(20), nullable=False),
        Column("groups", JSON, nullable=False),  # target groups
        Column("version", Integer, nullable=False),  # the current version
        Column("content", Text, nullable=False),
        Column("url", String(500), nullable=True),
        Column("published", Boolean, nullable=False),  # open to residents on the platform (SE71.4)
        Column("updated_at", DateTime, nullable=False),
        *_created(),
        comment="Safety education materials (SE71.3-5), current version",
    )
    Index(None, material.c.region)
    Table(
        "edu_material_version",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("material_id", Integer, nullable=False),
        Column("version", Integer, nullable=False),
        Column("title", String(200), nullable=False),
        Column("content", Text, nullable=False),
        Column("url", String(500), nullable=True),
        Column("groups", JSON, nullable=False),
        Column("note", String(500), nullable=True),
        *_created(),
        UniqueConstraint("material_id", "version"),
        comment="Every version of an education material, never edited",
    )
    activity = Table(
        "edu_activity",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("region", String(40), nullable=False),
        Column("title", String(200), nullable=False),
        Column("mode", String(10), nullable=False),  # online | offline
        Column("channel", String(40), nullable=True),  # one of SE71.1's seven, for online activities
        Column("venue", String(200), nullable=True),  # for offline activities
        Column("audience", JSON, nullable=False),
        Column("participants", Integer, nullable=False),
        Column("held_at", DateTime, nullable=False),
        Column("material_ids", JSON, nullable=False),
        *_created(),
        comment="Safety education activities online and offline (SE71.1, SE71.2)",
    )
    Index(None, activity.c.region, activity.c.held_at)
    training = Table(
        "edu_training",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("region", String(40), nullable=False),
        Column("title", String(200), nullable=False),
        Column("audience", String(20), nullable=False),  # administrators | property_staff | small_places
        Column("place_kinds", JSON, nullable=False),  # small-place kinds (registry org_kinds)
        Column("topics", JSON, nullable=False),
        Column("held_at", DateTime, nullable=False),
        Column("hours", Float, nullable=False),
        Column("trainer", String(200), nullable=True),
        *_created(),
        comment="Training of administrators, property staff and small places (SE72)",
    )
    Index(None, training.c.region, training.c.held_at)
    attendance = Table(
        "edu_attendance",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("training_id", Integer, nullable=False),
        Column("name", Text, nullable=False),  # sealed
        Column("organisation", String(200), nullable=True),
        Column("org_unit_id", String(64), nullable=True),  # registry org unit, when known
        Column("attended", Boolean, nullable=False),
        *_created(),
        comment="Attendance of a training",
    )
    Index(None, attendance.c.training_id)
