"""Linkage over a real registry (SQLite file and PostgreSQL): nearest cameras by distance with the
estate's own first, positions taken from originators, the caller of an emergency call found through the
ID-number and phone blind indexes, and the duty roster file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from anju.alarms.duty import DutyConfigError, FileDutyRoster, responsible
from anju.alarms.linkage import (
    AlarmLinkage,
    Linkage,
    camera_kinds,
    cameras_at,
    haversine_m,
    nearest_cameras,
)
from anju.alarms.model import AlarmSignal
from anju.services import Services
from tests.alarms_notify import world as w

TZ = ZoneInfo("Asia/Shanghai")
# 2026-05-02 is a Saturday, 2026-05-04 a Monday.
SATURDAY_NIGHT = datetime(2026, 5, 2, 3, 0, tzinfo=TZ)
MONDAY_MORNING = datetime(2026, 5, 4, 10, 0, tzinfo=TZ)
MONDAY_EVENING = datetime(2026, 5, 4, 21, 0, tzinfo=TZ)
ANCESTORS = {"E1": ["E1", "C1", "420102001", "420102"], "E2": ["E2", "C1", "420102001", "420102"]}


def ancestors(code: str) -> list[str]:
    return ANCESTORS.get(code, [code])


def roster_for(data_dir: Path) -> FileDutyRoster:
    w.write_duty(data_dir)
    return FileDutyRoster.for_data_dir(data_dir, TZ, ancestors)


def signal(**changes: Any) -> AlarmSignal:
    lat, lon = w.ORIGIN
    values: dict[str, Any] = {
        "type": "emergency_call",
        "rule": "emergency_call",
        "severity": "critical",
        "originator_kind": "estate",
        "originator_id": "E1",
        "estate": "E1",
        "at": SATURDAY_NIGHT.astimezone(UTC),
        "title_zh": "紧急求助",
        "title_en": "Emergency call",
        "lon": lon,
        "lat": lat,
    }
    values.update(changes)
    return AlarmSignal(**values)


def link(services: Services, sig: AlarmSignal) -> AlarmLinkage:
    linkage = Linkage(services, roster_for(services.settings.data_dir))
    with services.db.engine.connect() as conn:
        return linkage.for_signal(conn, sig)


def by_purpose(result: AlarmLinkage, purpose: str) -> list[str]:
    return [r.contact.key for r in result.recipients if r.purpose == purpose]


# ---- distances and cameras ----------------------------------------------------------------------------
def test_haversine_matches_known_distances() -> None:
    lat, lon = w.ORIGIN
    assert haversine_m(lat, lon, lat, lon) == 0.0
    assert haversine_m(lat, lon, *w.offset(1000, 0)) == pytest.approx(1000.0, abs=0.01)
    assert haversine_m(lat, lon, *w.offset(0, 1000)) == pytest.approx(1000.0, abs=0.5)
    # Wuhan to Beijing (Tiananmen), about 1,052 km on the sphere.
    assert haversine_m(30.5928, 114.3055, 39.9087, 116.3975) == pytest.approx(1_052_000, rel=0.005)
    assert camera_kinds() >= {"camera", "face_camera"}
    assert "smoke_sensor" not in camera_kinds()


def test_nearest_cameras_by_distance_own_estate_first(services: Services) -> None:
    w.build(services)
    lat, lon = w.ORIGIN
    with services.db.engine.connect() as conn:
        cams = nearest_cameras(conn, "E1", lon, lat, limit=10)
        # Own estate by distance (the 400 m camera is too far, the offline one and the smoke sensor are
        # not offered), then the own estate's unplaced cameras by location text, then the neighbour's
        # camera although it is the nearest of all.
        assert [c.id for c in cams] == [
            "E1-CAM-A",
            "E1-FACE-B",
            "E1-CAM-C",
            "E1-CAM-U2",
            "E1-CAM-U1",
            "E2-CAM-N",
        ]
        distances = [c.distance_m for c in cams]
        for got, expected in zip(distances, [50, 100, 150, None, None, 30], strict=True):
            assert (got is None and expected is None) or got == pytest.approx(expected, abs=0.5)
        assert cams[0].to_json() == {
            "id": "E1-CAM-A",
            "name": "E1-CAM-A",
            "estate": "E1",
            "location": "1栋北侧",
            "distance_m": 50.0,
        }
        assert [c.id for c in nearest_cameras(conn, "E1", lon, lat)] == [
            "E1-CAM-A",
            "E1-FACE-B",
            "E1-CAM-C",
        ]
        wide = nearest_cameras(conn, "E1", lon, lat, limit=10, max_distance_m=1000)
        assert [c.id for c in wide] == [
            "E1-CAM-A",
            "E1-FACE-B",
            "E1-CAM-C",
            "E1-CAM-FAR",
            "E1-CAM-U2",
            "E1-CAM-U1",
            "E2-CAM-N",
            "E2-CAM-FAR",
        ]
        # Without a position: the estate's active cameras, by location text.
        unplaced = nearest_cameras(conn, "E1", None, None, limit=10)
        assert [c.id for c in unplaced] == [
            "E1-CAM-A",
            "E1-CAM-U2",
            "E1-CAM-U1",
            "E1-FACE-B",
            "E1-CAM-FAR",
            "E1-CAM-C",
        ]
        assert all(c.distance_m is None for c in unplaced)
        # Without an estate: every estate's cameras by distance alone.
        anywhere = nearest_cameras(conn, None, lon, lat, limit=10)
        assert [c.id for c in anywhere] == ["E2-CAM-N", "E1-CAM-A", "E1-FACE-B", "E1-CAM-C"]
        assert nearest_cameras(conn, "E1", lon, lat, limit=0) == []


def test_a_batch_of_places_gets_what_each_place_gets_alone(services: Services) -> None:
    """cameras_at reads a batch's cameras with two queries; every place must get what it gets asked
    alone (nearest_cameras): a batch never lends one place's cameras to another. Own estate, other
    estates, no estate, no position, far away."""
    w.build(services)
    places: list[tuple[str | None, float | None, float | None]] = []
    for estate in ("E1", "E2", None, "E9"):
        for north, east in ((0, 0), (140, 0), (-350, 20), (5000, 5000)):
            lat, lon = w.offset(north, east)
            places.append((estate, lon, lat))
        places.append((estate, None, None))
    with services.db.engine.connect() as conn:
        for limit, reach in ((3, 300.0), (10, 1000.0), (0, 300.0), (5, 0.0)):
            batch = cameras_at(conn, places, limit=limit, max_distance_m=reach)
            for place in places:
                alone = nearest_cameras(conn, *place, limit=limit, max_distance_m=reach)
                assert batch[place] == alone, place
            if limit:
                assert any(batch[p] for p in places)  # the comparison is not between empty lists only

        # Two statements for any number of places up to a hundred: the estates' cameras, and the cameras
        # inside any of the places' search boxes (not inside one box spanning places 5 km apart).
        statements: list[tuple[str, Any]] = []

        def count(_c: Any, _cur: Any, statement: str, parameters: Any, *_args: Any) -> None:
            statements.append((statement, parameters))

        event.listen(conn, "before_cursor_execute", count)
        try:
            cameras_at(conn, [p for p in places if p[0] in ("E1", "E2") and p[1] is not None])
        finally:
            event.remove(conn, "before_cursor_execute", count)
        assert len(statements) == 2, statements
        assert statements[1][0].count("BETWEEN") == 2 * 4  # four places, a box each


def test_position_comes_from_the_originator(services: Services) -> None:
    w.build(services)
    # A smoke sensor 5 m north of the origin raises an alarm without coordinates of its own.
    smoke = link(
        services, signal(type="smoke", originator_kind="device", originator_id="E1-SMOKE", lon=None, lat=None)
    )
    assert [c["id"] for c in smoke.cameras_json()] == ["E1-CAM-A", "E1-FACE-B", "E1-CAM-C"]
    assert smoke.cameras_json()[0]["distance_m"] == pytest.approx(45.0, abs=0.5)
    # A building 140 m north: the 400 m camera is 260 m from it.
    building = link(
        services, signal(type="fire", originator_kind="building", originator_id="E1-B3", lon=None, lat=None)
    )
    assert [c["id"] for c in building.cameras_json()] == ["E1-CAM-A", "E1-FACE-B", "E1-CAM-FAR"]
    assert building.records == ()
    # The alarm store's hook: cameras only, in the stored form.
    linkage = Linkage(services, roster_for(services.settings.data_dir))
    with services.db.engine.connect() as conn:
        stored = linkage.cameras_for(
            conn,
            [
                signal(originator_kind="device", originator_id="E1-SMOKE", lon=None, lat=None),
                signal(originator_kind="building", originator_id="E1-B3", lon=None, lat=None),
            ],
        )
    assert stored == [smoke.cameras_json(), building.cameras_json()]


# ---- the caller of an emergency call ------------------------------------------------------------------
def test_emergency_contacts_found_through_the_id_number_blind_index(services: Services) -> None:
    world = w.build(services)
    # The help-button platform sends the caller's certificate number beside the standard's fields; the
    # phone the call came from belongs to nobody in the registry.
    ref = w.emergency_call(services, "EC-1", name="王建国", phone="13912345678", SFZHM=world.id_numbers["P1"])
    result = link(services, signal(records=(ref,)))
    assert result.person_id == "P1"
    assert result.person_found_by == "id_number"
    assert result.records == (ref,)
    assert by_purpose(result, "duty_officer") == ["duty:E1-control"]  # Saturday night: no day guard
    contacts = [r.contact for r in result.recipients if r.purpose == "emergency_contact"]
    assert [(c.name, c.phone, c.relation) for c in contacts] == [
        ("王小明", "13700002222", "子"),
        ("王小红", "13700003333", "女"),
    ]
    assert all(c.key.startswith("emergency_contact:") for c in contacts)
    assert [c["id"] for c in result.cameras_json()] == ["E1-CAM-A", "E1-FACE-B", "E1-CAM-C"]


def test_caller_found_through_the_phone_blind_index(services: Services) -> None:
    world = w.build(services)
    ref = w.emergency_call(services, "EC-2", name="李秀英", phone=world.phones["P2"])
    result = link(services, signal(records=(ref,)))
    assert (result.person_id, result.person_found_by) == ("P2", "phone")
    assert by_purpose(result, "emergency_contact") == []
    assert "the caller has no emergency contacts" in result.notes

    # Two people on one phone: the caller's name tells them apart …
    ref = w.emergency_call(services, "EC-3", name="张芳", phone=world.phones["P4"])
    result = link(services, signal(records=(ref,)))
    assert (result.person_id, result.person_found_by) == ("P4", "phone+name")
    # … and when it does not, nobody's contacts are told, and the note says why without a name.
    ref = w.emergency_call(services, "EC-4", name="张三", phone=world.phones["P3"])
    result = link(services, signal(records=(ref,)))
    assert result.person_id is None
    assert by_purpose(result, "emergency_contact") == []
    assert by_purpose(result, "duty_officer") == ["duty:E1-control"]
    assert any("2 people share the caller's phone" in n for n in result.notes)
    assert not any("张" in n for n in result.notes)


def test_caller_from_the_originator_and_estate_from_the_residence(services: Services) -> None:
    w.build(services)
    result = link(services, signal(originator_kind="person", originator_id="P1"))
    assert (result.person_id, result.person_found_by) == ("P1", "originator")
    assert len(by_purpose(result, "emergency_contact")) == 2
    unknown = link(
        services, signal(originator_kind="person", originator_id="nobody", records=("emergency_call:nope",))
    )
    assert unknown.person_id is None
    assert "record emergency_call:nope not found" in unknown.notes


def test_who_is_told_of_other_alarms(services: Services) -> None:
    w.build(services)
    minor = link(services, signal(type="door_open", severity="minor"))
    assert minor.recipients == ()
    major = link(services, signal(type="perimeter_intrusion", severity="major"))
    assert by_purpose(major, "duty_officer") == ["duty:E1-control"]
    assert major.person_id is None

    linkage = Linkage(services, roster_for(services.settings.data_dir))
    alarm = {
        "type": "perimeter_intrusion",
        "severity": "critical",
        "originator_kind": "device",
        "originator_id": "E1-CAM-A",
        "estate": "E1",
        "records": ["perimeter_alarm:PA-1"],
        "cameras": [{"id": "E1-CAM-A", "name": "A", "estate": "E1", "location": None, "distance_m": 0.0}],
        "escalation_level": 1,
        "last_seen_at": MONDAY_EVENING.astimezone(UTC).replace(tzinfo=None),
    }
    with services.db.engine.connect() as conn:
        escalated = linkage.for_alarm(conn, alarm, occasion="escalated")
        assert by_purpose(escalated, "escalation") == ["duty:C1-police"]
        assert [c.id for c in escalated.cameras] == ["E1-CAM-A"]  # stored cameras are kept
        # Nobody at level 1 on Monday morning: the district centre is told instead.
        later = linkage.for_alarm(conn, alarm, occasion="reminder", at=MONDAY_MORNING)
        assert by_purpose(later, "reminder") == ["duty:D-centre"]


# ---- the duty roster ---------------------------------------------------------------------------------
def keys(contacts: list[Any]) -> list[str]:
    return [c.key for c in contacts]


def test_duty_roster_levels_shifts_and_regions(tmp_path: Path) -> None:
    roster = roster_for(tmp_path)
    assert keys(roster.on_duty("E1", 0, MONDAY_MORNING)) == ["duty:E1-control", "duty:E1-day-guard"]
    assert keys(roster.on_duty("E1", 0, MONDAY_EVENING)) == ["duty:E1-control"]
    assert keys(roster.on_duty("E1", 0, SATURDAY_NIGHT + timedelta(hours=8))) == ["duty:E1-control"]
    # The community officer covers both of its estates, on a shift that crosses midnight.
    assert keys(roster.on_duty("E2", 1, MONDAY_EVENING)) == ["duty:C1-police"]
    assert keys(roster.on_duty("E1", 1, MONDAY_EVENING + timedelta(hours=10, minutes=59))) == [
        "duty:C1-police"
    ]
    assert keys(roster.on_duty("E1", 1, MONDAY_EVENING + timedelta(hours=11))) == []
    assert keys(roster.on_duty("E2", 0, MONDAY_MORNING)) == []
    assert keys(roster.on_duty("E9", 1, MONDAY_EVENING)) == []  # an estate outside C1
    # Nobody at a level: the nearest level above with someone on duty.
    assert keys(responsible(roster, "E2", 0, MONDAY_MORNING)) == ["duty:D-centre"]
    assert keys(responsible(roster, "E2", 0, MONDAY_EVENING)) == ["duty:C1-police"]
    control = roster.on_duty("E1", 0, MONDAY_EVENING)[0]
    assert list(control.targets()) == [
        ("webhook", "http://127.0.0.1:9/duty/E1-control"),
        ("email", "control@e1.example.cn"),
        ("sms", "13800000001"),
    ]
    assert "13800000001" not in repr(control)  # addresses stay out of logs and tracebacks
    with pytest.raises(ValueError, match="timezone-aware"):
        roster.on_duty("E1", 0, datetime(2026, 5, 4, 10, 0))


def test_duty_file_is_reread_and_checked(tmp_path: Path) -> None:
    roster = roster_for(tmp_path)
    assert len(roster.officers()) == 4
    path = tmp_path / "duty.yaml"
    path.write_text("officers:\n  - {id: only, region: '*', level: 2, email: a@b.cn}\n", encoding="utf-8")
    assert keys(roster.on_duty("E1", 2, MONDAY_MORNING)) == ["duty:only"]
    assert keys(roster.on_duty(None, 2, MONDAY_MORNING)) == ["duty:only"]
    path.write_text("officers:\n  - {id: bad, region: E1, level: 3, phone: '1'}\n", encoding="utf-8")
    with pytest.raises(DutyConfigError, match=r"duty.yaml: officers\[0\].level"):
        roster.officers()
    path.write_text("officers:\n  - {id: x, region: E1, level: 0}\n", encoding="utf-8")
    with pytest.raises(DutyConfigError, match="at least one of webhook, email, phone"):
        roster.officers()
    path.write_text(
        "officers:\n  - {id: x, region: E1, level: 0, phone: '1', shifts: [{from: '25:00', to: '08:00'}]}\n",
        encoding="utf-8",
    )
    with pytest.raises(DutyConfigError, match=r"shifts\[0\].from"):
        roster.officers()
    path.unlink()
    # The packaged file names nobody: staff contacts belong to the deployment, not the repository.
    assert roster.officers() == ()
