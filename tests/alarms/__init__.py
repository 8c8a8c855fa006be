"""Tests of the alarm store, escalation, the alarm API and the live stream; shared helpers below."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from anju.alarms.model import AlarmSignal
from anju.config import Settings
from anju.registry.regions import RegionRefused
from anju.services import Services, open_services

T0 = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)  # 10:00 in Wuhan


class FakeClock:
    """An injectable clock: time moves only when a test says so."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self.now += timedelta(**delta)
            return self.now


def signal(**changes: Any) -> AlarmSignal:
    values: dict[str, Any] = {
        "type": "smoke_fire",
        "rule": "smoke_detected",
        "severity": "major",
        "originator_kind": "device",
        "originator_id": "YG001",
        "estate": "E1",
        "at": T0,
        "title_zh": "烟感报警",
        "title_en": "Smoke detected",
        "location": "3栋2单元",
        "records": ("smoke_sensor:R1",),
    }
    values.update(changes)
    return AlarmSignal(**values)


@contextmanager
def clocked_services(settings: Settings, clock: FakeClock) -> Iterator[Services]:
    svc = open_services(settings, clock=clock)
    try:
        yield svc
    finally:
        svc.close()


def build_regions(svc: Services) -> None:
    """D1 (district) → S1 → C1 → E1 and C2 → E2."""
    for code, name, level, parent in (
        ("D1", "江岸区", "district", None),
        ("S1", "幸福街道", "street", "D1"),
        ("C1", "幸福社区", "community", "S1"),
        ("E1", "幸福小区", "estate", "C1"),
        ("C2", "和平社区", "community", "S1"),
        ("E2", "和平小区", "estate", "C2"),
    ):
        try:
            svc.regions.add(svc.audit, code=code, name=name, level=level, parent=parent, actor="fixture")
        except RegionRefused as exc:
            if exc.code != "region_exists":
                raise
