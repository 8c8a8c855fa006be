"""The database facade: one engine, the derived tables, and migrations to the current schema."""

from __future__ import annotations

from functools import cache
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Table

from anju.db.engine import make_engine
from anju.db.schema import METADATA


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("anju.db") / "migrations"))
    return cfg


@cache
def _head_revision() -> str | None:
    # The migrations ship in the package: their head cannot change while the process runs.
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        self.metadata = METADATA

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def table(self, name: str) -> Table:
        return self.metadata.tables[name]

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        return _head_revision()

    def upgrade(self) -> None:
        """Bring the schema to the newest migration; a no-op when it is already there."""
        if self.current_revision() == self.head_revision():
            return
        cfg = alembic_config()
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def dispose(self) -> None:
        self.engine.dispose()
