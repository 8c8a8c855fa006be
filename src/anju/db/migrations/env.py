"""Alembic environment: runs on the connection Anju hands it (see anju.db.database.Database.upgrade)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from anju.db.schema import METADATA

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # the `alembic` command line, for writing new revisions
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///./anju-data/anju.db")
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=METADATA, render_as_batch=True)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=METADATA, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
