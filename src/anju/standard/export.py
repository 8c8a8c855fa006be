"""Export stored records upward in the data standard: field codes as keys, the standard's formats.

DATE values go out as local `YYYY-MM-DD HH:MM:SS` (the form the standard's consumers expect), images as
base64. Fields that were not in the standard (kept in `_extra`) are not exported. Rows are streamed, so
memory stays flat on any table size.
"""

from __future__ import annotations

import base64
import csv
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import IO, Any

import orjson
from sqlalchemy import select

from anju.config import Settings
from anju.db.database import Database
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
    db: Database, settings: Settings, type_slug: str, *, since: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Stored records of one type in arrival order; `since` (UTC) filters on when Anju received them,
    so that an incremental export never misses a record that arrived late with an old event time."""
    rtype = record_type(type_slug)
    table = db.table(rtype.table_name)
    cols = [table.c[f.column] for f in rtype.fields]
    fmt = [(f.code, _formatter(f, settings)) for f in rtype.fields]
    query = select(*cols).order_by(table.c.pk)
    if since is not None:
        query = query.where(table.c._received_at >= since.replace(tzinfo=None))
    with db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=_FETCH).execute(query)
        for row in result:
            yield {code: fn(v) for (code, fn), v in zip(fmt, row, strict=True) if v is not None}


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
