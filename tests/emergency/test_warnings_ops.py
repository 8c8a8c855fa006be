"""Warnings stored as CAP 1.2: the exported document validates against the official XSD and round-trips;
Update and Cancel reference the earlier messages; a drill's warning is an Exercise; import refuses invalid
documents naming the schema finding; publication is pending while no notice can carry it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lxml import etree

from anju.emergency import plans, warning_ops
from anju.emergency.cap import from_cap, schema, to_cap, validate
from anju.emergency.catalog import EmergencyError
from anju.services import Services
from tests.emergency.conftest import NOW, Clock


def _issue(svc: Services, **extra: object) -> str:
    return warning_ops.issue(
        svc,
        region="C1",
        hazard="flood",
        headline="暴雨橙色预警",
        description="未来6小时降雨量将达50毫米以上",
        instruction="地下车库车辆请移至地面",
        urgency="Expected",
        severity="Severe",
        certainty="Likely",
        actor="police1",
        **extra,  # type: ignore[arg-type]
    )


def test_exported_cap_validates_round_trips_and_threads(esvc: Services, clock: Clock) -> None:
    first = _issue(esvc)
    doc = warning_ops.cap_document(esvc, first)
    assert schema().validate(etree.fromstring(doc))
    back = from_cap(doc)
    assert to_cap(back) == doc and back.status == "Actual" and back.msg_type == "Alert"
    assert back.category == "Met" and back.sent == NOW
    clock.now = NOW + timedelta(minutes=30)
    second = warning_ops.update_warning(
        esvc, first, {"severity": "Extreme", "headline": "暴雨红色预警"}, actor="p"
    )
    with pytest.raises(EmergencyError) as stale:
        warning_ops.update_warning(esvc, first, {"headline": "x"}, actor="p")
    assert stale.value.code == "warning_superseded"
    clock.now = NOW + timedelta(hours=3)
    third = warning_ops.cancel_warning(esvc, second, "雨势减弱，预警解除", actor="p")
    upd = from_cap(warning_ops.cap_document(esvc, second))
    cancel = from_cap(warning_ops.cap_document(esvc, third))
    assert upd.msg_type == "Update" and upd.references == (back.reference(),) and upd.severity == "Extreme"
    assert cancel.msg_type == "Cancel" and cancel.references == (back.reference(), upd.reference())
    assert cancel.note == "雨势减弱，预警解除"
    for wid in (second, third):
        validate(warning_ops.cap_document(esvc, wid))
    with pytest.raises(EmergencyError) as done:
        warning_ops.update_warning(esvc, third, {"headline": "x"}, actor="p")
    assert done.value.code == "warning_cancelled"
    listed = {w["id"]: w for w in warning_ops.list_warnings(esvc, ["C1"])}
    assert listed[first]["superseded_by"] == second and listed[second]["superseded_by"] == third
    assert listed[third]["superseded_by"] is None
    # C1 has no position in the registry and none is configured: no notice can carry the warning yet, so
    # its publication waits (it is not claimed as published).
    view = warning_ops.warning_view(esvc, first)
    assert view["publication"]["state"] == "pending"


def test_a_drill_warning_is_an_exercise(esvc: Services) -> None:
    drill = plans.record_drill(
        esvc,
        region="E1",
        title="防汛演练",
        hazard="flood",
        scenario="地下车库进水",
        held_at="2026-11-20T09:30:00+08:00",
        participants=[{"category": "residents", "headcount": 30}],
        actor="a",
    )
    wid = _issue(esvc, drill_id=drill)
    doc = warning_ops.cap_document(esvc, wid)
    assert b"<status>Exercise</status>" in doc
    validate(doc)
    assert warning_ops.warning_view(esvc, wid)["status"] == "Exercise"


def test_import_validates_and_names_the_schema_error(esvc: Services) -> None:
    wid = _issue(esvc)
    doc = warning_ops.cap_document(esvc, wid)
    with pytest.raises(EmergencyError) as dup:
        warning_ops.import_cap(esvc, doc, region="C1", actor="p")
    assert dup.value.code == "warning_exists"
    foreign = doc.replace(wid.encode(), b"CMA-2026-0001").replace(b"anju@C1", b"cma@weather.gov.cn")
    assert warning_ops.import_cap(esvc, foreign, region="E1", actor="p") == "CMA-2026-0001"
    broken = doc.replace(b"<msgType>Alert</msgType>", b"<msgType>Shout</msgType>")
    with pytest.raises(EmergencyError) as bad:
        warning_ops.import_cap(esvc, broken, region="C1", actor="p")
    assert bad.value.field == "cap" and "msgType" in str(bad.value.value)
    with pytest.raises(EmergencyError) as bad_enum:
        _issue(esvc, channels=["pigeon"])
    assert bad_enum.value.field == "channels"
