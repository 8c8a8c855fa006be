"""The alarm engine over records ingested through the real pipeline (SQLite file and PostgreSQL), with an
injected clock and a list sink: every shipped record rule fires on a crafted record and not on a near
miss; durations, repeats (a record delivered twice counts once), schedules by local time and zone,
clearing, watchlists matched by blind index, and registry conditions (elderly living alone, moved out)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from sqlalchemy import select

from anju.alarms.model import AlarmSignal
from anju.config import Settings
from anju.ingest.bus import StoredRecords
from anju.services import Services, open_services
from anju.standard.samples import SampleFactory, id_number
from anju.standard.spec import record_type

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)  # Monday 22:30 in Wuhan
ESTATE = "XQ001"

# Values that raise nothing, so that a near miss differs from its hit only where the case says.
NEUTRAL: dict[str, dict[str, Any]] = {
    "perimeter_alarm": {"BJ_PDBZ": "0", "BJLX": "正常"},
    "fire_energy": {
        "SBLX": "烟感",
        "YW_ZT": "正常",
        "BJ_ZT": "正常",
        "SW_ZT": "正常",
        "GZ_ZT": "正常",
        "FC_ZT": "正常",
        "DC_ZT": "正常",
        "CS_ZT": "0",
        "DLCX_MC": "正常",
        "DL_MC": "2A",
        "AXDL_MC": "2A",
        "BXDL_MC": "2A",
        "CXDL_MC": "2A",
        "DLYZ_MC": "10A",
        "NYXH_MC": "10",
        "YZ_MC": "100",
        "CGYZ_BJSJ": None,
        "GJXX_NR": "运行正常",
    },
    "video_record": {"DMT_LX": "录像", "DMT_MC": "录像", "JDCHPHM": None},
    "access_swipe": {"TG_PDBZ": "1", "SK_FSDM": "01", "MJK_ZT": "正常", "MP_ID": "H-101"},
    "emergency_call": {"BJ_ZT": "待处理", "BJLX": "求助"},
    "patrol_record": {"BJLX": "日常巡更", "DQ_SC": "10", "JC_SC": "30"},
    "face_capture": {"XSD_MC": "95"},
    "vehicle_pass": {"ZDCL_PDBS": "0"},
}


class Clock:
    """An injectable clock: time moves only when a test says so."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def local(dt: datetime) -> str:
    return dt.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class World:
    svc: Services
    clock: Clock
    signals: list[AlarmSignal] = field(default_factory=list)
    serial: int = 0

    def record(self, slug: str, at: datetime | None = None, **values: Any) -> dict[str, Any]:
        """A valid record of the type at `at` (default: a minute ago), neutral, with `values` on top."""
        self.serial += 1
        rtype = record_type(slug)
        rec = SampleFactory(self.serial, now=self.clock.now).record(rtype, self.serial)
        rec["ID"] = f"{slug}-{self.serial}"
        for code, value in {**NEUTRAL.get(slug, {}), **values}.items():
            if value is None:
                rec.pop(code, None)
            else:
                rec[code] = value
        if rtype.time_field:
            rec[rtype.time_field] = local(at or self.clock.now - timedelta(minutes=1))
            for rule in rtype.cross:  # an end time must not precede the start time just set
                if rule.kind == "not_before" and rule.params["after"] == rtype.time_field:
                    rec[rule.params["field"]] = rec[rtype.time_field]
        return rec

    def ingest(self, slug: str, *records: dict[str, Any], estate: str | None = ESTATE) -> list[AlarmSignal]:
        """Ingest through the pipeline; the signals this raised."""
        before = len(self.signals)
        result = self.svc.pipeline.ingest_ndjson(
            slug, iter([orjson.dumps(r) for r in records]), source="test", estate=estate
        )
        assert result.rejected == 0, [r.to_dict() for r in result.rejects]
        return self.signals[before:]

    def fired(self, rule: str, since: int = 0) -> list[AlarmSignal]:
        return [s for s in self.signals[since:] if s.rule == rule]


@contextmanager
def world_at(settings: Settings, start: datetime = T0) -> Iterator[World]:
    clock = Clock(start)
    svc = open_services(settings, clock=clock)
    world = World(svc, clock)
    svc.engine.sink = world.signals.append
    try:
        yield world
    finally:
        svc.close()


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with world_at(settings) as w:
        yield w


