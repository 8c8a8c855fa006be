"""Timer rules fire on silence with an injectable clock, never by sleeping: devices going offline (per device
kind), patrol checkpoints not visited, elderly people living alone not seen for 48 hours. A heartbeat, a
record or a swipe resets them and clears the alarm; their state lives in `rule_state` and survives a new
engine instance (SQLite file and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from anju.alarms.engine import AlarmEngine, run_ticker
from anju.alarms.model import AlarmSignal
from anju.config import Settings
from anju.ingest.bus import Heartbeat
from tests.alarms.test_engine import ADDRESS, ESTATE, World, resident, world_at


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with world_at(settings) as w:
        yield w


def offline(signals: list[AlarmSignal], rule: str = "offline_video_perimeter") -> list[AlarmSignal]:
    return [s for s in signals if s.rule == rule]


def test_a_camera_goes_offline_after_five_minutes_of_silence_and_a_heartbeat_clears_it(world: World) -> None:
    svc, t0 = world.svc, world.clock.now
    svc.devices.register(
        "CAM-1", estate=ESTATE, kind="camera", actor="test", location="北门", lon=114.2, lat=30.7
    )
    svc.devices.register("SMK-1", estate=ESTATE, kind="smoke_sensor", actor="test")
    svc.devices.register("OLD-1", estate=ESTATE, kind="camera", actor="test", status="retired")
    engine = svc.engine
    engine.invalidate()
    assert engine.tick(t0 + timedelta(minutes=4)) == []
    [down] = engine.tick(t0 + timedelta(minutes=5, seconds=1))  # registered, never heard: timed from then
    assert (down.type, down.originator_kind, down.originator_id) == ("device_offline", "device", "CAM-1")
    assert down.estate == ESTATE and down.location == "北门" and (down.lon, down.lat) == (114.2, 30.7)
    assert down.details["device_kind"] == "camera" and down.details["silence_s"] == 300 and not down.clear
    assert engine.tick(t0 + timedelta(minutes=9)) == []  # once per silence; the retired camera never
    # A heartbeat (MQTT gateway) brings it back: the alarm clears.
    world.clock.now = t0 + timedelta(minutes=10)
    svc.bus.publish(Heartbeat(ESTATE, "CAM-1", world.clock.now))
    [back] = offline(world.signals)[1:]
    assert back.clear and back.originator_id == "CAM-1"
    assert engine.tick(t0 + timedelta(minutes=14)) == []
    [again] = offline(engine.tick(t0 + timedelta(minutes=15, seconds=1)))
    assert again.originator_id == "CAM-1" and again.details["silent_s"] == 301
    # A record from the camera resets it too.
    world.clock.now = t0 + timedelta(minutes=16)
    rec = world.record("video_record", SB_BM="CAM-1", DMT_LX="录像")
    assert [s.clear for s in world.ingest("video_record", rec) if s.rule == "offline_video_perimeter"] == [
        True
    ]
    # The smoke sensor's kind is timed over six hours, not five minutes.
    assert [s.originator_id for s in engine.tick(t0 + timedelta(hours=5, minutes=59))] == ["CAM-1"]
    [smoke] = [s for s in engine.tick(t0 + timedelta(hours=6, minutes=1)) if s.originator_id == "SMK-1"]
    assert smoke.rule == "offline_fire_energy"


def test_a_device_clock_running_ahead_does_not_hide_a_silence(world: World) -> None:
    svc, t0 = world.svc, world.clock.now
    svc.devices.register("PA-1", estate=ESTATE, kind="perimeter_sensor", actor="test")
    svc.engine.invalidate()
    # The record claims to be from 50 minutes in the future (within what validation accepts).
    ahead = world.record("perimeter_alarm", t0 + timedelta(minutes=50), SB_BM="PA-1")
    world.ingest("perimeter_alarm", ahead)
    [down] = offline(svc.engine.tick(t0 + timedelta(minutes=5, seconds=1)))
    assert down.originator_id == "PA-1"


def test_a_patrol_checkpoint_is_missed_when_no_patrol_record_names_it(world: World) -> None:
    svc, t0 = world.svc, world.clock.now
    svc.devices.register("CP-7", estate=ESTATE, kind="patrol_checkpoint", actor="test", location="水泵房")
    svc.engine.invalidate()
    # A heartbeat is not a patrol: only patrol records count for this rule.
    world.clock.now = t0 + timedelta(minutes=90)
    svc.bus.publish(Heartbeat(ESTATE, "CP-7", world.clock.now))
    [missed] = [
        s for s in svc.engine.tick(t0 + timedelta(hours=2, seconds=1)) if s.rule == "patrol_checkpoint_missed"
    ]
    assert missed.type == "patrol_missed" and missed.location == "水泵房"
    world.clock.now = t0 + timedelta(hours=2, minutes=30)
    visit = world.record("patrol_record", SBMC="CP-7")
    [done] = [s for s in world.ingest("patrol_record", visit) if s.rule == "patrol_checkpoint_missed"]
    assert done.clear
    # Visited at 2:29 (the record's time): missed again two hours later.
    assert svc.engine.tick(t0 + timedelta(hours=4, minutes=28)) == []
    assert [s.originator_id for s in svc.engine.tick(t0 + timedelta(hours=4, minutes=29))] == ["CP-7"]


def test_state_survives_a_new_engine_instance(world: World) -> None:
    svc, t0 = world.svc, world.clock.now
    svc.devices.register("CAM-9", estate=ESTATE, kind="camera", actor="test")
    svc.engine.invalidate()
    world.clock.now = t0 + timedelta(minutes=2)
    svc.bus.publish(Heartbeat(ESTATE, "CAM-9", world.clock.now))
    svc.engine.tick(t0 + timedelta(minutes=3))  # writes the last-heard time
    state = svc.db.table("rule_state")
    with svc.db.engine.connect() as conn:
        row = conn.execute(select(state).where(state.c.key == "offline_video_perimeter:device:CAM-9")).one()
    assert row.rule == "offline_video_perimeter" and "last" in row.value
    # A restarted engine (a new process) carries on from the stored state...
    fresh: list[AlarmSignal] = []
    restarted = AlarmEngine.from_services(svc, sink=fresh.append, clock=world.clock)
    assert restarted.tick(t0 + timedelta(minutes=6)) == []  # heard at +2: not yet five minutes
    [down] = restarted.tick(t0 + timedelta(minutes=7, seconds=1))
    assert down.originator_id == "CAM-9"
    # ...and another one knows the alarm was already raised: no second alarm, but it clears it.
    third: list[AlarmSignal] = []
    again = AlarmEngine.from_services(svc, sink=third.append, clock=world.clock)
    assert again.tick(t0 + timedelta(minutes=20)) == []
    world.clock.now = t0 + timedelta(minutes=21)
    [back] = again.on_event(Heartbeat(ESTATE, "CAM-9", world.clock.now))
    assert back.clear and third == [back] and fresh == [down]


def elderly(signals: list[AlarmSignal]) -> list[AlarmSignal]:
    return [s for s in signals if s.rule == "elderly_not_seen"]


def test_an_elderly_person_living_alone_not_seen_for_48_hours(world: World) -> None:
    svc = world.svc
    old = resident(world, born=1948, address=ADDRESS.format(7, 701), phone="13900003001", seed=31)
    resident(world, born=1950, address=ADDRESS.format(8, 801), phone="13900003002", seed=32)  # lives with
    resident(world, born=1982, address=ADDRESS.format(8, 801), phone="13900003003", seed=33)  # her son
    resident(world, born=1975, address=ADDRESS.format(9, 901), phone="13900003004", seed=34)  # alone, 49
    t0 = world.clock.now  # registered now: never seen, so timed from registration
    assert elderly(svc.engine.tick(t0 + timedelta(hours=47))) == []
    [alarm] = elderly(svc.engine.tick(t0 + timedelta(hours=48, minutes=1)))
    assert alarm.type == "elderly_not_seen" and alarm.originator_kind == "person" and alarm.estate == ESTATE
    assert alarm.details["age"] >= 76 and alarm.details["last_heard"] is None
    assert old["ZJHM"] not in repr(alarm) and "13900003001" not in repr(alarm)
    assert elderly(svc.engine.tick(t0 + timedelta(hours=60))) == []  # once
    # She swipes her card at the unit door: seen, the alarm clears.
    world.clock.now = t0 + timedelta(hours=61)
    swipe = world.record("access_swipe", GMSFHM=old["ZJHM"])
    [seen] = elderly(world.ingest("access_swipe", swipe))
    assert seen.clear and seen.originator_id == alarm.originator_id
    # Someone else's swipe does not count for her.
    world.ingest("access_swipe", world.record("access_swipe"))
    assert elderly(svc.engine.tick(t0 + timedelta(hours=61 + 47))) == []
    [again] = elderly(svc.engine.tick(t0 + timedelta(hours=61 + 48, minutes=1)))
    assert again.originator_id == alarm.originator_id and again.details["last_heard"] is not None


def test_a_stored_swipe_counts_for_a_new_engine(world: World) -> None:
    """The last sighting is recovered from stored swipes too: a swipe ingested by another process (the
    gateway) before this engine started still resets the timer."""
    svc = world.svc
    old = resident(world, born=1945, address=ADDRESS.format(6, 601), phone="13900004001", seed=41)
    t0 = world.clock.now
    world.clock.now = t0 + timedelta(hours=30)
    world.ingest("access_swipe", world.record("access_swipe", GMSFHM=old["ZJHM"]))
    other: list[AlarmSignal] = []
    engine = AlarmEngine.from_services(svc, sink=other.append, clock=world.clock)
    # Seen at +30 h (a minute before the clock): nothing until 48 h after that.
    assert elderly(engine.tick(t0 + timedelta(hours=77))) == []
    assert len(elderly(engine.tick(t0 + timedelta(hours=78, minutes=1)))) == 1


def test_run_ticker_ticks_until_stopped(world: World) -> None:
    svc = world.svc
    svc.devices.register("CAM-T", estate=ESTATE, kind="camera", actor="test")
    svc.engine.invalidate()
    world.clock.now += timedelta(minutes=6)  # the ticker reads the injected clock
    stop = threading.Event()

    def sink(signal: AlarmSignal) -> None:
        world.signals.append(signal)
        stop.set()

    svc.engine.sink = sink
    thread = threading.Thread(target=run_ticker, args=(svc.engine, 0.01, stop))
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert [s.originator_id for s in offline(world.signals)] == ["CAM-T"]
