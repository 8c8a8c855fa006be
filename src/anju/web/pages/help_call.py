"""A resident's help button at a house doorplate: one `emergency_call` record through the ingestion
pipeline, so that the alarm engine raises the emergency-call alarm exactly as for a call box.

A frightened resident presses the button many times. Each house gets at most one call per
`COOLDOWN`: a second press inside it answers the call already made instead of storing another. The check
and the write are serialised per process by a lock, and the record ID is derived from the house and the
cooldown window, so two processes racing on one house store one record (the second is a duplicate or a
conflict, never a second call).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import select

from anju.emergency.catalog import EmergencyError
from anju.emergency.shelters import load_graph
from anju.ingest.decode import decode_body
from anju.registry.doorplates import Doorplates, Target, target_of
from anju.registry.scan import services_text
from anju.standard.checks import CheckFailed, check_phone

if TYPE_CHECKING:
    from anju.services import Services

SLUG = "emergency_call"
COOLDOWN = timedelta(minutes=2)
PENDING = "待处理"  # BJ_ZT: not one of the rule's "handled" words, so the rule raises the alarm
_LOCK = threading.Lock()
_NAME_MAX = 50


class HelpError(Exception):
    """A help request that cannot be made; `field` names the input at fault."""

    def __init__(self, status: int, code: str, zh: str, en: str, *, field: str, value: str) -> None:
        super().__init__(en)
        self.status, self.code, self.zh, self.en, self.field, self.value = status, code, zh, en, field, value


@dataclass(frozen=True)
class HelpCall:
    record_id: str
    at: str  # local time as stored in BJQZ_RQJSJ
    repeated: bool  # a press inside the cooldown: the earlier call stands


def house_of(svc: Services, token: str) -> Target:
    """The house a doorplate token stands for; DoorplateError for a bad token, HelpError for a door that
    is not a house's (a gate or building plate has nobody's home behind it to send help to)."""
    plates = Doorplates(svc)
    with svc.db.engine.connect() as conn:
        plate = plates.resolve(token, conn)
        target = target_of(conn, plates.tables, plate.target_kind, plate.target_id)
    if target is None or target.kind != "house":
        raise HelpError(
            404,
            "not_a_house",
            "一键求助只能在住户门牌上使用",
            "the help button works at a house's doorplate only",
            field="token",
            value=plate.id,
        )
    return target


def _position(svc: Services, target: Target) -> tuple[float, float] | None:
    building, estate = svc.db.table("building"), svc.db.table("estate")
    with svc.db.engine.connect() as conn:
        if target.building_id:
            row = conn.execute(
                select(building.c.lon, building.c.lat).where(building.c.id == target.building_id)
            ).first()
            if row is not None and row.lon is not None and row.lat is not None:
                return float(row.lon), float(row.lat)
        boundary = conn.execute(select(estate.c.boundary).where(estate.c.code == target.estate)).scalar()
    if target.building_id:
        # An estate drawn only as its evacuation path graph still places its buildings.
        try:
            node = load_graph(svc, target.estate).nodes.get(target.building_id)
        except EmergencyError:
            node = None
        if node is not None:
            return node.lon, node.lat
    if boundary:
        from anju.registry.geo import stored_boundary

        shape = stored_boundary(boundary)
        if shape is not None:
            return float(shape.centroid.x), float(shape.centroid.y)
    return None


def _phone(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return check_phone(raw.strip())
    except CheckFailed:
        raise HelpError(
            422,
            "phone_invalid",
            f"联系电话 {raw.strip()[:20]!r} 无效：应为手机号或带区号的固定电话",
            f"phone {raw.strip()[:20]!r} is invalid: expected a mobile or a landline with its area code",
            field="phone",
            value=raw.strip()[:20],
        ) from None


def _name(raw: str | None) -> str:
    name = re.sub(r"\s+", " ", raw or "").strip()
    if len(name) > _NAME_MAX:
        raise HelpError(
            422,
            "name_too_long",
            f"姓名超过 {_NAME_MAX} 个字：收到 {len(name)} 个字",
            f"the name is longer than {_NAME_MAX} characters: got {len(name)}",
            field="name",
            value=name[:20] + "…",
        )
    return name or "门牌求助住户"


def _recent(svc: Services, place: str, since: datetime) -> tuple[str, datetime] | None:
    table = svc.db.table(f"rec_{SLUG}")
    query = (
        select(table.c.id, table.c.bjqz_rqjsj)
        .where(table.c.bjqz_dd == place, table.c._received_at >= since)
        .order_by(table.c.pk.desc())
        .limit(1)
    )
    with svc.db.engine.connect() as conn:
        row = conn.execute(query).first()
    return (str(row.id), row.bjqz_rqjsj) if row is not None else None


def call_for_help(
    svc: Services, token: str, *, name: str | None, phone: str | None, actor: str
) -> tuple[Target, HelpCall]:
    target = house_of(svc, token)
    caller = _name(name)
    number = _phone(phone)
    now = svc.pipeline.clock().astimezone(UTC)
    tz = svc.settings.timezone
    # BJQZ_DD is 100 characters: the address first (the alarm's location), then how the call was made.
    place = f"{target.label[:88]} 门牌一键求助"
    window = int(now.timestamp() // COOLDOWN.total_seconds())
    with _LOCK:
        earlier = _recent(svc, place, (now - COOLDOWN).replace(tzinfo=None))
        if earlier is not None:
            stamp = earlier[1].replace(tzinfo=UTC).astimezone(tz) if earlier[1] else now.astimezone(tz)
            return target, HelpCall(earlier[0], stamp.strftime("%Y-%m-%d %H:%M:%S"), True)
        local = now.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        record = _record(svc, target, place, local, window, caller, number)
        result = svc.pipeline.ingest(
            SLUG, decode_body(orjson.dumps([record])), source="doorplate", actor=actor, estate=target.estate
        )
    if result.accepted != 1 and result.duplicates != 1:
        errors = result.rejects[0].errors if result.rejects else []
        first = errors[0] if errors else {}
        raise HelpError(
            422,
            "help_not_stored",
            f"求助记录未能保存：{first.get('message_zh', '校验未通过')}",
            f"the call for help was not stored: {first.get('message_en', 'it failed validation')}",
            field=str(first.get("field", "record")),
            value=str(first.get("value", ""))[:40],
        )
    return target, HelpCall(record["ID"], local, result.duplicates == 1)


def _record(
    svc: Services,
    target: Target,
    place: str,
    local: str,
    window: int,
    caller: str,
    number: str | None,
) -> dict[str, Any]:
    # Without a number of the caller's own, the estate's service hotline is the way back to this door.
    contact = number or str(services_text().get("hotline", "12345"))
    position = _position(svc, target)
    record: dict[str, Any] = {
        "ID": f"HELP-{target.id[:30]}-{window}"[:50],
        "BJQZR_XM": caller,
        "BJQZ_DD": place,
        "BJQZ_RQJSJ": local,
        "BJLX": "求助",
        "LXFS": contact,
        "NR": "住户通过门牌二维码按下一键求助" + ("" if number else "（未留电话，联系方式为服务热线）"),
        "BJ_ZT": PENDING,
        "CLJG_MC": PENDING,
        "CLSJ": local,
        "CLR_XM": "值班员",
        "YJSJD_MC": "实时求助",
    }
    if position is None:
        raise HelpError(
            409,
            "house_not_placed",
            "该住户所在楼栋和小区都没有登记位置，无法发出求助定位；请拨打服务热线",
            "neither this house's building nor its estate has a registered position to send with the "
            "call; please phone the hotline",
            field="token",
            value=target.id[:40],
        )
    record["DQJD"], record["DQWD"] = round(position[0], 6), round(position[1], 6)
    return record
