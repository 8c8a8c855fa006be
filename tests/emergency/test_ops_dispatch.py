"""Duty coverage gaps, resources with sealed contacts, dispatch with acknowledgement and arrival times (also
on the alarm's timeline), incidents with their action log and after-action report, the nearest AED."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from anju.alarms.model import AlarmSignal
from anju.emergency import dispatch, incidents, responders
from anju.emergency.catalog import EmergencyError
from anju.emergency.duty_coverage import coverage_gaps
from anju.services import Services
from tests.emergency.conftest import NOW, Clock

ROSTER = """
officers:
  - id: E1-day
    name: 幸福里白班
    region: E1
    level: 0
    shifts: [{from: "08:00", to: "20:00"}]
    phone: "13800000001"
  - id: E1-night
    name: 幸福里夜班
    region: E1
    level: 0
    shifts: [{days: [mon, tue, wed, thu, fri], from: "22:00", to: "08:00"}]
    phone: "13800000002"
  - id: C1-community
    name: 幸福社区
    region: C1
    level: 1
    phone: "13800000003"
"""


def test_coverage_gaps_find_the_hole_in_the_roster(esvc: Services) -> None:
    (esvc.settings.data_dir / "duty.yaml").write_text(ROSTER, encoding="utf-8")
    tz = esvc.settings.timezone
    start = datetime(2026, 11, 30, 0, 0, tzinfo=tz)  # a Monday
    estates = ["E1", "E3"]
    gaps = coverage_gaps(
        esvc.duty.officers(),
        estates,
        {e: esvc.regions.ancestors(e) for e in estates},
        start=start,
        end=start + timedelta(days=7),
        tz=tz,
        levels=(0, 1),
    )
    e1 = [(g.start, g.end) for g in gaps if g.estate == "E1" and g.level == 0]
    # 20:00-22:00 every day; Saturday and Sunday night (no night shift starts on Sat/Sun) from 22:00 to 08:00
    assert (datetime(2026, 11, 30, 20, 0, tzinfo=tz), datetime(2026, 11, 30, 22, 0, tzinfo=tz)) in e1
    assert (datetime(2026, 12, 5, 20, 0, tzinfo=tz), datetime(2026, 12, 6, 8, 0, tzinfo=tz)) in e1
    # Monday 00:00-08:00 too: the night shift that would cover it starts on Sunday, which it does not.
    assert (start, datetime(2026, 11, 30, 8, 0, tzinfo=tz)) in e1
    assert len(e1) == 8
    assert not [g for g in gaps if g.estate == "E1" and g.level == 1]  # the community covers all day
    assert [(g.estate, g.level) for g in gaps if g.estate == "E3"] == [("E3", 0), ("E3", 1)]  # nobody at all
    # The gaps agree with the roster's own on_duty at every quarter hour of the week.
    t = start
    while t < start + timedelta(days=7):
        in_gap = any(a <= t < b for a, b in e1)
        assert in_gap == (not esvc.duty.on_duty("E1", 0, t)), t
        t += timedelta(minutes=15)


def _alarm(svc: Services) -> int:
    signal = AlarmSignal(
        type="emergency_call",
        severity="major",
        originator_kind="device",
        originator_id="HB-1",
        estate="E1",
        title_zh="紧急求助",
        title_en="Emergency call",
        rule="emergency_call",
        at=NOW,
        lon=114.3,
        lat=30.6,
    )
    found = svc.alarms.raise_signal(signal).alarm_id
    assert found is not None
    return found


def test_dispatch_to_an_alarm_records_ack_and_arrival_and_the_alarm_timeline(
    esvc: Services, clock: Clock
) -> None:
    rid = responders.create_resource(
        esvc,
        region="C1",
        kind="medical",
        name="社区卫生服务中心",
        contact_name="王医生",
        contact_phone="13912345678",
        actor="admin",
    )
    listed = responders.list_resources(esvc, responders.serving(esvc, ["E1"]))
    assert listed[0]["contact_name"] != "王医生" and "*" in listed[0]["contact_phone"]
    t = esvc.db.table("emergency_resource")
    with esvc.db.engine.connect() as conn:
        stored = conn.execute(select(t.c.contact_name, t.c.contact_phone)).one()
    assert "王医生" not in stored[0] and "13912345678" not in stored[1]
    alarm_id = _alarm(esvc)
    did = dispatch.dispatch(esvc, resource_id=rid, alarm_id=alarm_id, note="两人携担架前往", actor="duty1")
    alarm = esvc.alarms.get(alarm_id, events=True)
    assert (
        alarm is not None
        and alarm.dispatched_by == "duty1"
        and "社区卫生服务中心" in (alarm.dispatch_note or "")
    )
    clock.now = NOW + timedelta(minutes=3)
    dispatch.acknowledge(esvc, did, actor="duty1")
    with pytest.raises(EmergencyError) as err:
        dispatch.arrive(esvc, did, actor="duty1", at=(NOW + timedelta(minutes=1)).isoformat())
    assert err.value.field == "arrived_at"  # before the acknowledgement
    clock.now = NOW + timedelta(minutes=20)
    dispatch.arrive(esvc, did, actor="duty1", at=(NOW + timedelta(minutes=12)).isoformat())
    (row,) = dispatch.list_dispatches(esvc, alarm_id=alarm_id)
    assert row["minutes_to_acknowledge"] == 3.0 and row["minutes_to_arrive"] == 12.0
    with pytest.raises(EmergencyError) as again:
        dispatch.acknowledge(esvc, did, actor="duty1")
    assert again.value.code == "already_acknowledged"
    esvc.alarms.close(alarm_id, "已送医", actor="duty1")
    with pytest.raises(EmergencyError) as closed:
        dispatch.dispatch(esvc, resource_id=rid, alarm_id=alarm_id, note="再派", actor="duty1")
    assert closed.value.code == "alarm_closed"


def test_incident_log_report_and_nearest_aed(esvc: Services, clock: Clock) -> None:
    far = responders.create_resource(
        esvc, region="E1", kind="aed", name="南门AED", lon=114.310, lat=30.600, actor="a"
    )
    near = responders.create_resource(
        esvc, region="E1", kind="aed", name="3栋AED", lon=114.3005, lat=30.6, actor="a"
    )
    responders.create_resource(esvc, region="E3", kind="aed", name="别的小区", lon=114.3, lat=30.6, actor="a")
    responders.create_resource(
        esvc, region="C1", kind="first_aider", name="急救员", lon=114.302, lat=30.6, actor="a"
    )
    fire = responders.create_resource(esvc, region="420102", kind="fire", name="消防站", actor="a")
    police = responders.create_resource(esvc, region="420102", kind="police", name="派出所", actor="a")
    iid = incidents.open_incident(
        esvc, estate="E1", title="3栋老人摔倒", commander="chief1", actor="duty1", lon=114.3, lat=30.6
    )
    ranked = responders.nearest_first_aid(esvc, "E1", 114.3, 30.6)
    assert [r["id"] for r in ranked][:2] == [near, ranked[1]["id"]] and ranked[0]["distance_m"] < 60
    assert ranked[-1]["id"] == far and all(r["name"] != "别的小区" for r in ranked)
    assert ranked[1]["kind"] == "first_aider"
    d1 = dispatch.dispatch(esvc, resource_id=fire, incident_id=iid, note="破门", actor="duty1")
    dispatch.dispatch(esvc, resource_id=police, incident_id=iid, note="警戒", actor="duty1")
    clock.now = NOW + timedelta(minutes=8)
    dispatch.arrive(esvc, d1, actor="duty1")
    incidents.add_note(esvc, iid, "已联系家属", actor="duty1")
    incidents.hand_over(esvc, iid, "chief2", actor="chief1")
    with pytest.raises(EmergencyError) as bad:
        incidents.close_incident(esvc, iid, outcome="resolved", report={"summary": "送医"}, actor="chief2")
    assert bad.value.field == "report.causes"
    incidents.close_incident(
        esvc,
        iid,
        outcome="resolved",
        report={"summary": "送医", "causes": "地面湿滑", "improvements": "加装扶手"},
        actor="chief2",
    )
    view = incidents.incident_view(esvc, iid)
    assert [e["kind"] for e in view["log"]] == [
        "opened",
        "dispatch",
        "dispatch",
        "arrival",
        "note",
        "command",
        "closed",
    ]  # arriving without a separate acknowledgement acknowledges at the same time
    assert view["dispatches"][-1]["acknowledged_at"] == view["dispatches"][-1]["arrived_at"]
    assert view["commander"] == "chief2" and view["report"]["causes"] == "地面湿滑"
    assert view["status"] == "closed" and len(view["dispatches"]) == 2
    with pytest.raises(EmergencyError) as shut:
        incidents.add_note(esvc, iid, "补充", actor="duty1")
    assert shut.value.code == "incident_closed"
    assert datetime.fromisoformat(view["closed_at"]) == (NOW + timedelta(minutes=8)).astimezone(UTC)
