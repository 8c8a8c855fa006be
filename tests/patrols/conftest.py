"""Services on a fixed clock over SQLite and PostgreSQL with the emergency tests' region tree, and a route
of three checkpoints A → B → C in estate E1 with one shift from 11:00 to 13:00 UTC on 30 November 2026."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from anju.config import Settings
from anju.patrols import plans
from anju.services import Services, open_services
from tests.emergency.conftest import NOW, Clock, add_regions

START, END = "2026-11-30T11:00:00+00:00", "2026-11-30T13:00:00+00:00"


@dataclass
class Patrol:
    svc: Services
    clock: Clock
    route: int
    shift: int


def make_route(svc: Services, estate: str = "E1", name: str = "夜间一号线") -> int:
    for i, code in enumerate(("A", "B", "C")):
        plans.add_checkpoint(
            svc,
            estate=estate,
            code=code,
            name=f"{code}号巡更点",
            lon=114.30 + i / 1000,
            lat=30.60,
            device_id=f"XG-{estate}-{code}",
            qr_code=f"QR-{estate}-{code}",
            actor="test",
        )
    return plans.create_route(
        svc,
        estate=estate,
        name=name,
        checkpoints=["A", "B", "C"],
        windows=[{"start": "19:00", "end": "21:00"}],
        actor="test",
    )


@pytest.fixture
def patrol(settings: Settings) -> Iterator[Patrol]:
    clock = Clock(NOW)
    svc = open_services(settings, clock=clock)
    add_regions(svc)
    route = make_route(svc)
    shift = plans.create_shift(
        svc, route_id=route, guard_name="王建国", starts_at=START, ends_at=END, actor="test"
    )
    try:
        yield Patrol(svc, clock, route, shift)
    finally:
        svc.close()