# ---- every shipped record rule: a hit and a near miss ------------------------------------------------------
# (rule, record type, values that fire it, values of the near miss that must not, originator kind)
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = [
    (
        "perimeter_intrusion",
        "perimeter_alarm",
        {"BJ_PDBZ": "1", "BJLX": "周界入侵"},
        {"BJ_PDBZ": "1", "BJLX": "线路故障"},
        "device",
    ),
    ("perimeter_device_fault", "perimeter_alarm", {"BJLX": "线路故障"}, {"BJLX": "周界入侵"}, "device"),
    ("perimeter_tamper", "perimeter_alarm", {"BJLX": "防拆报警"}, {"BJLX": "周界入侵"}, "device"),
    ("fire_alarm", "fire_energy", {"BJ_ZT": "火警"}, {"BJ_ZT": "火警", "CS_ZT": "测试"}, "device"),
    (
        "hydrant_pressure_low",
        "fire_energy",
        {"SBLX": "消火栓", "SW_ZT": "欠压"},
        {"SBLX": "水浸", "SW_ZT": "欠压"},
        "device",
    ),
    (
        "water_immersion",
        "fire_energy",
        {"SBLX": "水浸", "SW_ZT": "漏水"},
        {"SBLX": "水浸", "SW_ZT": "正常"},
        "device",
    ),
    ("electrical_overcurrent", "fire_energy", {"DLCX_MC": "超限"}, {"DLCX_MC": "未超限"}, "device"),
    (
        "energy_over_threshold",
        "fire_energy",
        {"NYXH_MC": "120kWh", "YZ_MC": "100kWh"},
        {"NYXH_MC": "80kWh", "YZ_MC": "100kWh"},
        "device",
    ),
    ("fire_energy_fault", "fire_energy", {"GZ_ZT": "故障"}, {"GZ_ZT": "无故障"}, "device"),
    ("fire_energy_tamper", "fire_energy", {"FC_ZT": "防拆"}, {"FC_ZT": "正常"}, "device"),
    ("emergency_call", "emergency_call", {"BJ_ZT": "待处理"}, {"BJ_ZT": "已处理"}, "person"),
    ("thrown_object", "video_record", {"DMT_LX": "高空抛物"}, {"DMT_LX": "人员徘徊"}, "device"),
    ("crowd_gathering", "video_record", {"DMT_MC": "人群聚集告警"}, {"DMT_MC": "人员徘徊"}, "device"),
    ("loitering", "video_record", {"DMT_LX": "人员徘徊"}, {"DMT_LX": "人群聚集"}, "device"),
    ("line_crossing", "video_record", {"DMT_LX": "越线告警"}, {"DMT_LX": "区域入侵"}, "device"),
    ("area_intrusion", "video_record", {"DMT_LX": "区域入侵"}, {"DMT_LX": "越线告警"}, "device"),
    ("fast_movement", "video_record", {"DMT_LX": "快速移动"}, {"DMT_LX": "录像"}, "device"),
    ("video_signal_fault", "video_record", {"DMT_LX": "视频信号缺失"}, {"DMT_LX": "录像"}, "device"),
    ("video_tamper", "video_record", {"DMT_MC": "镜头遮挡"}, {"DMT_MC": "录像"}, "device"),
    ("moved_out_card", "access_swipe", {"MJK_ZT": "已注销"}, {"MJK_ZT": "已注销", "SK_FSDM": "06"}, "house"),
    (
        "patrol_violation",
        "patrol_record",
        {"DQ_SC": "45", "JC_SC": "30"},
        {"BJLX": "正常", "DQ_SC": "25"},
        "device",
    ),
    ("watchlist_vehicle", "vehicle_pass", {"ZDCL_PDBS": "1"}, {"ZDCL_PDBS": "0"}, "person"),
]


