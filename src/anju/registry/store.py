"""Writing registry rows: idempotent upserts where a later source time supersedes an earlier one.

Every writer (the projection of records, doorplate self-registration, staff edits, fixtures) goes
through `RegistryStore.upsert`, so the rule is one rule: a row is created once; a write whose source time
is older than the row's is stale and changes nothing; a write that would store the same values changes
nothing; anything else updates the row. Sealed columns are compared as plaintext (their ciphertexts
differ on every encryption) and sealed again on write.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Row, Table, insert, select, update

from anju.registry.sealing import RegistrySealer
from anju.registry.tables import BLIND, SEALED

Change = Literal["created", "updated", "unchanged", "stale"]
_PROVENANCE = (
    "source",
    "source_record",
    "source_time",
    "verified_at",
    "verified_by",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a write comes from: a record (type slug, record ID, its own time) or a person's act."""

    source: str
    source_record: str | None = None
    source_time: datetime | None = None
    verified_by: str | None = None  # set when the source is authoritative (data/verification.yaml)


def naive_utc(value: datetime | None) -> datetime | None:
    """Datetimes are stored naive in UTC (SQLite keeps no offsets)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return naive_utc(a) == naive_utc(b)
    if isinstance(a, date) and isinstance(b, date):
        return a == b
    if isinstance(a, float) or isinstance(b, float):
        try:
            return a is not None and b is not None and abs(float(a) - float(b)) < 1e-9
        except (TypeError, ValueError):
            return False
    return bool(a == b)


class RegistryStore:
    def __init__(self, tables: Mapping[str, Table], sealer: RegistrySealer) -> None:
        self.tables = tables
        self.sealer = sealer

    def table(self, name: str) -> Table:
        return self.tables[name]

    # ---- reading -----------------------------------------------------------------------------------
    def get(self, conn: Connection, table: str, row_id: str, *, key: str = "id") -> Row[Any] | None:
        t = self.tables[table]
        return conn.execute(select(t).where(t.c[key] == row_id)).first()

    def opened(self, table: str, row: Row[Any] | Mapping[str, Any], *, key: str = "id") -> dict[str, Any]:
        values = dict(row._mapping) if isinstance(row, Row) else dict(row)
        return self.sealer.open(table, str(values[key]), values)

    def masked(self, table: str, row: Row[Any] | Mapping[str, Any], *, key: str = "id") -> dict[str, Any]:
        values = dict(row._mapping) if isinstance(row, Row) else dict(row)
        return self.sealer.masked(table, str(values[key]), values)

    def person_by_id_number(self, conn: Connection, id_number: str) -> str | None:
        t = self.tables["person"]
        blind = self.sealer.blind("id_number", id_number)
        return conn.execute(select(t.c.id).where(t.c._bi_id_number == blind)).scalar()

    def people_by_phone(self, conn: Connection, phone: str) -> list[str]:
        t = self.tables["person"]
        blind = self.sealer.blind("phone", phone)
        return list(conn.execute(select(t.c.id).where(t.c._bi_phone == blind)).scalars())

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    # ---- writing -----------------------------------------------------------------------------------
    def upsert(
        self,
        conn: Connection,
        table: str,
        row_id: str,
        values: Mapping[str, Any],
        provenance: Provenance,
        *,
        now: datetime,
        key: str = "id",
    ) -> Change:
        """Create or update one row keyed by `row_id`; see the module's docstring for the rule.

        `values` holds plaintext for the sealed columns; None values of an update leave the stored value
        alone (a record that omits an optional field does not erase what an earlier one said)."""
        t = self.tables[table]
        now = naive_utc(now) or now
        when = naive_utc(provenance.source_time)
        stored = self.get(conn, table, row_id, key=key)
        if stored is None:
            row = {key: row_id, **values}
            sealed = self.sealer.seal(table, row_id, row)
            conn.execute(
                insert(t).values(
                    **sealed,
                    source=provenance.source,
                    source_record=provenance.source_record,
                    source_time=when,
                    verified_at=now if provenance.verified_by else None,
                    verified_by=provenance.verified_by,
                    created_at=now,
                    updated_at=now,
                )
            )
            return "created"
        previous = naive_utc(stored._mapping["source_time"])
        if when is not None and previous is not None and when < previous:
            if provenance.verified_by is not None and stored._mapping["verified_at"] is None:
                # An older record of an authoritative source changes no value, but it still attests the
                # row: the police registered this person, whatever a later desk record added.
                conn.execute(
                    update(t)
                    .where(t.c[key] == row_id)
                    .values(verified_at=now, verified_by=provenance.verified_by, updated_at=now)
                )
                return "updated"
            return "stale"
        raw = dict(stored._mapping)
        current = {**raw, **self.sealer.open(table, row_id, raw)}  # keeps the stored blind indexes
        changed = {
            column: value
            for column, value in values.items()
            if value is not None and column not in _PROVENANCE and not _same(current.get(column), value)
        }
        verify = provenance.verified_by is not None and stored._mapping["verified_at"] is None
        if not changed and not verify:
            return "unchanged"
        update_values = self._sealed_subset(table, row_id, changed, values)
        update_values.update(
            source=provenance.source,
            source_record=provenance.source_record,
            source_time=when if when is not None else previous,
            updated_at=now,
        )
        if verify:
            update_values.update(verified_at=now, verified_by=provenance.verified_by)
        conn.execute(update(t).where(t.c[key] == row_id).values(**update_values))
        return "updated"

    def _sealed_subset(
        self, table: str, row_id: str, changed: Mapping[str, Any], values: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Seal only the changed columns and refresh the blind index of each changed sealed column,
        keeping a blind index the caller gave (of a normalised form, as residence addresses have)."""
        blinds = BLIND.get(table, {})
        given = {b: values[b] for c, b in blinds.items() if c in changed and values.get(b) is not None}
        sealed = self.sealer.seal(table, row_id, {**changed, **given})
        return {
            k: v
            for k, v in sealed.items()
            if k in changed or any(k == blinds.get(c) for c in changed if c in SEALED.get(table, {}))
        }

    def verify(self, conn: Connection, table: str, row_id: str, *, actor: str, now: datetime) -> bool:
        """Mark a row verified by `actor`; False when there is no such row."""
        t = self.tables[table]
        done = conn.execute(
            update(t)
            .where(t.c.id == row_id)
            .values(verified_at=naive_utc(now), verified_by=actor, updated_at=naive_utc(now))
        )
        return bool(done.rowcount)
