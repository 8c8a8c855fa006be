"""The event stream of a simulated community: everyday records (swipes and face captures peaking at
commuting hours, vehicle passes, sensor readings, video), patrol rounds, heartbeats of every device, and
the incidents of a schedule (sim/incidents.py). Deterministic for a seed and a start time.

Events come out in time order, minute by minute of simulated time (an event made early, such as the
later checkpoints of a patrol round, waits for its minute). Every record is valid: it starts
from `SampleFactory`'s record of its type, with values that raise no alarm (data/traffic.yaml `neutral`)
and the community's people, plates and devices on top; only incidents raise alarms (and what a real
community would raise by itself: an entry at 3 a.m. is an odd-hour entry).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from anju.sim import catalog
from anju.sim.plan import Community, Device, Person
from anju.standard.dictionaries import load_dictionaries
from anju.standard.samples import SampleFactory
from anju.standard.spec import record_type

HEARTBEAT = "heartbeat"
TZ = ZoneInfo("Asia/Shanghai")
_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SimEvent:
    at: datetime  # timezone-aware UTC, simulated time
    estate: str
    slug: str  # a record type's slug, or "heartbeat"
    device: str | None
    record: dict[str, Any] | None = None
    incident: str | None = None  # the incident kind this event belongs to


@dataclass
class StreamState:
    """What incidents changed: devices that fell silent, elderly people who stopped going out."""

    silent_devices: set[str] = field(default_factory=set)
    stay_home: set[str] = field(default_factory=set)  # ID numbers


def local(at: datetime) -> str:
    return at.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")


class EventStream:
    def __init__(
        self,
        community: Community,
        *,
        start: datetime,
        duration: timedelta,
        rate: float,
        schedule: str = "default",
        run_id: str | None = None,
    ) -> None:
        from anju.sim.incidents import Incidents

        self.c = community
        self.start = start
        self.end = start + duration
        self.rate = rate
        self.rng = random.Random(f"{community.seed}:{start.isoformat()}")
        self.traffic = catalog.load("traffic")
        hourly = [float(x) for x in self.traffic["hourly"]]
        mean = sum(hourly) / len(hourly)
        self.hourly = [x / mean for x in hourly]
        self.mix = {str(k): float(v) for k, v in self.traffic["mix"].items()}
        self.factory = SampleFactory(community.seed, now=start, dictionaries=load_dictionaries())
        # Record IDs name the run, so that a second run into the same database adds rather than conflicts.
        self.run_id = run_id or start.astimezone(TZ).strftime("%y%m%d%H%M%S")
        self.serial = 0
        self.state = StreamState()
        self.devices = community.devices()
        self.by_kind: dict[str, list[Device]] = {}
        for d in self.devices:
            self.by_kind.setdefault(d.kind, []).append(d)
        self.residents = [p for p in community.people]
        self.houses = {h.id: h for h in community.houses()}
        self.incidents = Incidents(self, schedule)

    # ---- records -----------------------------------------------------------------------------------------
    def record(self, slug: str, at: datetime, values: dict[str, Any]) -> dict[str, Any]:
        """A valid record of the type at `at`: the factory's, neutral values, then `values`."""
        self.serial += 1
        rtype = record_type(slug)
        rec = self.factory.record(rtype, self.serial)
        for code in self.traffic["drop"].get(slug, ()):
            rec.pop(code, None)
        rec.update(self.traffic["neutral"].get(slug, {}))
        rec["ID"] = f"SIM{self.c.seed}-{self.run_id}-{self.serial:07d}"
        if rtype.time_field:
            rec[rtype.time_field] = local(at)
        for rule in rtype.cross:  # an end time must not precede the start time
            if rule.kind == "not_before":
                rec[rule.params["after"]] = local(at - timedelta(seconds=30))
                rec[rule.params["field"]] = local(at)
        rec.update(values)
        return rec

    def device_event(
        self, d: Device, slug: str, at: datetime, values: dict[str, Any], incident: str | None = None
    ) -> SimEvent:
        rec = self.record(slug, at, {"DQJD": d.at.lon, "DQWD": d.at.lat, **values})
        return SimEvent(at, d.estate, slug, d.id, rec, incident)

    def _pick(self, kind: str, estate: str | None = None) -> Device | None:
        live = [
            d
            for d in self.by_kind.get(kind, [])
            if d.id not in self.state.silent_devices and (estate is None or d.estate == estate)
        ]
        return self.rng.choice(live) if live else None

    def _person(self) -> Person | None:
        people = [p for p in self.residents if p.id_number not in self.state.stay_home]
        return self.rng.choice(people) if people else None

    def _everyday(self, slug: str, at: datetime) -> SimEvent | None:
        d: Device | None
        if slug == "access_swipe":
            p = self._person()
            if p is None:
                return None
            h = self.houses[p.house_id]
            unit_reader = [d for d in self.by_kind["access_reader"] if d.watches == h.unit_id]
            gate_readers = [
                d
                for d in self.by_kind["access_reader"]
                if d.estate == p.estate and d.watches != h.unit_id and d.building_id is None
            ]
            choices = [d for d in unit_reader + gate_readers if d.id not in self.state.silent_devices]
            if not choices:
                return None
            reader = self.rng.choice(choices)
            return self.device_event(
                reader,
                slug,
                at,
                {
                    "SB_BH": reader.id,
                    "GMSFHM": p.id_number,
                    "XM": p.name,
                    "JMK_BH": p.card,
                    "LD_BM": h.building_id[-30:],
                    "DYH": h.unit_id.rsplit("-", 1)[1],
                    "MP_ID": h.id,
                    "XQ_BS": p.estate,
                    "CJ_RQSJ": local(at),
                },
            )
        if slug == "face_capture":
            p = self._person()
            d = self._pick("face_camera", p.estate if p else None)
            if p is None or d is None:
                return None
            return self.device_event(
                d,
                slug,
                at,
                {
                    "CJSB_BH": d.id,
                    "SBMC": d.name,
                    "DLWZ": d.location,
                    "XYR_ZJHM": p.id_number,
                    "XYR_XM": p.name,
                    "FXSJ": local(at),
                    "FX": "进",
                },
            )
        if slug == "vehicle_pass":
            if not self.c.vehicles:
                return None
            v = self.rng.choice(self.c.vehicles)
            d = self._pick("vehicle_gate", v.estate)
            if d is None:
                return None
            return self.device_event(d, slug, at, {"SB_BH": d.id, "SBMC": d.name, "JDCHPHM": v.plate})
        if slug == "fire_energy":
            sensors = [
                x
                for x in self.devices
                if x.kind in ("smoke_sensor", "water_sensor", "meter")
                and x.id not in self.state.silent_devices
            ]
            if not sensors:
                return None
            d = self.rng.choice(sensors)
            return self.device_event(d, slug, at, self.fire_values(d, at))
        if slug == "video_record":
            d = self._pick("camera")
            if d is None:
                return None
            return self.device_event(d, slug, at, {"SB_BM": d.id, "SB_DZ": d.location[:50]})
        return None

    def fire_values(self, d: Device, at: datetime) -> dict[str, Any]:
        kind = {"smoke_sensor": "烟感", "water_sensor": "消火栓", "meter": "电表"}[d.kind]
        return {"SB_BS": d.id, "SBMC": d.name, "SBLX": kind, "JK_DZ": d.location, "GJ_RQJSJ": local(at)}

    # ---- the stream -----------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[SimEvent]:
        window = self.start
        heartbeat = timedelta(seconds=int(self.traffic["heartbeat_s"]))
        patrol = timedelta(seconds=int(self.traffic["patrol_s"]))
        next_patrol = self.start + timedelta(minutes=5)
        later: list[SimEvent] = []
        while window < self.end:
            until = min(window + _WINDOW, self.end)
            events: list[SimEvent] = []
            events.extend(self._heartbeats(window, until, heartbeat))
            if next_patrol < until:
                events.extend(self._patrol(next_patrol))
                next_patrol += patrol
            hour = window.astimezone(TZ).hour
            expected = self.rate * self.hourly[hour] * (until - window) / _WINDOW
            count = int(expected) + (1 if self.rng.random() < expected - int(expected) else 0)
            kinds, weights = list(self.mix), list(self.mix.values())
            for _ in range(count):
                at = window + timedelta(seconds=self.rng.uniform(0, (until - window).total_seconds()))
                event = self._everyday(self.rng.choices(kinds, weights)[0], at.replace(microsecond=0))
                if event is not None:
                    events.append(event)
            events.extend(self.incidents.due(window, until))
            # A patrol round (a checkpoint every two minutes) and a smoke report's repeat are made in the
            # window they start in but dated later: they wait for their own window, so that the stream
            # stays in time order (the runner paces by it and the platform's clock follows it).
            events.extend(later)
            later = [e for e in events if e.at >= until]
            events = [e for e in events if e.at < until]
            events.sort(key=lambda e: e.at)
            yield from (e for e in events if e.at < self.end)
            window = until

    def _heartbeats(self, start: datetime, until: datetime, every: timedelta) -> Iterator[SimEvent]:
        """Each device beats every `every`, staggered by its place in the plan."""
        period = every.total_seconds()
        for n, d in enumerate(self.devices):
            if d.id in self.state.silent_devices:
                continue
            offset = n * period / max(len(self.devices), 1)
            since = (start - self.start).total_seconds() - offset
            k = max(0, -int(-since // period))  # the first beat at or after `start`
            at = self.start + timedelta(seconds=offset + k * period)
            while at < until:
                yield SimEvent(at.replace(microsecond=0), d.estate, HEARTBEAT, d.id)
                at += every

    def _patrol(self, at: datetime) -> Iterator[SimEvent]:
        """A guard walks every checkpoint of each estate, two minutes apart."""
        for estate in self.c.estates:
            guard = self.c.manager.name
            for n, d in enumerate(d for d in estate.devices if d.kind == "patrol_checkpoint"):
                when = at + timedelta(minutes=2 * n)
                if d.id in self.state.silent_devices:
                    continue
                yield self.device_event(
                    d,
                    "patrol_record",
                    when,
                    {
                        "SBMC": d.id,
                        "XLR_XM": guard,
                        "XLXL_MC": f"{estate.name}日常巡更",
                        "XL_DD": d.location[:50],
                        "DD_RQSJ": local(when),
                    },
                )
