"""Alembic migrations produce exactly the schema the code derives from the standard, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from anju.db.database import Database
from anju.db.schema import METADATA
from anju.services import Services
from tests.conftest import fresh_pg_database


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


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_migrations_from_an_empty_database(kind: str, tmp_path: Path) -> None:
    # The other tests start from a copy of a template the migrations made once; this one runs them itself.
    def check(url: str) -> None:
        db = Database(url)
        try:
            assert db.current_revision() is None
            db.upgrade()
            with db.engine.connect() as conn:
                assert compare_metadata(MigrationContext.configure(conn), METADATA) == []
            assert db.current_revision() == db.head_revision()
        finally:
            db.dispose()

    if kind == "sqlite":
        check(f"sqlite:///{tmp_path / 'empty.db'}")
        return
    with fresh_pg_database(migrated=False) as url:
        check(url)
