"""Bulk insert of validated rows: batched executemany on SQLite, COPY on PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, DateTime, Table


def _positions(table: Table, columns: Sequence[str]) -> tuple[list[int], list[int]]:
    dates = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, DateTime)]
    jsons = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    return dates, jsons


def insert_rows(conn: Connection, table: Table, columns: Sequence[str], rows: list[list[Any]]) -> None:
    """Insert rows (lists in `columns` order; the lists are modified in place)."""
    if not rows:
        return
    dates, jsons = _positions(table, columns)
    for row in rows:
        for i in jsons:
            if row[i] is not None:
                row[i] = orjson.dumps(row[i]).decode()
    names = ", ".join(f'"{c}"' for c in columns)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
        return
    for row in rows:
        for i in dates:
            v = row[i]
            if v is not None:
                row[i] = v.isoformat(" ") if isinstance(v, datetime) else v  # SQLAlchemy's SQLite form
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" * len(columns))})'
    conn.exec_driver_sql(sql, [tuple(r) for r in rows])
