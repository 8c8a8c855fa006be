"""A small registry for linkage and notification tests, built by hand so distances are known.

Region tree: 420102 江岸区 → 420102001 大智街道 → C1 幸福社区 → estates E1 幸福里, E2 安宁苑.
The alarm point is ORIGIN (30.6000 N, 114.3000 E), inside E1. Cameras, by their offset from it:

    E1-CAM-A     camera       50 m north        E1-CAM-FAR   camera       400 m north (beyond 300 m)
    E1-FACE-B    face_camera  100 m east        E1-CAM-OFF   camera       20 m, offline
    E1-CAM-C     camera       150 m south       E1-SMOKE     smoke_sensor 5 m (not a camera)
    E1-CAM-U1    camera       no coordinates, "3栋1单元门口"
    E1-CAM-U2    camera       no coordinates, "1栋大堂"
    E2-CAM-N     camera       30 m west, in the neighbouring estate E2
    E2-CAM-FAR   camera       350 m west, in E2

People: P1 王建国 (two emergency contacts), P2 李秀英 (none), P3 张伟 and P4 张芳 sharing one phone.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import insert

from anju.registry.store import Provenance
from anju.services import Services
from anju.standard.samples import SampleFactory, id_number, mobile
from anju.standard.spec import record_type

ORIGIN = (30.6000, 114.3000)  # (lat, lon)
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
STAFF = Provenance("staff")
M_PER_DEG_LAT = 6371008.8 * math.pi / 180


def offset(north_m: float = 0.0, east_m: float = 0.0) -> tuple[float, float]:
    """(lat, lon) of a point the given metres north and east of ORIGIN."""
    lat = ORIGIN[0] + north_m / M_PER_DEG_LAT
    lon = ORIGIN[1] + east_m / (M_PER_DEG_LAT * math.cos(math.radians(ORIGIN[0])))
    return lat, lon


CAMERAS: dict[str, tuple[str, str, tuple[float, float] | None, str | None, str]] = {
    # id: (estate, kind, (north, east) metres or None, location, status)
    "E1-CAM-A": ("E1", "camera", (50, 0), "1栋北侧", "active"),
    "E1-FACE-B": ("E1", "face_camera", (0, 100), "东门", "active"),
    "E1-CAM-C": ("E1", "camera", (-150, 0), "南围墙", "active"),
    "E1-CAM-FAR": ("E1", "camera", (400, 0), "北门外", "active"),
    "E1-CAM-OFF": ("E1", "camera", (20, 0), "中心花园", "offline"),
    "E1-SMOKE": ("E1", "smoke_sensor", (5, 0), "配电房", "active"),
    "E1-CAM-U1": ("E1", "camera", None, "3栋1单元门口", "active"),
    "E1-CAM-U2": ("E1", "camera", None, "1栋大堂", "active"),
    "E2-CAM-N": ("E2", "camera", (0, -30), "安宁苑东墙", "active"),
    "E2-CAM-FAR": ("E2", "camera", (0, -350), "安宁苑西门", "active"),
}
NAMES = {"P1": "王建国", "P2": "李秀英", "P3": "张伟", "P4": "张芳"}
CONTACTS = {"P1": [("王小明", "13700002222", "子"), ("王小红", "13700003333", "女")]}


@dataclass
class World:
    id_numbers: dict[str, str] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)


def build(svc: Services) -> World:
    world = World()
    rng = random.Random(20260501)
    add = svc.regions.add
    add(svc.audit, code="420102", name="江岸区", level="district", parent=None, actor="test")
    add(svc.audit, code="420102001", name="大智街道", level="street", parent="420102", actor="test")
    add(svc.audit, code="C1", name="幸福社区", level="community", parent="420102001", actor="test")
    add(svc.audit, code="E1", name="幸福里", level="estate", parent="C1", actor="test")
    add(svc.audit, code="E2", name="安宁苑", level="estate", parent="C1", actor="test")
    for cam, (estate, kind, where, location, status) in CAMERAS.items():
        lat, lon = offset(*where) if where is not None else (None, None)
        svc.devices.register(
            cam,
            estate=estate,
            kind=kind,
            actor="test",
            name=cam,
            location=location,
            lat=lat,
            lon=lon,
            status=status,
        )
    shared_phone = mobile(rng)
    with svc.db.engine.begin() as conn:
        for code, name in (("E1", "幸福里"), ("E2", "安宁苑")):
            svc.registry.upsert(
                conn,
                "estate",
                code,
                {"name": name, "centre_lat": ORIGIN[0], "centre_lon": ORIGIN[1]},
                STAFF,
                now=CREATED,
                key="code",
            )
        svc.registry.upsert(
            conn,
            "building",
            "E1-B3",
            {
                "estate": "E1",
                "code": "E1-B3",
                "name": "3栋",
                "lat": offset(140, 0)[0],
                "lon": offset(140, 0)[1],
            },
            STAFF,
            now=CREATED,
        )
        for pid, name in NAMES.items():
            world.id_numbers[pid] = id_number(rng)
            world.phones[pid] = shared_phone if pid in ("P3", "P4") else mobile(rng)
            svc.registry.upsert(
                conn,
                "person",
                pid,
                {
                    "name": name,
                    "id_type": "111",
                    "id_number": world.id_numbers[pid],
                    "phone": world.phones[pid],
                },
                STAFF,
                now=CREATED,
            )
        for pid, contacts in CONTACTS.items():
            for name, phone, relation in contacts:
                sealed = svc.registry.sealer.seal("emergency_contact", pid, {"name": name, "phone": phone})
                conn.execute(
                    insert(svc.registry.table("emergency_contact")).values(
                        person_id=pid,
                        relation=relation,
                        source="staff",
                        created_at=CREATED.replace(tzinfo=None),
                        **sealed,
                    )
                )
    return world


def emergency_call(
    svc: Services, record_id: str, *, name: str, phone: str, estate: str = "E1", **extra: Any
) -> str:
    """Ingest one emergency_call record through the real pipeline; returns its "<type>:<ID>" reference.
    `extra` are fields outside the standard (a help-button platform's certificate number, say)."""
    rtype = record_type("emergency_call")
    rec = SampleFactory(7, now=datetime.now(UTC)).record(rtype, 0)
    lat, lon = ORIGIN
    rec.update(ID=record_id, BJQZR_XM=name, LXFS=phone, BJQZ_DD="幸福里3栋1单元", DQJD=lon, DQWD=lat, **extra)
    result = svc.pipeline.ingest_ndjson(
        "emergency_call", iter([orjson.dumps(rec)]), source="test", estate=estate
    )
    assert result.accepted == 1, [r.to_dict() for r in result.rejects]
    return f"emergency_call:{record_id}"


def write_duty(data_dir: Path, webhook_base: str = "http://127.0.0.1:9/") -> Path:
    """The deployment duty file: an around-the-clock E1 control room (all three channels), a weekday
    day guard at E1, the community officer of C1 and the district centre."""
    path = data_dir / "duty.yaml"
    base = webhook_base.rstrip("/")
    path.write_text(
        f"""
officers:
  - id: E1-control
    name: 幸福里监控中心
    region: E1
    level: 0
    webhook: {base}/duty/E1-control
    email: control@e1.example.cn
    phone: "13800000001"
  - id: E1-day-guard
    name: 白班保安
    region: E1
    level: 0
    shifts:
      - {{days: [mon, tue, wed, thu, fri], from: "08:00", to: 20:00}}
    phone: "13800000002"
  - id: C1-police
    name: 幸福社区民警
    region: C1
    level: 1
    shifts:
      - {{from: "20:00", to: "08:00"}}
    phone: "13800000003"
  - id: D-centre
    name: 江岸区指挥中心
    region: "420102"
    level: 2
    webhook: {base}/duty/D-centre
""",
        encoding="utf-8",
    )
    return path
