"""Services on a fixed clock (30 November 2026, 12:00 UTC), over SQLite and PostgreSQL, with a small region
tree: 420102 江岸区 → 420102001 大智街道 → C1 幸福社区 → estates E1 幸福里, E2 安宁苑; C2 和平社区 → E3."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from anju.config import Settings
from anju.services import Services, open_services

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def add_regions(svc: Services) -> None:
    add = svc.regions.add
    add(svc.audit, code="420102", name="江岸区", level="district", parent=None, actor="test")
    add(svc.audit, code="420102001", name="大智街道", level="street", parent="420102", actor="test")
    add(svc.audit, code="C1", name="幸福社区", level="community", parent="420102001", actor="test")
    add(svc.audit, code="C2", name="和平社区", level="community", parent="420102001", actor="test")
    add(svc.audit, code="E1", name="幸福里", level="estate", parent="C1", actor="test")
    add(svc.audit, code="E2", name="安宁苑", level="estate", parent="C1", actor="test")
    add(svc.audit, code="E3", name="和平园", level="estate", parent="C2", actor="test")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def esvc(settings: Settings, clock: Clock) -> Iterator[Services]:
    """SQLite and PostgreSQL, on the fixed clock, with the region tree."""
    svc = open_services(settings, clock=clock)
    add_regions(svc)
    try:
        yield svc
    finally:
        svc.close()
