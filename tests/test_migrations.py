"""Alembic migrations produce exactly the schema the code derives from the standard, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from anju.db.schema import METADATA
from anju.services import Services


def test_migrated_schema_matches_metadata(services: Services) -> None:
    with services.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), METADATA)
    assert diff == []
    assert services.db.current_revision() == services.db.head_revision()


def test_tables_and_indexes(services: Services) -> None:
    insp = inspect(services.db.engine)
    tables = set(insp.get_table_names())
    assert {"quarantine", "ingest_batch", "rec_access_swipe", "rec_population_sync"} <= tables
    indexed = {tuple(ix["column_names"]) for ix in insp.get_indexes("rec_access_swipe")}
    assert {("_estate",), ("_received_at",), ("sk_rqsj",), ("sb_bh",)} <= indexed
    uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints("rec_access_swipe")}
    assert ("id",) in uniques


def test_upgrade_is_idempotent(services: Services) -> None:
    services.db.upgrade()
    services.db.upgrade()
    assert services.db.current_revision() == services.db.head_revision()
