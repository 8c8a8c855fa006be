"""Tables of the alarm module: alarms, their history, notifications and the engine's rule state.

One open alarm per (originator, type) is the database's rule, not only the code's: `open_key` is
"<originator kind>:<originator id>:<type>" while the alarm is open and NULL once it is closed, under a
unique constraint (NULLs are distinct on SQLite and PostgreSQL), and raising is an INSERT … ON CONFLICT
(open_key) DO UPDATE that counts the re-trigger. ThingsBoard's duplicate alarms under concurrency
(shared/reference/anchors.md) come from checking in code only.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Float, Index, Integer, MetaData, String, Table

SEVERITIES = ("critical", "major", "minor", "warning", "indeterminate")  # highest first


def alarm_tables(metadata: MetaData) -> None:
    alarm = Table(
        "alarm",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("type", String(40), nullable=False),  # alarms/data/rules.yaml alarm types
        Column("rule", String(60), nullable=True),  # the rule that raised it (None: raised by a person)
        Column("severity", String(14), nullable=False),  # SEVERITIES
        Column("originator_kind", String(12), nullable=False),  # device | house | person | building | estate
        Column("originator_id", String(80), nullable=False),
        Column("open_key", String(140), nullable=True, unique=True),
        Column("estate", String(40), nullable=True),  # scope: the region tree above it sees it too
        Column("title_zh", String(200), nullable=False),
        Column("title_en", String(200), nullable=False),
        Column("location", String(300), nullable=True),
        Column("lon", Float, nullable=True),  # WGS-84
        Column("lat", Float, nullable=True),
        Column("details", JSON, nullable=False),
        Column("records", JSON, nullable=False),  # "<record type>:<ID>" of the records that caused it
        Column("cameras", JSON, nullable=False),  # nearest cameras: [{id, name, distance_m}]
        Column("count", Integer, nullable=False),
        Column("first_seen_at", DateTime, nullable=False),
        Column("last_seen_at", DateTime, nullable=False),
        Column("cleared", Boolean, nullable=False, default=False),
        Column("cleared_at", DateTime, nullable=True),
        Column("cleared_by", String(80), nullable=True),
        Column("acknowledged", Boolean, nullable=False, default=False),
        Column("acknowledged_at", DateTime, nullable=True),
        Column("acknowledged_by", String(80), nullable=True),
        Column("assigned_to", String(80), nullable=True),
        Column("assigned_at", DateTime, nullable=True),
        Column("assigned_by", String(80), nullable=True),
        Column("dispatched_at", DateTime, nullable=True),
        Column("dispatched_by", String(80), nullable=True),
        Column("dispatch_note", String(500), nullable=True),
        Column("closed_at", DateTime, nullable=True),
        Column("closed_by", String(80), nullable=True),
        Column("result", String(500), nullable=True),
        Column("escalation_level", Integer, nullable=False, default=0),
        Column("next_escalation_at", DateTime, nullable=True),  # None once acknowledged or closed
        Column("reminders", Integer, nullable=False, default=0),
        Column("sla_due_at", DateTime, nullable=True),  # e.g. 15 min for an elderly person's call
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
        comment="Alarms: one open per (originator, type); lifecycle active/cleared x ack/unack, then closed",
    )
    Index(None, alarm.c.estate, alarm.c.closed_at)
    Index(None, alarm.c.last_seen_at)
    Index(None, alarm.c.next_escalation_at)
    event = Table(
        "alarm_event",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("alarm_id", Integer, nullable=False),
        Column("at", DateTime, nullable=False),
        Column("actor", String(80), nullable=False),
        # raised | retriggered | acknowledged | assigned | dispatched | commented | cleared | closed |
        # escalated | reminded | notified
        Column("action", String(20), nullable=False),
        Column("detail", JSON, nullable=False),
        comment="Every transition and comment of an alarm, with who and when",
    )
    Index(None, event.c.alarm_id, event.c.pk)
    note = Table(
        "notification",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("alarm_id", Integer, nullable=True),
        Column("channel", String(12), nullable=False),  # webhook | email | sms
        Column("target", String(600), nullable=False),  # sealed when it is a phone or an address
        Column("target_masked", String(200), nullable=False),
        Column("purpose", String(40), nullable=False),  # duty_officer | emergency_contact | escalation | ...
        Column("payload", JSON, nullable=False),
        Column("status", String(10), nullable=False),  # pending | sent | failed (gave up)
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", String(500), nullable=True),
        Column("next_attempt_at", DateTime, nullable=True),
        Column("created_at", DateTime, nullable=False),
        Column("sent_at", DateTime, nullable=True),
        comment="Notifications of alarms through pluggable channels, with delivery status and retries",
    )
    Index(None, note.c.status, note.c.next_attempt_at)
    Index(None, note.c.alarm_id)
    Table(
        "rule_state",
        metadata,
        Column("key", String(200), primary_key=True),  # "<rule>:<subject>"
        Column("rule", String(60), nullable=False),
        Column("value", JSON, nullable=False),  # last heard, repeat windows, duration starts
        Column("updated_at", DateTime, nullable=False),
        comment="What the alarm engine remembers between records: silences, repeats, durations",
    )
    watch = Table(
        "watchlist",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("kind", String(12), nullable=False),  # plate | id_number | face (a face-library person ID)
        # HMAC-SM3 blind index of the normalised value: a watchlist never holds a plate or ID in clear.
        Column("blind", String(32), nullable=False),
        Column("masked", String(60), nullable=False),  # what staff see in lists
        Column("label", String(200), nullable=False),  # why the entry is watched
        Column("severity", String(14), nullable=False),
        Column("estate", String(40), nullable=True),  # None: the whole platform
        Column("added_by", String(80), nullable=False),
        Column("added_at", DateTime, nullable=False),
        Column("expires_at", DateTime, nullable=True),
        comment="Watchlists of plates and certificate numbers, as blind indexes",
    )
    Index(None, watch.c.kind, watch.c.blind)
