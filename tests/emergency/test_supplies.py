"""Supplies: stock below its minimum and items near expiry raise alarms through the alarm store (once,
cleared when put right); the resident view lists supplies without personal data."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text

from anju.alarms.runtime import AlarmRuntime
from anju.emergency.catalog import EmergencyError
from anju.emergency.supplies import (
    BELOW_MINIMUM,
    NEAR_EXPIRY,
    add_item,
    check_supplies,
    create_store,
    move_stock,
    movements,
    supplies_view,
    update_item,
)
from anju.services import Services
from tests.emergency.conftest import NOW, Clock

CUSTODIAN, PHONE = "欧阳建华", "13812345678"


def _store(svc: Services) -> tuple[int, int, int, int]:
    store = create_store(
        svc,
        estate="E1",
        name="幸福里应急物资储备点",
        location="1栋架空层",
        lon=114.3,
        lat=30.6,
        custodian=CUSTODIAN,
        custodian_phone=PHONE,
        actor="user:li",
    )
    water = add_item(
        svc,
        store,
        name="饮用水",
        unit="箱",
        quantity=40,
        minimum=30,
        expires_on="2027-06-30",
        actor="user:li",
    )
    torches = add_item(svc, store, name="手电筒", unit="个", quantity=20, minimum=10, actor="user:li")
    biscuits = add_item(
        svc,
        store,
        name="压缩饼干",
        unit="箱",
        quantity=15,
        minimum=10,
        expires_on="2026-12-20",
        actor="user:li",
    )
    return store, water, torches, biscuits


def _open(svc: Services, kind: str) -> dict[int, bool]:
    """item id -> cleared, of the open alarms of a type."""
    _, alarms = svc.alarms.list(is_open=True, type=kind)
    assert {a.originator_kind for a in alarms} <= {"supply_item"}
    return {int(a.originator_id): a.cleared for a in alarms}


def test_below_minimum_and_near_expiry_raise_alarms(esvc: Services, clock: Clock) -> None:
    _, water, torches, biscuits = _store(esvc)
    # 30 November: biscuits expire on 20 December, within the 30 days; nothing is below its minimum.
    first = check_supplies(esvc, NOW)
    assert first.raised == [(NEAR_EXPIRY, biscuits)]
    assert _open(esvc, NEAR_EXPIRY) == {biscuits: False}
    _, [alarm] = esvc.alarms.list(is_open=True, type=NEAR_EXPIRY)
    assert alarm.estate == "E1" and "压缩饼干" in alarm.title_zh and alarm.severity == "warning"
    assert alarm.title_zh.startswith("应急物资临近过期")

    # Issue 15 boxes of water: 25 < 30.
    assert move_stock(esvc, water, -15, reason="issue", actor="user:li", note="3栋停水") == 25
    second = check_supplies(esvc, NOW + timedelta(minutes=1))
    assert second.raised == [(BELOW_MINIMUM, water)] and second.cleared == []
    _, [low] = esvc.alarms.list(is_open=True, type=BELOW_MINIMUM)
    assert low.details["quantity"] == 25 and low.details["minimum"] == 30
    # Checked again: nothing new, the alarm is not counted up every tick.
    assert check_supplies(esvc, NOW + timedelta(minutes=2)).raised == []
    _, [low] = esvc.alarms.list(is_open=True, type=BELOW_MINIMUM)
    assert low.count == 1
    # The alarm names the item: found by its originator.
    _, [by_item] = esvc.alarms.list(originator=f"supply_item:{water}")
    assert by_item.id == low.id

    # Restocked and the biscuits replaced by a new batch: both alarms clear.
    move_stock(esvc, water, 10, reason="stock_in", actor="user:li")
    update_item(esvc, biscuits, expires_on="2027-12-31", actor="user:li")
    third = check_supplies(esvc, NOW + timedelta(minutes=3))
    assert sorted(third.cleared) == sorted([(BELOW_MINIMUM, water), (NEAR_EXPIRY, biscuits)])
    assert _open(esvc, BELOW_MINIMUM) == {water: True} and _open(esvc, NEAR_EXPIRY) == {biscuits: True}
    assert [m["delta"] for m in movements(esvc, water)] == [40, -15, 10]
    assert torches not in _open(esvc, BELOW_MINIMUM)


def test_the_alarm_runtime_tick_checks_supplies(sqlite_services: Services) -> None:
    from tests.emergency.conftest import add_regions

    add_regions(sqlite_services)
    store = create_store(
        sqlite_services, estate="E2", name="安宁苑储备点", location="物业用房", actor="user:li"
    )
    item = add_item(sqlite_services, store, name="灭火器", unit="具", quantity=2, minimum=6, actor="user:li")
    AlarmRuntime(sqlite_services).tick(NOW)
    assert _open(sqlite_services, BELOW_MINIMUM) == {item: False}


def test_the_resident_view_has_no_personal_data(esvc: Services) -> None:
    _store(esvc)
    move_stock(esvc, 1, -1, reason="issue", actor="user:zhangsan", note="发给 3栋 王建国")
    resident = supplies_view(esvc, ["E1"], resident=True)
    shown = json.dumps(resident, ensure_ascii=False)
    for secret in (CUSTODIAN, PHONE, "欧阳", "1381", "user:", "zhangsan", "王建国", "custodian"):
        assert secret not in shown
    [store] = resident
    assert store["name"] == "幸福里应急物资储备点" and store["location"] == "1栋架空层"
    assert [(i["name"], i["quantity"], i["status"]) for i in store["items"]] == [
        ("饮用水", 39, "ok"),
        ("手电筒", 20, "ok"),
        ("压缩饼干", 15, "near_expiry"),
    ]
    # Staff see the custodian masked, in full only when unmasking.
    [staff] = supplies_view(esvc, ["E1"], resident=False)
    assert staff["custodian"] != CUSTODIAN and staff["custodian_phone"] == "138****5678"
    [full] = supplies_view(esvc, ["E1"], resident=False, unmask=True)
    assert (full["custodian"], full["custodian_phone"]) == (CUSTODIAN, PHONE)
    # Stored sealed: the database holds neither in clear.
    with esvc.db.engine.connect() as conn:
        raw = conn.execute(text("SELECT custodian, custodian_phone FROM supply_store")).one()
    assert CUSTODIAN not in raw[0] and PHONE not in raw[1] and raw[0].startswith("v1:")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s, i: move_stock(s, i, -999, reason="issue", actor="u"), "delta"),
        (lambda s, i: move_stock(s, i, 3, reason="lost", actor="u"), "reason"),
        (lambda s, i: move_stock(s, 999, 3, reason="issue", actor="u"), "item_id"),
        (lambda s, i: update_item(s, i, expires_on="31/12/2027", actor="u"), "expires_on"),
        (lambda s, i: add_item(s, 1, name="饮用水", unit="箱", quantity=1, minimum=1, actor="u"), "name"),
        (lambda s, i: add_item(s, 1, name="绳索", unit="根", quantity=-1, minimum=1, actor="u"), "quantity"),
    ],
)
def test_bad_input_names_the_field(sqlite_services: Services, call: object, field: str) -> None:
    from tests.emergency.conftest import add_regions

    add_regions(sqlite_services)
    _, water, _, _ = _store(sqlite_services)
    with pytest.raises(EmergencyError) as err:
        call(sqlite_services, water)  # type: ignore[operator]
    assert err.value.field == field and "expected" in err.value.en


def test_a_concurrent_checker_makes_no_second_alarm(esvc: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes ticking at once both read the item before either marks it: both signal, and the store
    keeps one open alarm per item and condition (the second signal counts on it); only the checker that
    moved the mark reports it as raised."""
    from anju.emergency import supplies

    _, water, _, _ = _store(esvc)
    move_stock(esvc, water, -20, reason="issue", actor="user:li")
    real = supplies._claim
    inner: list[supplies.SupplyCheck] = []
    started = False

    def racing(*args: object) -> bool:
        nonlocal started
        if not started:  # checker A has signalled; checker B runs to the end before A marks the item
            started = True
            inner.append(check_supplies(esvc, NOW))
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(supplies, "_claim", racing)
    outer = check_supplies(esvc, NOW)
    assert (BELOW_MINIMUM, water) in inner[0].raised and outer.raised == []
    _, [low] = esvc.alarms.list(is_open=True, type=BELOW_MINIMUM)
    assert low.count == 2 and low.originator_kind == "supply_item" and low.originator_id == str(water)
    # Marked now: later ticks signal nothing more.
    assert check_supplies(esvc, NOW).raised == []
    _, [again] = esvc.alarms.list(is_open=True, type=BELOW_MINIMUM)
    assert again.count == 2


def test_a_failed_raise_is_retried_on_the_next_tick(
    sqlite_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.emergency.conftest import add_regions

    add_regions(sqlite_services)
    _, water, _, _ = _store(sqlite_services)
    move_stock(sqlite_services, water, -20, reason="issue", actor="user:li")

    def broken(*_: object) -> None:
        raise RuntimeError("alarm store unavailable")

    with monkeypatch.context() as m:
        m.setattr(sqlite_services.alarms, "raise_signal", broken)
        with pytest.raises(RuntimeError):
            check_supplies(sqlite_services, NOW)
    # Nothing was marked: the next tick raises the alarm instead of believing it was raised.
    assert (BELOW_MINIMUM, water) in check_supplies(sqlite_services, NOW).raised
    assert _open(sqlite_services, BELOW_MINIMUM) == {water: False}