def test_every_record_rule_fires_on_its_record_and_not_on_a_near_miss(world: World) -> None:
    from anju.alarms.rules import load_rules

    immediate = {
        r.name
        for r in load_rules().rules
        if r.record_type and not r.duration and not r.repeat and not r.when.watchlists  # type: ignore[union-attr]
    } - {"emergency_call"}
    covered = {c[0] for c in CASES}
    # Rules with durations, repeats or watchlists have tests of their own below.
    assert immediate <= covered, immediate - covered
    for n, (rule, slug, hit, miss, kind) in enumerate(CASES):
        device = f"DEV-{n:02d}"
        rtype = record_type(slug)
        where = {rtype.device_field: device} if rtype.device_field else {}
        fired = world.ingest(slug, world.record(slug, **where, **hit))
        mine = [s for s in fired if s.rule == rule]
        assert len(mine) == 1, (rule, [s.rule for s in fired])
        s = mine[0]
        assert s.originator_kind == kind and not s.clear
        if kind == "device":
            assert s.originator_id == device
        assert s.estate == ESTATE and s.at.tzinfo is not None
        assert s.records and s.records[0].startswith(f"{slug}:"), s.records
        assert s.title_zh and s.title_en and s.type == world.svc.engine.rules.get(rule).type  # type: ignore[union-attr]
        # The near miss comes from another device: from the same one it may rightly clear the alarm.
        other = {rtype.device_field: f"{device}-b"} if rtype.device_field else {}
        near = world.ingest(slug, world.record(slug, **other, **miss))
        assert not [x for x in near if x.rule == rule], (rule, "near miss fired")


def test_signals_carry_place_details_and_no_personal_values(world: World) -> None:
    world.svc.devices.register(
        "SMK-7", estate=ESTATE, kind="smoke_sensor", actor="test", location="3栋2单元", lon=114.26, lat=30.70
    )
    world.svc.engine.invalidate()
    rec = world.record("fire_energy", SB_BS="SMK-7", BJ_ZT="火警", JK_DZ="3栋2单元楼道")
    [s] = [x for x in world.ingest("fire_energy", rec) if x.rule == "fire_alarm"]
    assert s.location == "3栋2单元楼道" and (s.lon, s.lat) == (rec["DQJD"], rec["DQWD"])
    assert s.severity == "critical" and s.details["BJ_ZT"] == "火警" and s.details["record_id"] == rec["ID"]
    assert s.title_zh == "烟雾/火警：3栋2单元楼道"
    # The caller of an emergency call is named by a blind index, never by the number.
    call = world.record("emergency_call", LXFS="13900001234", BJQZ_DD="5栋门口")
    [c] = [x for x in world.ingest("emergency_call", call) if x.rule == "emergency_call"]
    assert c.originator_id.startswith("tel:") and "13900001234" not in repr(c) and c.location == "5栋门口"
    assert c.severity == "major" and "sla_minutes" not in c.details


def test_fault_levels_low_battery_is_a_warning(world: World) -> None:
    [s] = [
        x
        for x in world.ingest("fire_energy", world.record("fire_energy", DC_ZT="电量低"))
        if x.rule == "fire_energy_fault"
    ]
    assert s.severity == "warning"
    [s] = [
        x
        for x in world.ingest("fire_energy", world.record("fire_energy", DC_ZT="电量低", GZ_ZT="故障"))
        if x.rule == "fire_energy_fault"
    ]
    assert s.severity == "minor"


# ---- durations ---------------------------------------------------------------------------------------------
def smoke(world: World, at: datetime, state: str = "烟雾报警", device: str = "SMK-1") -> list[AlarmSignal]:
    return [
        s
        for s in world.ingest("fire_energy", world.record("fire_energy", at, SB_BS=device, YW_ZT=state))
        if s.rule == "smoke_detected"
    ]


def test_smoke_must_hold_for_ten_seconds_of_records(world: World) -> None:
    t = world.clock.now - timedelta(minutes=5)
    assert smoke(world, t) == []
    assert smoke(world, t + timedelta(seconds=4)) == []
    assert smoke(world, t + timedelta(seconds=8)) == []
    [fired] = smoke(world, t + timedelta(seconds=12))
    assert fired.details["duration_s"] == 12 and len(fired.records) == 4 and fired.severity == "critical"
    assert smoke(world, t + timedelta(seconds=16)) == []  # once per run
    # Normal again: the run ends and the alarm clears (hysteresis: the clearing condition, not "not smoke").
    [cleared] = smoke(world, t + timedelta(seconds=20), state="正常")
    assert cleared.clear and cleared.originator_id == "SMK-1"
    assert smoke(world, t + timedelta(seconds=24), state="正常") == []  # cleared once
    # Reports more than a minute apart are not one run: no alarm however long the span.
    assert smoke(world, t + timedelta(seconds=100)) == []
    assert smoke(world, t + timedelta(seconds=170)) == []
    # Another device's smoke is its own run.
    assert smoke(world, t + timedelta(seconds=171), device="SMK-2") == []


