"""The simulated community: deterministic for a seed, ingested through the real pipeline with nothing
quarantined, and its event stream (in process, injected clock) raising the alarms of its incidents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from anju.alarms.runtime import AlarmRuntime
from anju.config import Settings
from anju.services import Services, open_services
from anju.sim.generate import generate
from anju.sim.load import install
from anju.sim.records import community_records
from anju.sim.runner import run
from anju.sim.streams import EventStream
from anju.sim.targets import InprocTarget
from anju.standard.checks import id_check_char
from tests.conftest import migrated_sqlite_url

T0 = datetime(2025, 3, 3, 13, 30, tzinfo=UTC)  # 21:30 in Wuhan


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, at: datetime) -> None:
        self.now = max(self.now, at)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Services, Clock]]:
    clock = Clock(T0)
    data = tmp_path / "data"
    data.mkdir()
    svc = open_services(
        Settings(data_dir=data, database_url=migrated_sqlite_url(tmp_path / "sim.db")), clock=clock
    )
    try:
        yield svc, clock
    finally:
        svc.close()


def test_the_same_seed_gives_the_same_community_and_records() -> None:
    a, b = generate(estates=2, households=50, seed=11), generate(estates=2, households=50, seed=11)
    assert a.to_json() == b.to_json()
    ra, rb = community_records(a), community_records(b)
    assert {k: [(e, [i.raw for i in items]) for e, items in v] for k, v in ra.items()} == {
        k: [(e, [i.raw for i in items]) for e, items in v] for k, v in rb.items()
    }
    assert generate(estates=2, households=50, seed=12).to_json() != a.to_json()


def test_people_have_valid_consistent_id_numbers_and_every_subsystem_has_devices() -> None:
    c = generate(estates=3, households=90, seed=5)
    assert len(c.estates) == 3 and len(c.houses()) == 90
    assert len({p.id_number for p in c.people}) == len(c.people)
    for p in c.people:
        n = p.id_number
        assert len(n) == 18 and id_check_char(n[:17]) == n[17]
        assert n[6:14] == p.born.strftime("%Y%m%d") and int(n[16]) % 2 == (1 if p.sex == "1" else 0)
        assert 2 <= len(p.name) <= 3
    kinds = {d.kind for d in c.devices()}
    assert {
        "camera",
        "face_camera",
        "perimeter_sensor",
        "vehicle_gate",
        "access_reader",
        "smoke_sensor",
        "water_sensor",
        "meter",
        "help_button",
        "patrol_checkpoint",
    } <= kinds
    units = [u for e in c.estates for b in e.buildings for u in b.units]
    smoke = {d.watches for d in c.devices() if d.kind == "smoke_sensor"}
    assert smoke == {u.id for u in units}  # one per stairwell
    alone = {p.house_id for p in c.people if p.elderly_alone}
    assert alone and alone == {d.watches for d in c.devices() if d.kind == "help_button"}
    assert c.shelters and c.supplies and c.watch_plate


def test_a_generated_community_enters_through_the_pipeline_with_nothing_quarantined(
    world: tuple[Services, Clock],
) -> None:
    svc, _ = world
    c = generate(estates=2, households=40, seed=3)
    report = install(svc, c)
    assert report.rejected == 0, report
    assert report.stored["building_info"] == 40 and report.stored["resident_registration"] == len(c.people)
    assert report.plan_file is not None and report.plan_file.read_bytes() == c.to_json()
    t = svc.registry.tables
    with svc.db.engine.connect() as conn:

        def count(table: str) -> int:
            return int(conn.execute(select(func.count()).select_from(t[table])).scalar_one())

        assert count("estate") == 2 and count("house") == 40 and count("person") == len(c.people)
        assert count("building") == sum(len(e.buildings) for e in c.estates)
        assert count("gate") == 4 and count("org_unit") == 4
        assert count("residence") == len(c.people)
        quarantined = int(
            conn.execute(select(func.count()).select_from(svc.db.table("quarantine"))).scalar_one()
        )
        assert quarantined == 0
        boundary = conn.execute(
            select(t["estate"].c.boundary).where(t["estate"].c.code == c.estates[0].code)
        ).scalar_one()
        assert boundary and "Polygon" in boundary
    assert len(svc.devices.list_estate(c.estates[0].code)) == len(c.estates[0].devices)
    assert svc.regions.ancestors(c.estates[0].code)[:1] == [
        c.community.code
    ] or c.community.code in svc.regions.ancestors(c.estates[0].code)
    # Installing again changes nothing.
    again = install(svc, c)
    assert sum(again.stored.values()) == 0 and again.rejected == 0 and again.devices == 0


def test_an_inproc_stream_with_incidents_raises_their_alarms(world: tuple[Services, Clock]) -> None:
    svc, clock = world
    c = generate(estates=1, households=30, seed=9)
    install(svc, c)
    stream = EventStream(c, start=T0, duration=timedelta(minutes=20), rate=10, schedule="demo")
    target = InprocTarget(svc)
    run(stream, target, start=T0, realtime=False, on_time=clock.set)
    assert target.delivered.rejected == 0 and target.delivered.records > 100
    assert target.delivered.heartbeats > 0
    # The camera that fell silent at 50 s: the runtime's tick, at a time after five minutes' silence.
    runtime = AlarmRuntime(svc)
    clock.set(T0 + timedelta(minutes=21))
    runtime.tick(T0 + timedelta(minutes=21))
    alarm = svc.db.table("alarm")
    with svc.db.engine.connect() as conn:
        types = {r.type for r in conn.execute(select(alarm.c.type)).all()}
    assert {
        "perimeter_intrusion",
        "smoke_fire",
        "emergency_call",
        "watchlist_vehicle",
        "device_offline",
    } <= types, types
    with svc.db.engine.connect() as conn:
        offline = (
            conn.execute(select(alarm.c.originator_id).where(alarm.c.type == "device_offline"))
            .scalars()
            .all()
        )
    assert offline == sorted(stream.state.silent_devices)  # only the silenced one: every other device beats
