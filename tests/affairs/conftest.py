"""Services on a fixed clock (30 November 2026, 12:00 UTC), over SQLite and PostgreSQL, with the doorplate
fixture's registry: D1 > S1 > {C1 > E1 (people of house 101), C2 > E2}."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from anju.config import Settings
from anju.services import Services, open_services
from tests.registry import doorplate_fixture as fx

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
AS_OF = date(2026, 11, 30)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    svc: Services
    clock: Clock
    people: dict[str, str]  # person key -> registry person id


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    # The registry fixture ingests records dated "now": build it on the real clock, then fix the clock.
    clock = Clock(datetime.now(UTC))
    svc = open_services(settings, clock=clock)
    try:
        estate = fx.build(svc)
        clock.now = NOW
        yield World(svc, clock, dict(estate.persons))
    finally:
        svc.close()