def test_a_latched_fire_door_alarms_when_no_record_says_it_closed(world: World) -> None:
    def door(at: datetime, state: str, device: str = "DOOR-1") -> list[AlarmSignal]:
        rec = world.record("fire_energy", at, SB_BS=device, SBLX="防火门", BJ_ZT=state)
        return [s for s in world.ingest("fire_energy", rec) if s.rule == "fire_door_open"]

    start = world.clock.now
    assert door(start, "开") == []
    assert [
        s for s in world.svc.engine.tick(start + timedelta(seconds=90)) if s.rule == "fire_door_open"
    ] == []
    [held] = [s for s in world.svc.engine.tick(start + timedelta(seconds=121)) if s.rule == "fire_door_open"]
    assert held.originator_id == "DOOR-1" and held.details["duration_s"] == 121 and held.records
    assert world.svc.engine.tick(start + timedelta(minutes=5)) == []  # fired once
    world.clock.advance(minutes=6)
    [closed] = door(world.clock.now, "关闭")
    assert closed.clear
    # Opened and closed within two minutes: nothing.
    assert door(world.clock.now + timedelta(seconds=1), "开", "DOOR-2") == []
    assert door(world.clock.now + timedelta(seconds=50), "关", "DOOR-2") == []
    assert [
        s
        for s in world.svc.engine.tick(world.clock.now + timedelta(minutes=10))
        if s.rule == "fire_door_open"
    ] == []


# ---- repeats -----------------------------------------------------------------------------------------------
def touch(world: World, at: datetime, device: str = "PA-1") -> dict[str, Any]:
    return world.record("perimeter_alarm", at, SB_BM=device, BJLX="触网报警")


def test_three_touches_in_five_minutes_and_a_duplicate_counts_once(world: World) -> None:
    engine = world.svc.engine
    t = world.clock.now - timedelta(minutes=10)
    first, second, third = (
        touch(world, t),
        touch(world, t + timedelta(minutes=1)),
        touch(world, t + timedelta(minutes=2)),
    )
    assert world.ingest("perimeter_alarm", first) == []
    assert world.ingest("perimeter_alarm", second) == []
    # The pipeline stores a re-sent record once and publishes nothing for it...
    assert world.ingest("perimeter_alarm", second) == []
    # ...and the engine itself counts a record delivered twice once (two gateways, a replay).
    stored = world.svc.db.table("rec_perimeter_alarm")
    with world.svc.db.engine.connect() as conn:
        row = conn.execute(select(stored).where(stored.c.id == second["ID"])).one()
    again = StoredRecords(
        "perimeter_alarm",
        ESTATE,
        "replay",
        [{f.code: row._mapping[f.column] for f in record_type("perimeter_alarm").fields}],
    )
    assert [s for s in engine.on_event(again) if s.rule == "perimeter_touch_repeated"] == []
    [fired] = [s for s in world.ingest("perimeter_alarm", third) if s.rule == "perimeter_touch_repeated"]
    assert fired.details["count"] == 3 and fired.type == "perimeter_intrusion"
    assert set(fired.records) == {f"perimeter_alarm:{r['ID']}" for r in (first, second, third)}
    # Touches three minutes apart never put three in one five-minute window.
    base = world.clock.now - timedelta(minutes=30)
    for i in range(3):
        assert [
            s
            for s in world.ingest("perimeter_alarm", touch(world, base + timedelta(minutes=3 * i), "PA-2"))
            if s.rule == "perimeter_touch_repeated"
        ] == []


def test_visitor_surge_counts_distinct_people_per_house(world: World) -> None:
    rng = random.Random(5)
    people = [id_number(rng) for _ in range(8)]
    t = world.clock.now - timedelta(minutes=50)
    fired: list[AlarmSignal] = []
    for i, who in enumerate([*people[:7], people[0]]):  # seven people, one of them twice
        rec = world.record("access_swipe", t + timedelta(minutes=i), GMSFHM=who, MP_ID="H-808")
        fired += [s for s in world.ingest("access_swipe", rec) if s.rule == "visitor_surge"]
    assert fired == []
    rec = world.record("access_swipe", t + timedelta(minutes=9), GMSFHM=people[7], MP_ID="H-808")
    [surge] = [s for s in world.ingest("access_swipe", rec) if s.rule == "visitor_surge"]
    assert surge.originator_kind == "house" and surge.originator_id == "H-808" and surge.details["count"] == 8
    assert not any(p in repr(surge) for p in people)  # counted by blind index


