"""The device registry: registration checked against data/device_kinds.yaml, audited edits, and last-seen
times kept from stored records through the real pipeline (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from anju.registry.cli import registry_app
from anju.registry.devices import DeviceRefused
from anju.services import Services
from anju.standard.samples import SampleFactory
from anju.standard.spec import record_type

SWIPE = record_type("access_swipe")


def audit_actions(svc: Services) -> list[tuple[str, str]]:
    log = svc.db.table("audit_log")
    with svc.db.engine.connect() as conn:
        rows = conn.execute(
            select(log.c.action, log.c.target).where(log.c.action.like("devices.%")).order_by(log.c.seq)
        ).all()
    return [(r.action, r.target) for r in rows]


def swipes(device: str, *times: str, seed: int = 1) -> list[dict[str, Any]]:
    factory = SampleFactory(seed, now=datetime(2025, 1, 1, tzinfo=UTC))
    out = []
    for i, at in enumerate(times):
        rec = factory.record(SWIPE, i)
        rec.update(SB_BH=device, SK_RQSJ=at, ID=f"sw-{device}-{seed}-{i}")
        out.append(rec)
    return out


def ingest_swipes(svc: Services, records: list[dict[str, Any]]) -> None:
    result = svc.pipeline.ingest_ndjson(
        "access_swipe", iter([orjson.dumps(r) for r in records]), source="test"
    )
    assert result.rejected == 0, [r.to_dict() for r in result.rejects]
    assert result.accepted == len(records)


def test_register_update_list_and_status(services: Services) -> None:
    devices = services.devices
    assert (
        devices.register(
            "SB001",
            estate="XQ001",
            kind="access_reader",
            actor="user:admin",
            name="1栋门禁",
            location="1栋1单元门口",
            building_id="LD-0001",
            lon=114.2654,
            lat=30.7012,
            installed_on=date(2024, 5, 1),
        )
        == "created"
    )
    devices.register("CAM01", estate="XQ001", kind="camera", actor="user:admin")
    devices.register("CAM09", estate="XQ002", kind="camera", actor="user:admin")
    sb = devices.get("SB001")
    assert sb is not None
    assert (sb.subsystem, sb.status, sb.installed_on, sb.last_seen_at) == (
        "access",
        "active",
        date(2024, 5, 1),
        None,
    )
    assert devices.get("CAM01") is not None and devices.get("CAM01").subsystem == "video"  # type: ignore[union-attr]
    assert [d.id for d in devices.list_estate("XQ001")] == ["CAM01", "SB001"]
    assert devices.get("nope") is None

    # Registering again with the same values changes nothing; with new ones it updates, keeping the rest.
    assert devices.register("SB001", estate="XQ001", kind="access_reader", actor="user:admin") == "unchanged"
    assert (
        devices.register("SB001", estate="XQ001", kind="access_reader", actor="u", vendor="海康") == "updated"
    )
    sb = devices.get("SB001")
    assert sb is not None and (sb.vendor, sb.name) == ("海康", "1栋门禁")

    assert devices.set_status("SB001", "fault", actor="user:admin").status == "fault"
    # Re-registering does not reset a fault.
    assert devices.register("SB001", estate="XQ001", kind="access_reader", actor="u") == "unchanged"
    moved = devices.update("CAM01", {"kind": "face_camera", "location": None}, actor="user:admin")
    assert (moved.kind, moved.subsystem) == ("face_camera", "video")
    assert audit_actions(services) == [
        ("devices.register", "SB001"),
        ("devices.register", "CAM01"),
        ("devices.register", "CAM09"),
        ("devices.update", "SB001"),
        ("devices.update", "SB001"),
        ("devices.update", "CAM01"),
    ]


@pytest.mark.parametrize(
    ("changes", "field", "value", "words"),
    [
        ({"kind": "toaster"}, "kind", "toaster", ["kind='toaster'", "access_reader", "camera", "设备类型"]),
        ({"status": "broken"}, "status", "broken", ["status='broken'", "active", "retired", "设备状态"]),
        ({"lat": 91.0}, "lat", 91.0, ["lat=91.0", "±90"]),
        ({"estate": "小区 1"}, "estate", "小区 1", ["estate='小区 1'", "letters, digits"]),
        ({"colour": "red"}, "colour", "red", ["colour", "editable fields"]),
    ],
)
def test_refusals_name_field_and_value(
    sqlite_services: Services, changes: dict[str, Any], field: str, value: Any, words: list[str]
) -> None:
    devices = sqlite_services.devices
    devices.register("SB001", estate="XQ001", kind="access_reader", actor="t")
    with pytest.raises(DeviceRefused) as refused:
        devices.update("SB001", changes, actor="t")
    assert (refused.value.field, refused.value.value) == (field, value)
    for word in words:
        assert word in str(refused.value), (word, str(refused.value))
    if field == "kind":
        with pytest.raises(DeviceRefused) as again:
            devices.register("SB002", estate="XQ001", kind="toaster", actor="t")
        assert again.value.code == "kind_unknown" and devices.get("SB002") is None
    with pytest.raises(DeviceRefused) as unknown:
        devices.update("SB404", {"name": "x"}, actor="t")
    assert unknown.value.code == "device_unknown"


def test_last_seen_moves_forward_only_and_unknown_devices_are_ignored(services: Services) -> None:
    svc = services
    svc.devices.register("SB001", estate="XQ001", kind="access_reader", actor="t")
    ingest_swipes(svc, swipes("SB001", "2024-12-01 08:00:00", "2024-12-01 09:30:00", "2024-12-01 09:00:00"))
    sb = svc.devices.get("SB001")
    assert sb is not None
    assert (sb.last_seen_at, sb.last_record_type) == (datetime(2024, 12, 1, 1, 30), "access_swipe")
    updated_at = sb.updated_at

    # An older record arriving later leaves last_seen where it was.
    ingest_swipes(svc, swipes("SB001", "2024-11-30 23:00:00", seed=2))
    sb = svc.devices.get("SB001")
    assert sb is not None and sb.last_seen_at == datetime(2024, 12, 1, 1, 30)
    ingest_swipes(svc, swipes("SB001", "2024-12-02 07:00:00", seed=3))
    sb = svc.devices.get("SB001")
    assert sb is not None and sb.last_seen_at == datetime(2024, 12, 1, 23, 0)
    assert sb.updated_at == updated_at  # telemetry is not an edit

    # Records of a device nobody registered create nothing.
    ingest_swipes(svc, swipes("SB999", "2024-12-03 07:00:00", seed=4))
    with svc.db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(svc.db.table("device"))).scalar_one() == 1
    assert svc.devices.get("SB999") is None
    assert audit_actions(svc) == [("devices.register", "SB001")]


runner = CliRunner()


def test_cli_devices_add_and_list(sqlite_services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = sqlite_services
    monkeypatch.setenv("ANJU_DATA_DIR", str(svc.settings.data_dir))
    monkeypatch.setenv("ANJU_DATABASE_URL", svc.settings.database_url)
    monkeypatch.delenv("ANJU_KEYS_FILE", raising=False)
    args = ["devices", "add", "SB001", "--estate", "XQ001", "--kind", "access_reader"]
    result = runner.invoke(registry_app, [*args, "--installed-on", "2024-05-01", "--location", "北门"])
    assert result.exit_code == 0 and "created" in result.output, result.output
    result = runner.invoke(registry_app, ["devices", "add", "X1", "--estate", "XQ001", "--kind", "toaster"])
    assert result.exit_code != 0 and "kind='toaster'" in str(result.exception)
    result = runner.invoke(registry_app, ["devices", "list", "--estate", "XQ001", "--json"])
    assert result.exit_code == 0, result.output
    listed = orjson.loads(result.output)
    assert [(d["id"], d["subsystem"], d["installed_on"], d["location"]) for d in listed] == [
        ("SB001", "access", "2024-05-01", "北门")
    ]
    result = runner.invoke(registry_app, ["devices", "list", "--estate", "XQ001"])
    assert result.exit_code == 0 and "SB001" in result.output and "门禁读卡器" in result.output
    actor = svc.db.table("audit_log")
    with svc.db.engine.connect() as conn:
        who = conn.execute(select(actor.c.actor).where(actor.c.action == "devices.register")).scalar_one()
    assert who.startswith("cli:")
