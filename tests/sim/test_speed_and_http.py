"""`anju sim run` under time compression and against a real server.

- In process, the platform runs on the simulated clock (`SimClock`): a camera that falls silent raises
  `device_offline` after five *simulated* minutes, within seconds of real time at ×400.
- Over HTTP, a real uvicorn server on a free port over a temporary database receives the stream's
  records with a bearer token: every record stored, nothing quarantined.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from sqlalchemy import func, select

from anju.config import Settings
from anju.services import Services, open_services
from anju.sim.cli import TargetKind, run_stream
from anju.sim.generate import generate
from anju.sim.load import install
from anju.sim.runner import SimClock
from anju.standard.spec import record_type
from anju.web.app import create_app
from anju.web.hardening import RateLimiter
from tests.conftest import migrated_sqlite_url

PASSWORD = "sim http password 123"
T0 = datetime(2025, 3, 3, 13, 30, tzinfo=UTC)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_sim_clock_is_frozen_until_the_run_begins_then_runs_speed_times_faster() -> None:
    mono = FakeMonotonic()
    clock = SimClock(T0, 1440, monotonic=mono)
    mono.now += 50
    assert clock() == T0  # set-up before the run (device registration) happens at the simulated start
    assert clock.begin() == 150.0
    mono.now += 60  # one real minute is a simulated day, once the stream has been delivered that far
    assert clock() == T0
    clock.through(T0 + timedelta(hours=2))
    assert clock() == T0 + timedelta(hours=2)  # a backlog holds the clock back
    clock.through(T0 + timedelta(days=3))
    clock.through(T0)  # never back
    assert clock() == T0 + timedelta(days=1)
    assert clock.begin() == 150.0  # the origin is kept
    with pytest.raises(ValueError):
        SimClock(T0.replace(tzinfo=None), 2)
    with pytest.raises(ValueError):
        SimClock(T0, 0)


def _settings(tmp_path: Path) -> Settings:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return Settings(data_dir=data, database_url=migrated_sqlite_url(tmp_path / "anju.db"))


def _use(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("ANJU_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ANJU_DATABASE_URL", settings.database_url)


def _count(svc: Services, table: str, *where: object) -> int:
    t = svc.db.table(table)
    with svc.db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t).where(*where)).scalar_one())  # type: ignore[arg-type]


def test_silence_timers_follow_speed_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path)
    _use(monkeypatch, settings)
    plan = generate(estates=1, households=20, seed=4)
    # 20 simulated minutes at ×400: 3 s of real time. The demo schedule silences a camera at 50 s; with the
    # wall clock its silence would be timed from its registration, in real time, and never reach 5 minutes.
    run_stream(
        plan,
        TargetKind.inproc,
        rate=5,
        duration=timedelta(minutes=20),
        speed=400,
        schedule="demo",
        url="",
        token=None,
        mqtt=("127.0.0.1", 1883),
    )
    printed = capsys.readouterr().out
    assert re.search(r"隔离 quarantined 0\b", printed), printed
    svc = open_services(settings)
    try:
        alarm = svc.db.table("alarm")
        with svc.db.engine.connect() as conn:
            rows = conn.execute(
                select(alarm.c.originator_id, alarm.c.first_seen_at, alarm.c.details, alarm.c.cleared).where(
                    alarm.c.type == "device_offline"
                )
            ).all()
    finally:
        svc.close()
    cameras = {d.id for d in plan.devices() if d.kind == "camera"}
    assert len(rows) == 1 and rows[0].originator_id in cameras, "\n".join(map(str, rows))


@contextmanager
def _serve(svc: Services) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(svc, limiter=RateLimiter({})),
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=2,
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _last_afternoon() -> datetime:
    """The latest 14:00 in Beijing before now: the streams follow the day, and a run ending at night
    (a test started at 01:00 local time) carries a fraction of an afternoon's records."""
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    afternoon = local.replace(hour=14, minute=0, second=0, microsecond=0)
    if afternoon > local:
        afternoon -= timedelta(days=1)
    return afternoon.astimezone(UTC)


def test_the_http_target_stores_every_record_in_a_real_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    svc = open_services(_settings(tmp_path))
    try:
        plan = generate(estates=1, households=30, seed=9)
        install(svc, plan)
        svc.identity.create_user("sim-feed", PASSWORD, "platform_admin", None)
        token = svc.identity.issue(svc.identity.authenticate("sim-feed", PASSWORD))[0]
        slugs = ("access_swipe", "face_capture", "vehicle_pass", "fire_energy", "video_record",
                 "patrol_record", "perimeter_alarm", "emergency_call")  # fmt: skip
        with _serve(svc) as base:
            run_stream(
                plan,
                TargetKind.http,
                rate=30,
                duration=timedelta(minutes=40),
                speed=1200,
                schedule="demo",
                url=base,
                token=token,
                mqtt=("127.0.0.1", 1883),
                ends_at=_last_afternoon(),
            )
        printed = capsys.readouterr().out
        m = re.search(r"记录 records (\d+) · 心跳 heartbeats (\d+) · 隔离 quarantined (\d+)", printed)
        assert m, printed
        delivered, quarantined = int(m.group(1)), int(m.group(3))
        stored = {
            slug: _count(
                svc,
                record_type(slug).table_name,
                svc.db.table(record_type(slug).table_name).c.id.like("SIM%"),
            )
            for slug in slugs
        }
        assert quarantined == 0 and _count(svc, "quarantine") == 0
        assert delivered > 500 and sum(stored.values()) == delivered, (delivered, stored)
        # The demo schedule's incidents went over HTTP too, and raised their alarms on the server.
        assert stored["perimeter_alarm"] >= 1 and stored["emergency_call"] >= 1, stored
        with svc.db.engine.connect() as conn:
            types = set(conn.execute(select(svc.db.table("alarm").c.type)).scalars())
        assert {"perimeter_intrusion", "watchlist_vehicle", "emergency_call"} <= types, types
    finally:
        svc.close()