def test_refused_swipes_repeated_at_one_reader(world: World) -> None:
    t = world.clock.now - timedelta(minutes=9)
    got: list[AlarmSignal] = []
    for i in range(5):
        rec = world.record("access_swipe", t + timedelta(minutes=i), TG_PDBZ="0", SB_BH="READER-1")
        got += [s for s in world.ingest("access_swipe", rec) if s.rule == "refused_swipes_repeated"]
    [s] = got
    assert s.originator_id == "READER-1" and s.details["count"] == 5


# ---- schedules ---------------------------------------------------------------------------------------------
def test_area_intrusion_counts_inside_the_armed_hours_only(settings: Settings) -> None:
    # 22:30 local: inside the shipped 22:00-06:00 window; 12:30 local: outside it.
    with world_at(settings, T0) as night:
        rec = night.record("video_record", SB_BM="CAM-1", DMT_LX="区域入侵")
        [s] = [x for x in night.ingest("video_record", rec) if x.rule == "area_intrusion"]
        assert s.severity == "major" and "zone" not in s.details
        night.clock.now = T0.replace(hour=4)
        rec = night.record("video_record", SB_BM="CAM-1", DMT_LX="区域入侵")
        assert [x for x in night.ingest("video_record", rec) if x.rule == "area_intrusion"] == []


def test_zones_by_deployment_override_arm_round_the_clock_at_their_level(settings: Settings) -> None:
    (settings.data_dir / "rules.yaml").write_text(
        """
rules:
  - name: area_intrusion
    type: area_intrusion
    source: "003 二（五）2 分区、分时、分级设防: the pump room is armed round the clock"
    record: video_record
    when: {field: DMT_LX, matches: 区域入侵}
    schedule:
      armed: [{days: all, from: "22:00", to: "06:00"}]
      zones:
        - {name: 水泵房, values: [CAM-PUMP], armed: always, severity: critical}
""",
        encoding="utf-8",
    )
    noon = T0.replace(hour=4)  # 12:30 local: outside the night window
    with world_at(settings, noon) as w:
        assert [
            x
            for x in w.ingest("video_record", w.record("video_record", SB_BM="CAM-1", DMT_LX="区域入侵"))
            if x.rule == "area_intrusion"
        ] == []
        [s] = [
            x
            for x in w.ingest("video_record", w.record("video_record", SB_BM="CAM-PUMP", DMT_LX="区域入侵"))
            if x.rule == "area_intrusion"
        ]
        assert s.severity == "critical" and s.details["zone"] == "水泵房"
        # Back at night the ordinary zone is armed too.
        w.clock.now = T0
        assert [
            x
            for x in w.ingest("video_record", w.record("video_record", SB_BM="CAM-1", DMT_LX="区域入侵"))
            if x.rule == "area_intrusion"
        ]


def test_odd_hour_entries_three_nights_in_a_week(world: World) -> None:
    world.clock.now = datetime(2025, 3, 6, 20, 0, tzinfo=UTC)  # Fri 04:00 local
    nights = [datetime(2025, 3, d, 18, 0, tzinfo=UTC) for d in (3, 4, 5)]  # 02:00 local on Tue, Wed, Thu
    noon = datetime(2025, 3, 4, 4, 0, tzinfo=UTC)
    got = world.ingest("access_swipe", world.record("access_swipe", noon, MP_ID="H-303"))
    got += world.ingest("access_swipe", *(world.record("access_swipe", n, MP_ID="H-303") for n in nights[:2]))
    assert [s for s in got if s.rule == "odd_hour_entries"] == []  # a noon entry does not count
    [s] = [
        x
        for x in world.ingest("access_swipe", world.record("access_swipe", nights[2], MP_ID="H-303"))
        if x.rule == "odd_hour_entries"
    ]
    assert s.details["count"] == 3 and s.severity == "warning"


