"""Engines for the embedded default (SQLite, WAL) and for PostgreSQL (psycopg 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def normalise_url(url: str) -> str:
    """Let users write postgresql://…; Anju talks to PostgreSQL through psycopg 3."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _sqlite_pragmas(engine)
        return engine
    # No server-side prepared statements: psycopg prepares a query after five runs, and PostgreSQL may then
    # keep a generic plan costed while a table was still small (a sequential scan for the batch's ID
    # look-up), which turns every later look-up into a full scan of a growing table.
    return create_engine(url, pool_pre_ping=True, connect_args={"prepare_threshold": None})


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN below take the write lock; pysqlite's own transaction handling would not.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # Inserts land in several indexes in no particular order; a 64 MiB page cache (default: 2 MiB)
        # keeps their upper levels in memory instead of re-reading them from disk for every batch.
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        # Writers ask for IMMEDIATE (see write_options) so that a batch's ID look-up and its insert see one
        # database state; readers stay DEFERRED and never wait behind an ingestion batch (WAL).
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


# Execution options for a connection that will write: on SQLite the transaction takes the write lock first.
WRITE_OPTIONS: dict[str, Any] = {"sqlite_begin": "IMMEDIATE"}
