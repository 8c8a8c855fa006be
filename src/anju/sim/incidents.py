"""Incidents injected into a stream on a schedule (data/incidents.yaml): each becomes the records (or the
silence) that make the alarm engine raise its alarm."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from anju.sim import catalog

if TYPE_CHECKING:
    from anju.sim.plan import Device, Person
    from anju.sim.streams import EventStream, SimEvent

KINDS = (
    "perimeter_intrusion",
    "smoke",
    "watchlist_plate",
    "emergency_call",
    "device_offline",
    "elderly_silent",
)
_OFFSET = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ScheduleInvalid(ValueError):
    pass


def schedules() -> list[str]:
    return sorted(catalog.load("incidents")["schedules"])


def offset(text: str) -> timedelta:
    m = _OFFSET.match(text.strip())
    if m is None:
        raise ScheduleInvalid(f"{text!r}: expected a number and s, m, h or d (e.g. 90s, 10m, 2h)")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


class Incidents:
    def __init__(self, stream: EventStream, schedule: str) -> None:
        from anju.sim.streams import TZ

        entries = catalog.load("incidents")["schedules"].get(schedule)
        if entries is None:
            raise ScheduleInvalid(f"schedule {schedule!r}: expected one of {', '.join(schedules())}")
        self.s = stream
        self.rng = random.Random(f"incidents:{stream.c.seed}")
        self.at: list[tuple[datetime, str]] = []
        for entry in entries:
            kind = str(entry["kind"])
            if kind not in KINDS:
                raise ScheduleInvalid(f"incident kind {kind!r}: expected one of {', '.join(KINDS)}")
            if "after" in entry:
                self.at.append((stream.start + offset(str(entry["after"])), kind))
            else:
                hh, mm = (int(x) for x in str(entry["daily"]).split(":"))
                day = stream.start.astimezone(TZ).date()
                while True:
                    when = datetime.combine(day, time(hh, mm), TZ)
                    if when >= stream.end:
                        break
                    if when >= stream.start:
                        self.at.append((when, kind))
                    day += timedelta(days=1)
        self.at.sort()
        self._makers: dict[str, Callable[[datetime], Iterator[SimEvent]]] = {
            "perimeter_intrusion": self._perimeter,
            "smoke": self._smoke,
            "watchlist_plate": self._plate,
            "emergency_call": self._call,
            "device_offline": self._offline,
            "elderly_silent": self._stay_home,
        }

    def due(self, start: datetime, until: datetime) -> Iterator[SimEvent]:
        for when, kind in self.at:
            if start <= when < until:
                yield from self._makers[kind](when)

    def _estate_device(self, kind: str) -> list[Device]:
        return [d for d in self.s.by_kind.get(kind, []) if d.id not in self.s.state.silent_devices]

    def _perimeter(self, at: datetime) -> Iterator[SimEvent]:
        zones = self._estate_device("perimeter_sensor")
        if zones:
            d = self.rng.choice(zones)
            yield self.s.device_event(
                d,
                "perimeter_alarm",
                at,
                {
                    "SB_BM": d.id,
                    "BJ_PDBZ": "1",
                    "BJLX": "周界入侵",
                    "BJ_XXQK": d.location,
                    "BJ_BM": d.id[-20:],
                    "RQ_RQSJ": _l(at),
                },
                "perimeter_intrusion",
            )

    def _smoke(self, at: datetime) -> Iterator[SimEvent]:
        # Two reports 12 s apart: the smoke rule waits 10 s to tell smoke from a puff of steam.
        sensors = self._estate_device("smoke_sensor")
        if sensors:
            d = self.rng.choice(sensors)
            for delay in (0, 12):
                when = at + timedelta(seconds=delay)
                values = {**self.s.fire_values(d, when), "YW_ZT": "烟雾报警", "GJXX_NR": "楼梯间烟雾浓度超标"}
                yield self.s.device_event(d, "fire_energy", when, values, "smoke")

    def _plate(self, at: datetime) -> Iterator[SimEvent]:
        gates = self._estate_device("vehicle_gate")
        if gates:
            d = self.rng.choice(gates)
            values = {"SB_BH": d.id, "SBMC": d.name, "JDCHPHM": self.s.c.watch_plate}
            yield self.s.device_event(d, "vehicle_pass", at, values, "watchlist_plate")

    def _elderly(self) -> list[Person]:
        return [p for p in self.s.c.people if p.elderly_alone]

    def _call(self, at: datetime) -> Iterator[SimEvent]:
        """An elderly resident living alone presses the help button at home."""
        people = [p for p in self._elderly() if p.id_number not in self.s.state.stay_home] or self._elderly()
        if not people:
            return
        p = self.rng.choice(people)
        button = next((d for d in self.s.by_kind.get("help_button", []) if d.watches == p.house_id), None)
        place = self.s.houses[p.house_id]
        rec = self.s.record(
            "emergency_call",
            at,
            {
                "BJQZR_XM": p.name,
                "LXFS": p.phone,
                "BJQZ_DD": f"{place.unit_id.split('-B')[0]} {place.number}室一键求助"[:50],
                "NR": "老人按下一键求助按钮",
                "DQJD": button.at.lon if button else None,
                "DQWD": button.at.lat if button else None,
            },
        )
        if rec["DQJD"] is None:
            rec.pop("DQJD")
            rec.pop("DQWD")
        from anju.sim.streams import SimEvent

        yield SimEvent(at, p.estate, "emergency_call", button.id if button else None, rec, "emergency_call")

    def _offline(self, at: datetime) -> Iterator[SimEvent]:
        """A camera falls silent: no records, no heartbeats; the engine notices after five minutes."""
        cameras = self._estate_device("camera")
        if cameras:
            self.s.state.silent_devices.add(self.rng.choice(cameras).id)
        return iter(())

    def _stay_home(self, at: datetime) -> Iterator[SimEvent]:
        """An elderly resident living alone stops going out: no more swipes; 48 hours later, an alarm."""
        people = [p for p in self._elderly() if p.id_number not in self.s.state.stay_home]
        if people:
            self.s.state.stay_home.add(self.rng.choice(people).id_number)
        return iter(())


def _l(at: datetime) -> str:
    from anju.sim.streams import local

    return local(at)
