"""Export stored records upward in the data standard: field codes as keys, the standard's formats.

DATE values go out as local `YYYY-MM-DD HH:MM:SS` (the form the standard's consumers expect), images as
base64. Fields that were not in the standard (kept in `_extra`) are not exported. Rows are streamed, so
memory stays flat on any table size.
"""

from __future__ import annotations

import base64
import csv
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import IO, Any

import orjson
from sqlalchemy import ColumnElement, select

from anju.config import Settings
from anju.db.database import Database
from anju.security.personal import RecordProtector
from anju.standard.checks import format_local
from anju.standard.spec import FieldSpec, record_type

_FETCH = 5000


def _formatter(f: FieldSpec, settings: Settings) -> Callable[[Any], Any]:
    tz = settings.timezone
    if f.type == "DATE":
        return lambda v: format_local(v, tz)
    if f.type == "BLOB":
        return lambda v: base64.b64encode(v).decode("ascii")
    return lambda v: v


def iter_records(
    db: Database,
    settings: Settings,
    type_slug: str,
    protector: RecordProtector,
    *,
    since: datetime | None = None,
    estates: frozenset[str] | set[str] | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> Iterator[dict[str, Any]]:
    """Stored records of one type in arrival order, personal fields decrypted (mask them before they
    leave: security.personal.mask_record). `since` (UTC) filters on when Anju received them, so that an
    incremental export never misses a record that arrived late with an old event time; `estates` (None:
    all) limits them to a caller's scope; `where` adds conditions on the record table."""
    rtype = record_type(type_slug)
    table = db.table(rtype.table_name)
    cols = [table.c[f.column] for f in rtype.fields]
    names = [f.column for f in rtype.fields]
    fmt = [(f.code, f.column, _formatter(f, settings)) for f in rtype.fields]
    query = select(*cols).order_by(table.c.pk).where(*where)
    if since is not None:
        query = query.where(table.c._received_at >= since.replace(tzinfo=None))
    if estates is not None:
        query = query.where(table.c._estate.in_(sorted(estates)))
    with db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=_FETCH).execute(query)
        for row in result:
            values = dict(zip(names, row, strict=True))
            values = protector.open_values(rtype, values, values["id"])
            yield {code: fn(values[col]) for code, col, fn in fmt if values[col] is not None}


def write_ndjson(records: Iterator[dict[str, Any]], out: IO[bytes]) -> int:
    n = 0
    for rec in records:
        out.write(orjson.dumps(rec))
        out.write(b"\n")
        n += 1
    return n


def write_csv(type_slug: str, records: Iterator[dict[str, Any]], out: IO[str]) -> int:
    codes = [f.code for f in record_type(type_slug).fields]
    writer = csv.writer(out)
    writer.writerow(codes)
    n = 0
    for rec in records:
        writer.writerow(["" if rec.get(c) is None else rec[c] for c in codes])
        n += 1
    return n