# ---- clearing ----------------------------------------------------------------------------------------------
def test_emergency_call_clears_when_handled_and_only_once(world: World) -> None:
    first = world.ingest("emergency_call", world.record("emergency_call", LXFS="13900007777", BJ_ZT="待处理"))
    [raised] = [s for s in first if s.rule == "emergency_call"]
    handled = world.ingest(
        "emergency_call", world.record("emergency_call", LXFS="13900007777", BJ_ZT="已处理")
    )
    [cleared] = [s for s in handled if s.rule == "emergency_call"]
    assert cleared.clear and cleared.originator_id == raised.originator_id
    again = world.ingest("emergency_call", world.record("emergency_call", LXFS="13900007777", BJ_ZT="已处理"))
    assert [s for s in again if s.rule == "emergency_call"] == []
    # Another caller's handled call clears nothing.
    other = world.ingest("emergency_call", world.record("emergency_call", LXFS="13900008888", BJ_ZT="已处理"))
    assert [s for s in other if s.rule == "emergency_call"] == []


# ---- watchlists ------------------------------------------------------------------------------------------
def test_watchlisted_plate_matches_by_blind_index(world: World) -> None:
    lists = world.svc.engine.watchlists
    entry, change = lists.add("plate", "鄂A12345", label="被盗车辆", severity="critical", actor="user:police")
    assert change == "created" and entry.masked != "鄂A12345" and "12345" not in entry.masked
    plain = [e for e in lists.entries()]
    assert plain[0].blind == world.svc.protector.search_key("plate", "鄂A12345")
    seen = world.ingest(
        "vehicle_pass", world.record("vehicle_pass", JDCHPHM="鄂A12345", JDCHPZLDM="02", SB_BH="GATE-1")
    )
    [s] = [x for x in seen if x.rule == "watchlist_vehicle"]
    assert s.severity == "critical" and s.details["watchlist"][0]["label"] == "被盗车辆"
    assert s.originator_id.startswith("plate:") and "12345" not in repr(s)
    other = world.ingest("vehicle_pass", world.record("vehicle_pass", JDCHPHM="鄂A54321", JDCHPZLDM="02"))
    assert [x for x in other if x.rule == "watchlist_vehicle"] == []
    # An estate's entry applies in that estate only.
    lists.add("plate", "鄂B67890", label="其他小区布控", actor="user:police", estate="XQ999")
    there = world.ingest("vehicle_pass", world.record("vehicle_pass", JDCHPHM="鄂B67890", JDCHPZLDM="02"))
    assert [x for x in there if x.rule == "watchlist_vehicle"] == []
    # Removing the entry applies at once (no waiting for the cache), and both acts are audited masked.
    lists.remove(entry.pk, actor="user:police")
    after = world.ingest("vehicle_pass", world.record("vehicle_pass", JDCHPHM="鄂A12345", JDCHPZLDM="02"))
    assert [x for x in after if x.rule == "watchlist_vehicle"] == []
    audit = [e for e in world.svc.audit.query(limit=100) if e.action.startswith("watchlist.")]
    assert [e.action for e in audit].count("watchlist.add") == 2 and "watchlist.remove" in [
        e.action for e in audit
    ]
    assert all("12345" not in orjson.dumps(e.detail).decode() for e in audit)


def test_watchlisted_person_on_face_capture_and_swipe(world: World) -> None:
    rng = random.Random(11)
    wanted = id_number(rng)
    world.svc.engine.watchlists.add(
        "id_number", wanted, label="在逃人员", severity="critical", actor="user:police"
    )
    face = world.record(
        "face_capture", XYR_ZJHM=wanted, XYR_ZJLXMC="居民身份证", XSD_MC="92.5%", CJSB_BH="FACE-1"
    )
    [s] = [x for x in world.ingest("face_capture", face) if x.rule == "watchlist_face"]
    assert s.originator_kind == "person" and s.details["CJSB_BH"] == "FACE-1" and wanted not in repr(s)
    # A weak match (similarity below 80) is not an alarm.
    weak = world.record("face_capture", XYR_ZJHM=wanted, XYR_ZJLXMC="居民身份证", XSD_MC="61")
    assert [x for x in world.ingest("face_capture", weak) if x.rule == "watchlist_face"] == []
    swipe = world.record("access_swipe", GMSFHM=wanted)
    [w] = [x for x in world.ingest("access_swipe", swipe) if x.rule == "watchlist_swipe"]
    assert w.originator_id == s.originator_id  # the same person, by blind index


