"""Key rotation: a new SM4 key version, then every sealed value re-encrypted under it, batch by batch.

Each batch is its own short transaction and old versions stay in the key file, so readers and writers
carry on throughout: a value is readable under whichever version sealed it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update

from anju.affairs.tables import SEALED as AFFAIRS_SEALED
from anju.db.engine import WRITE_OPTIONS
from anju.emergency.ops_tables import OPS_SEALED
from anju.emergency.tables import SEALED as EMERGENCY_SEALED
from anju.patrols.tables import SEALED as PATROL_SEALED
from anju.registry.projection import seal_row_id_column
from anju.registry.tables import SEALED
from anju.security.crypto import FieldCipher
from anju.security.personal import personal_fields
from anju.services import Services
from anju.standard.spec import RecordType, load_standard

BATCH = 1000


@dataclass
class RotationReport:
    version: int
    resealed: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.resealed.values())

    def to_json(self) -> dict[str, object]:
        return {"version": self.version, "resealed": self.resealed, "total": self.total}


Resealer = Callable[[dict[str, Any]], dict[str, Any]]


def _registry_tables(svc: Services) -> list[Table]:
    return [svc.db.table(name) for name in SEALED]


# Modules that seal columns of their own tables, bound to the row's primary key: table -> sealed columns.
MODULE_SEALED: dict[str, tuple[str, ...]] = {
    name: tuple(columns)
    for sealed in (EMERGENCY_SEALED, OPS_SEALED, AFFAIRS_SEALED, PATROL_SEALED)
    for name, columns in sealed.items()
}


def _module_tables(svc: Services) -> list[Table]:
    return [svc.db.table(name) for name in MODULE_SEALED]


def _primary_key(table: Table) -> str:
    [column] = table.primary_key.columns
    return str(column.name)


def count_sealed_rows(svc: Services) -> int:
    total = 0
    with svc.db.engine.connect() as conn:
        tables = [svc.db.table(t.table_name) for t in load_standard().values() if personal_fields(t)]
        for t in [*tables, svc.db.table("quarantine"), *_registry_tables(svc), *_module_tables(svc)]:
            total += int(conn.execute(select(func.count()).select_from(t)).scalar_one())
    return total


def _reseal_table(
    svc: Services,
    table: Table,
    key: str,
    read: list[str],
    write: list[str],
    reseal: Resealer,
    progress: Callable[[int], None] | None,
) -> int:
    """Walk `table` in `key` order, BATCH rows per short transaction, and write back what `reseal`
    re-encrypted; returns how many rows changed.

    Every column in `write` is written for a changed row, unchanged ones with their own value, so that one
    executemany statement fits every row."""
    k = table.c[key]
    stmt = update(table).where(k == bindparam("_key")).values({c: bindparam(c) for c in write})
    done = 0
    last: Any = None
    while True:
        query = select(k, *(table.c[c] for c in read if c != key)).order_by(k).limit(BATCH)
        if last is not None:
            query = query.where(k > last)
        with svc.db.engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            break
        last = rows[-1]._mapping[key]
        changes = []
        for row in rows:
            values = dict(row._mapping)
            changed = reseal(values)
            if changed:
                changes.append({"_key": values[key], **{c: changed.get(c, values[c]) for c in write}})
        if changes:
            with svc.db.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
                conn.execute(stmt, changes)
            done += len(changes)
        if progress is not None:
            progress(len(rows))
    return done


def _record_resealer(svc: Services, rtype: RecordType) -> Resealer:
    return lambda values: svc.protector.reseal(rtype, values, values["id"])


def _quarantine_resealer(svc: Services) -> Resealer:
    def reseal(values: dict[str, Any]) -> dict[str, Any]:
        sealed = svc.protector.reseal_raw(values["raw"], values["raw_hash"])
        return {} if sealed is None else {"raw": sealed}

    return reseal


def _registry_resealer(svc: Services, table: str, row_id: str) -> Resealer:
    return lambda values: svc.registry.sealer.reseal(table, str(values[row_id]), values)


def _module_resealer(svc: Services, table: str, key: str) -> Resealer:
    """A module table's sealed text columns that an older key version sealed, re-encrypted under the
    current one (each bound to table, column and the row's key, as the module sealed it)."""
    cipher = svc.protector.cipher

    def reseal(values: dict[str, Any]) -> dict[str, Any]:
        current = svc.protector.keyring.current
        row_id = str(values[key])
        changed: dict[str, Any] = {}
        for col in MODULE_SEALED[table]:
            stored = values.get(col)
            if stored and FieldCipher.version_of(stored) != current:
                changed[col] = cipher.encrypt_text(
                    cipher.decrypt_text(stored, table, col, row_id), table, col, row_id
                )
        return changed

    return reseal


def rotate(svc: Services, *, actor: str, progress: Callable[[int], None] | None = None) -> RotationReport:
    version = svc.keyring.rotate()
    report = RotationReport(version)
    svc.audit.record(actor=actor, action="keys.rotate", target=f"encryption:v{version}")
    for rtype in load_standard().values():
        fields = personal_fields(rtype)
        if not fields:
            continue
        cols = [f.column for f in fields]
        report.resealed[rtype.slug] = _reseal_table(
            svc,
            svc.db.table(rtype.table_name),
            "pk",
            ["id", *cols],
            cols,
            _record_resealer(svc, rtype),
            progress,
        )
    report.resealed["quarantine"] = _reseal_table(
        svc,
        svc.db.table("quarantine"),
        "pk",
        ["raw", "raw_hash"],
        ["raw"],
        _quarantine_resealer(svc),
        progress,
    )
    for table in _registry_tables(svc):
        name = table.name
        cols = list(SEALED[name])
        row_id = seal_row_id_column(name)
        report.resealed[name] = _reseal_table(
            svc,
            table,
            "pk" if "pk" in table.c else "id",
            [row_id, *cols],
            cols,
            _registry_resealer(svc, name, row_id),
            progress,
        )
    for table in _module_tables(svc):
        key, cols = _primary_key(table), list(MODULE_SEALED[table.name])
        report.resealed[table.name] = _reseal_table(
            svc, table, key, [key, *cols], cols, _module_resealer(svc, table.name, key), progress
        )
    svc.audit.record(
        actor=actor, action="keys.reencrypted", target=f"encryption:v{version}", detail=report.to_json()
    )
    return report
