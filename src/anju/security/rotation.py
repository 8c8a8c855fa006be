"""Key rotation: a new SM4 key version, then every sealed value re-encrypted under it, batch by batch.

Each batch is its own short transaction and old versions stay in the key file, so readers and writers
carry on throughout: a value is readable under whichever version sealed it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, func, select, update

from anju.db.engine import WRITE_OPTIONS
from anju.security.personal import personal_fields
from anju.services import Services
from anju.standard.spec import load_standard

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


def count_sealed_rows(svc: Services) -> int:
    total = 0
    with svc.db.engine.connect() as conn:
        for rtype in load_standard().values():
            if personal_fields(rtype):
                t = svc.db.table(rtype.table_name)
                total += int(conn.execute(select(func.count()).select_from(t)).scalar_one())
        q = svc.db.table("quarantine")
        total += int(conn.execute(select(func.count()).select_from(q)).scalar_one())
    return total


def rotate(svc: Services, *, actor: str, progress: Callable[[int], None] | None = None) -> RotationReport:
    version = svc.keyring.rotate()
    report = RotationReport(version)
    svc.audit.record(actor=actor, action="keys.rotate", target=f"encryption:v{version}")
    for rtype in load_standard().values():
        fields = personal_fields(rtype)
        if not fields:
            continue
        table = svc.db.table(rtype.table_name)
        cols = [table.c[f.column] for f in fields]
        done = 0
        last = 0
        while True:
            with svc.db.engine.connect() as conn:
                rows = conn.execute(
                    select(table.c.pk, table.c.id, *cols)
                    .where(table.c.pk > last)
                    .order_by(table.c.pk)
                    .limit(BATCH)
                ).all()
            if not rows:
                break
            last = rows[-1].pk
            changes = []
            for row in rows:
                values = dict(row._mapping)
                changed = svc.protector.reseal(rtype, values, values["id"])
                if changed:
                    # Every sealed column is written, unchanged ones with their own value, so that one
                    # executemany statement fits every row.
                    changes.append(
                        {"_pk": row.pk, **{c.name: changed.get(c.name, values[c.name]) for c in cols}}
                    )
            if changes:
                stmt = (
                    update(table)
                    .where(table.c.pk == bindparam("_pk"))
                    .values({c.name: bindparam(c.name) for c in cols})
                )
                with svc.db.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
                    conn.execute(stmt, changes)
                done += len(changes)
            if progress is not None:
                progress(len(rows))
        report.resealed[rtype.slug] = done
    q = svc.db.table("quarantine")
    done = 0
    last = 0
    while True:
        with svc.db.engine.connect() as conn:
            rows = conn.execute(
                select(q.c.pk, q.c.raw, q.c.raw_hash).where(q.c.pk > last).order_by(q.c.pk).limit(BATCH)
            ).all()
        if not rows:
            break
        last = rows[-1].pk
        changes = []
        for row in rows:
            sealed = svc.protector.reseal_raw(row.raw, row.raw_hash)
            if sealed is not None:
                changes.append({"_pk": row.pk, "raw": sealed})
        if changes:
            with svc.db.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
                conn.execute(
                    update(q).where(q.c.pk == bindparam("_pk")).values(raw=bindparam("raw")), changes
                )
            done += len(changes)
        if progress is not None:
            progress(len(rows))
    report.resealed["quarantine"] = done
    svc.audit.record(
        actor=actor, action="keys.reencrypted", target=f"encryption:v{version}", detail=report.to_json()
    )
    return report