# ---- registry conditions -----------------------------------------------------------------------------------
def resident(
    world: World, *, born: int, address: str, phone: str, moved_out: datetime | None = None, seed: int = 1
) -> dict[str, Any]:
    rng = random.Random(seed)
    ident = id_number(rng, birth=datetime(born, 5, 1), sex="1")
    rec = world.record(
        "resident_registration",
        ID=f"rr-{seed}",
        FANGWU_DZMC=address,
        ZJHM=ident,
        CYZJLXDM="111",
        XBDM="1",
        CSRQ=f"{born}-05-01",
        SJHM=phone,
        LXFS=phone,
        XQ_BM=ESTATE,
        RYLX=None,
        CL_RQSJ=local(moved_out) if moved_out else None,
        BLSJ=local(world.clock.now - timedelta(days=30)),
    )
    world.ingest("resident_registration", rec)
    return rec


ADDRESS = "武汉市黄陂区盘龙城幸福路8号幸福花园{}栋1单元{}室"


def test_emergency_call_of_an_elderly_person_living_alone_is_critical_with_a_15_minute_sla(
    world: World,
) -> None:
    resident(world, born=1950, address=ADDRESS.format(1, 101), phone="13900001001", seed=1)
    resident(world, born=1948, address=ADDRESS.format(2, 202), phone="13900001002", seed=2)  # lives with...
    resident(world, born=1980, address=ADDRESS.format(2, 202), phone="13900001003", seed=3)  # ...his son
    resident(world, born=1990, address=ADDRESS.format(3, 303), phone="13900001004", seed=4)  # alone, young
    calls = {
        phone: world.record("emergency_call", LXFS=phone)
        for phone in ("13900001001", "13900001002", "13900001004")
    }
    got = {
        p: [s for s in world.ingest("emergency_call", r, estate=None) if s.rule == "emergency_call"]
        for p, r in calls.items()
    }
    [alone] = got["13900001001"]
    assert (
        alone.severity == "critical"
        and alone.details["sla_minutes"] == 15
        and alone.details["elderly_alone"] is True
    )
    assert alone.originator_kind == "person" and alone.details["person_id"] == alone.originator_id
    assert alone.estate == ESTATE  # from the caller's residence, the call itself names no estate
    for phone in ("13900001002", "13900001004"):
        [s] = got[phone]
        assert s.severity == "major" and "sla_minutes" not in s.details, phone


def test_the_card_of_a_moved_out_resident(world: World) -> None:
    gone = resident(
        world,
        born=1985,
        address=ADDRESS.format(5, 501),
        phone="13900002001",
        moved_out=world.clock.now - timedelta(days=3),
        seed=21,
    )
    here = resident(world, born=1986, address=ADDRESS.format(5, 502), phone="13900002002", seed=22)
    [s] = [
        x
        for x in world.ingest(
            "access_swipe", world.record("access_swipe", GMSFHM=gone["ZJHM"], MP_ID="H-501")
        )
        if x.rule == "moved_out_card"
    ]
    assert s.originator_kind == "house" and s.originator_id == "H-501" and gone["ZJHM"] not in repr(s)
    assert [
        x
        for x in world.ingest("access_swipe", world.record("access_swipe", GMSFHM=here["ZJHM"]))
        if x.rule == "moved_out_card"
    ] == []
    # A former resident let in by a visitor call is visiting.
    visit = world.record("access_swipe", GMSFHM=gone["ZJHM"], SK_FSDM="06")
    assert [x for x in world.ingest("access_swipe", visit) if x.rule == "moved_out_card"] == []


def test_state_of_repeats_is_written_once_per_event_not_per_record(world: World) -> None:
    t = world.clock.now - timedelta(minutes=4)
    world.ingest("perimeter_alarm", *(touch(world, t + timedelta(seconds=i), "PA-9") for i in range(2)))
    table = world.svc.db.table("rule_state")
    with world.svc.db.engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.rule == "perimeter_touch_repeated")).all()
    assert [r.key for r in rows] == ["perimeter_touch_repeated:device:PA-9"]
    assert len(rows[0].value["hits"]) == 2
