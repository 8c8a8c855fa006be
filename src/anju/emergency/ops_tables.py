"""The tables of emergency operations: risk zones, resources, dispatch, incidents, warning publication.

Times are stored naive in UTC. A resource's contact person and phone are personal data and stored sealed
(SM4-GCM, bound to table, column and row; see responders.py); nothing else here is personal. The warnings
themselves are the CAP documents of `emergency_warning` (tables.py, migration 0007); this module adds how
each was published to residents. Duty is the file roster of alarms/duty.py, not a table.
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
)

# Columns holding personal data, sealed with the platform's field cipher: table -> column -> masking kind.
OPS_SEALED: dict[str, dict[str, str]] = {
    "emergency_resource": {"contact_name": "name", "contact_phone": "phone"}
}


def emergency_ops_tables(metadata: MetaData) -> None:
    """Add these tables to `metadata` (db/schema.py builds the platform's metadata from these)."""
    zone = Table(
        "risk_zone",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("estate", String(40), nullable=False),
        Column("hazard", String(40), nullable=False),  # risk.yaml hazards
        Column("level", String(20), nullable=False),  # risk.yaml levels
        Column("name", String(200), nullable=False),
        Column("geometry", JSON, nullable=False),  # GeoJSON Polygon or MultiPolygon, WGS-84
        Column("description", Text, nullable=True),
        Column("assessed_on", Date, nullable=False),
        Column("reviewer", String(80), nullable=False),  # a staff account or an office, not a resident
        Column("retired_at", DateTime, nullable=True),  # withdrawn from the map
        Column("created_at", DateTime, nullable=False),
        Column("created_by", String(80), nullable=False),
        Column("updated_at", DateTime, nullable=False),
        comment="Disaster risk zones of the risk map (SE67): hazard, level, assessment date and reviewer",
    )
    Index(None, zone.c.estate)
    resource = Table(
        "emergency_resource",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("region", String(40), nullable=False),  # estate, community or district it serves
        Column("kind", String(30), nullable=False),  # resources.yaml kinds
        Column("name", String(200), nullable=False),
        Column("contact_name", Text, nullable=True),  # sealed
        Column("contact_phone", Text, nullable=True),  # sealed
        Column("address", String(300), nullable=True),
        Column("lon", Float, nullable=True),
        Column("lat", Float, nullable=True),
        Column("available", Boolean, nullable=False),
        Column("created_at", DateTime, nullable=False),
        Column("created_by", String(80), nullable=False),
        Column("updated_at", DateTime, nullable=False),
        comment="Emergency resources (SE66, SE43): departments, teams, volunteers, AEDs, first-aid kits",
    )
    Index(None, resource.c.region, resource.c.kind)
    incident = Table(
        "emergency_incident",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("estate", String(40), nullable=False),
        Column("title", String(200), nullable=False),
        Column("hazard", String(40), nullable=True),  # hazards.yaml
        Column("alarm_id", Integer, nullable=True),
        Column("lon", Float, nullable=True),
        Column("lat", Float, nullable=True),
        Column("commander", String(80), nullable=False),  # a username
        Column("opened_at", DateTime, nullable=False),
        Column("opened_by", String(80), nullable=False),
        Column("closed_at", DateTime, nullable=True),
        Column("closed_by", String(80), nullable=True),
        Column("outcome", String(20), nullable=True),  # resources.yaml outcomes
        Column("report", JSON, nullable=True),  # the after-action report
        comment="Emergency incidents: commander, action log, dispatches and after-action report",
    )
    Index(None, incident.c.estate, incident.c.opened_at)
    log = Table(
        "emergency_incident_log",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("incident_id", Integer, nullable=False),
        Column("at", DateTime, nullable=False),
        Column("actor", String(80), nullable=False),
        Column(
            "kind", String(20), nullable=False
        ),  # opened | note | command | dispatch | ack | arrival | closed
        Column("text", Text, nullable=False),
        comment="An incident's action log, never edited",
    )
    Index(None, log.c.incident_id, log.c.pk)
    dispatch = Table(
        "emergency_dispatch",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("resource_id", Integer, nullable=False),
        Column("estate", String(40), nullable=False),  # where it was sent: the incident's or alarm's estate
        Column("incident_id", Integer, nullable=True),
        Column("alarm_id", Integer, nullable=True),
        Column("note", String(500), nullable=False),
        Column("dispatched_at", DateTime, nullable=False),
        Column("dispatched_by", String(80), nullable=False),
        Column("acknowledged_at", DateTime, nullable=True),
        Column("acknowledged_by", String(80), nullable=True),
        Column("arrived_at", DateTime, nullable=True),
        Column("arrived_by", String(80), nullable=True),
        comment="Resources sent to an incident or an alarm, with acknowledgement and arrival times",
    )
    Index(None, dispatch.c.estate, dispatch.c.dispatched_at)
    Index(None, dispatch.c.incident_id)
    Index(None, dispatch.c.alarm_id)
    publication = Table(
        "emergency_warning_publication",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("warning_id", String(120), nullable=False),  # emergency_warning.id
        Column("state", String(12), nullable=False),  # published | pending
        Column("channels", JSON, nullable=False),
        Column("notice_id", Integer, nullable=True),  # the notice that carried it, once published
        Column("at", DateTime, nullable=False),
        Column("actor", String(80), nullable=False),
        comment="How each warning reached residents through the notice channels (pending until it has)",
    )
    Index(None, publication.c.warning_id)
