"""Services on a fixed clock over SQLite and PostgreSQL with the emergency tests' region tree:
C1 幸福社区 → E1, E2; C2 和平社区 → E3."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from anju.config import Settings
from anju.services import Services, open_services
from tests.emergency.conftest import NOW, Clock, add_regions

__all__ = ["NOW", "Clock"]


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def nsvc(settings: Settings, clock: Clock) -> Iterator[Services]:
    svc = open_services(settings, clock=clock)
    add_regions(svc)
    try:
        yield svc
    finally:
        svc.close()
