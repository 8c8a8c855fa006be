"""The platform's long-lived objects, wired once for the CLI, the web app and tests."""

from __future__ import annotations

from dataclasses import dataclass

from anju.config import Settings
from anju.db.database import Database
from anju.ingest.bus import Bus
from anju.ingest.pipeline import Clock, Pipeline, utcnow
from anju.ingest.quarantine import Quarantine


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: Bus
    pipeline: Pipeline
    quarantine: Quarantine

    def close(self) -> None:
        self.db.dispose()


def open_services(
    settings: Settings | None = None, *, clock: Clock = utcnow, upgrade: bool = True
) -> Services:
    settings = settings or Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    if upgrade:
        db.upgrade()
    bus = Bus()
    pipeline = Pipeline(db, settings, bus=bus, clock=clock)
    return Services(settings, db, bus, pipeline, Quarantine(pipeline))
