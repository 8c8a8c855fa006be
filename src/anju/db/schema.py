"""SQLAlchemy Core tables, derived from the data standard's record types.

Each record type gets a table `rec_<slug>` with one typed column per field (lower-case field code) and a
few platform columns, all prefixed with an underscore so that they cannot collide with a field code:
`_estate`, `_source`, `_received_at` (UTC), `_hash` (content digest of the normalised row) and
`_extra` (fields that are not in the standard, kept as sent).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

from anju.affairs.tables import affairs_tables
from anju.alarms.tables import alarm_tables
from anju.emergency.ops_tables import emergency_ops_tables
from anju.emergency.tables import emergency_tables
from anju.evaluation.attestations import attestation_table
from anju.notices.tables import notice_tables
from anju.patrols.tables import patrol_tables
from anju.registry.regions import region_table
from anju.registry.tables import registry_tables
from anju.security.audit import audit_table
from anju.security.crypto import BLIND_INDEX_HEX
from anju.security.personal import blind_column, blind_fields
from anju.security.tables import security_tables
from anju.standard.spec import FieldSpec, RecordType, load_standard

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}
# Above this VARCHAR2 length a column is TEXT: PostgreSQL and SQLite treat both alike, and it keeps
# 20000-character notice bodies out of fixed-width columns.
_TEXT_ABOVE = 4000


def column_type(f: FieldSpec) -> TypeEngine[Any]:
    if f.type == "VARCHAR2":
        # Personal fields will hold ciphertext (security issue), which is longer than the plain value.
        if f.personal is not None or (f.length or 0) > _TEXT_ABOVE:
            return Text()
        return String(f.length)
    if f.type == "NUMBER":
        if f.precision is not None and not f.scale:
            return BigInteger()
        return Float()
    if f.type == "DATE":
        return DateTime()
    return LargeBinary()


def _record_table(metadata: MetaData, rtype: RecordType) -> Table:
    columns: list[Column[object]] = [Column("pk", Integer, primary_key=True, autoincrement=True)]
    for f in rtype.fields:
        if f.code == "ID":
            columns.append(Column("id", String(f.length), nullable=False, unique=True))
        else:
            columns.append(Column(f.column, column_type(f), nullable=True, comment=f.zh))
    columns += [
        Column("_estate", String(40), nullable=True),
        Column("_source", String(200), nullable=False),
        Column("_received_at", DateTime, nullable=False),
        Column("_hash", String(32), nullable=False),
        Column("_extra", JSON, nullable=True),
    ]
    # Keyed HMAC-SM3 of ID numbers, phones and plates: exact search over encrypted values (security/).
    blinds: list[Column[object]] = [
        Column(blind_column(f.column), String(BLIND_INDEX_HEX), nullable=True) for f in blind_fields(rtype)
    ]
    columns += blinds
    table = Table(rtype.table_name, metadata, *columns, comment=f"{rtype.title_zh} {rtype.section}")
    for col in blinds:
        Index(None, table.c[col.name])
    Index(None, table.c._estate)
    Index(None, table.c._received_at)
    if rtype.time_field:
        Index(None, table.c[rtype.field(rtype.time_field).column])
    if rtype.device_field:
        Index(None, table.c[rtype.field(rtype.device_field).column])
    return table


def build_metadata() -> MetaData:
    metadata = MetaData(naming_convention=NAMING)
    for rtype in load_standard().values():
        _record_table(metadata, rtype)
    quarantine = Table(
        "quarantine",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("record_type", String(40), nullable=False),
        Column("record_id", String(200), nullable=True),
        Column("reason", String(20), nullable=False),  # invalid | conflict | undecodable
        Column("status", String(20), nullable=False),  # open | released
        Column("source", String(200), nullable=False),
        Column("source_detail", String(500), nullable=True),
        Column("estate", String(40), nullable=True),
        Column("raw", Text, nullable=False),
        Column("raw_encoding", String(10), nullable=False),  # utf-8 | base64
        Column("raw_hash", String(32), nullable=False),
        Column("errors", JSON, nullable=False),
        Column("received_at", DateTime, nullable=False),
        Column("last_seen_at", DateTime, nullable=False),
        Column("seen_count", Integer, nullable=False, default=1),
        Column("attempts", Integer, nullable=False, default=0),
        Column("released_at", DateTime, nullable=True),
        comment="Records that failed validation or conflicted: kept raw with every finding, replayable",
    )
    Index(None, quarantine.c.record_type, quarantine.c.raw_hash, unique=True)
    Index(None, quarantine.c.status, quarantine.c.record_type)
    Index(None, quarantine.c.record_id)
    Table(
        "ingest_batch",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("record_type", String(40), nullable=False),
        Column("source", String(200), nullable=False),
        Column("estate", String(40), nullable=True),
        Column("started_at", DateTime, nullable=False),
        Column("finished_at", DateTime, nullable=False),
        Column("received", Integer, nullable=False),
        Column("accepted", Integer, nullable=False),
        Column("duplicates", Integer, nullable=False),
        Column("rejected", Integer, nullable=False),
        Column("conflicts", Integer, nullable=False),
        Column("warnings", Integer, nullable=False),
        comment="One row per committed batch: what came in and what became of it",
    )
    audit_table(metadata)
    security_tables(metadata)
    region_table(metadata)
    registry_tables(metadata)
    alarm_tables(metadata)
    attestation_table(metadata)
    emergency_tables(metadata)
    emergency_ops_tables(metadata)
    notice_tables(metadata)
    patrol_tables(metadata)
    affairs_tables(metadata)
    return metadata


METADATA = build_metadata()
