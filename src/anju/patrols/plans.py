"""Checkpoints, routes and shifts (seed 003 二(六): 规划巡更路线和值守点, 巡更时间).

Errors reuse the notices module's NoticeError shape under their own name (PatrolError): field, value, what
is expected in Chinese and English, and the status the API answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from anju.db.engine import WRITE_OPTIONS
from anju.notices.catalog import NoticeError, instant, iso, text
from anju.patrols.tables import SEALED
from anju.security.masking import mask_name

if TYPE_CHECKING:
    from anju.services import Services

PatrolError = NoticeError
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _now(svc: Services) -> datetime:
    return svc.pipeline.clock().astimezone(UTC).replace(tzinfo=None)


def _writing(svc: Services) -> Any:
    return svc.db.engine.connect().execution_options(**WRITE_OPTIONS)


def _estate(svc: Services, estate: Any) -> str:
    code = text("estate", estate, max_len=40)
    region = svc.db.table("region")
    with svc.db.engine.connect() as conn:
        found = conn.execute(
            select(region.c.code).where(region.c.code == code, region.c.level == "estate")
        ).first()
    if found is None:
        raise PatrolError.bad("estate", code, "已登记的小区代码", "the code of a registered estate")
    assert code is not None
    return code


def add_checkpoint(
    svc: Services,
    *,
    estate: str,
    code: str,
    name: str,
    lon: float,
    lat: float,
    actor: str,
    device_id: str | None = None,
    qr_code: str | None = None,
) -> int:
    values = {
        "estate": _estate(svc, estate),
        "code": text("code", code, max_len=40),
        "name": text("name", name, max_len=100),
        "device_id": text("device_id", device_id, max_len=100, required=False),
        "qr_code": text("qr_code", qr_code, max_len=100, required=False),
    }
    for field, value, low, high in (("lon", lon, -180, 180), ("lat", lat, -90, 90)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise PatrolError.bad(field, value, f"{low} 到 {high} 之间的数", f"a number from {low} to {high}")
    t = svc.db.table("patrol_checkpoint")
    with _writing(svc) as conn, conn.begin():
        if conn.execute(
            select(t.c.id).where(t.c.estate == values["estate"], t.c.code == values["code"])
        ).first():
            raise PatrolError.state(
                "duplicate",
                "code",
                values["code"],
                "该小区已有此编码的巡更点",
                "the estate has that code already",
            )
        cp_id = int(
            conn.execute(
                insert(t).values(lon=float(lon), lat=float(lat), created_at=_now(svc), **values)
            ).inserted_primary_key[0]
        )
        svc.audit.append(
            conn, actor=actor, action="patrols.checkpoint.create", target=f"patrol_checkpoint:{cp_id}"
        )
    return cp_id


def _windows(value: Any) -> list[dict[str, str]]:
    out = []
    for i, w in enumerate(value or []):
        if not isinstance(w, dict) or not all(_HHMM.match(str(w.get(k, ""))) for k in ("start", "end")):
            raise PatrolError.bad(
                f"windows[{i}]",
                w,
                '{"start": "HH:MM", "end": "HH:MM"}（本地时间）',
                '{"start": "HH:MM", "end": "HH:MM"} local time',
            )
        out.append({"start": str(w["start"]), "end": str(w["end"])})
    return out


def create_route(
    svc: Services,
    *,
    estate: str,
    name: str,
    checkpoints: Sequence[str],
    actor: str,
    ordered: bool = True,
    windows: Sequence[dict[str, str]] | None = None,
) -> int:
    code = _estate(svc, estate)
    title = text("name", name, max_len=100)
    if isinstance(checkpoints, str) or not checkpoints:
        raise PatrolError.bad(
            "checkpoints", checkpoints, "巡更点编码的有序列表", "an ordered list of checkpoint codes"
        )
    if len(set(checkpoints)) != len(checkpoints):
        raise PatrolError.bad(
            "checkpoints", list(checkpoints), "不重复的巡更点编码", "checkpoint codes without repeats"
        )
    planned = _windows(windows)
    cp, route, stop = (svc.db.table(n) for n in ("patrol_checkpoint", "patrol_route", "patrol_stop"))
    with _writing(svc) as conn, conn.begin():
        ids = dict(
            conn.execute(
                select(cp.c.code, cp.c.id).where(cp.c.estate == code, cp.c.code.in_(list(checkpoints)))
            ).all()
        )
        for i, c in enumerate(checkpoints):
            if c not in ids:
                raise PatrolError.bad(
                    f"checkpoints[{i}]",
                    c,
                    f"小区 {code} 已登记的巡更点编码",
                    f"a checkpoint code registered in estate {code}",
                )
        if conn.execute(select(route.c.id).where(route.c.estate == code, route.c.name == title)).first():
            raise PatrolError.state(
                "duplicate", "name", title, "该小区已有同名路线", "the estate has a route of that name"
            )
        route_id = int(
            conn.execute(
                insert(route).values(
                    estate=code,
                    name=title,
                    ordered=bool(ordered),
                    windows=planned,
                    created_at=_now(svc),
                    created_by=actor,
                )
            ).inserted_primary_key[0]
        )
        conn.execute(
            insert(stop),
            [
                {"route_id": route_id, "seq": i + 1, "checkpoint_id": ids[c]}
                for i, c in enumerate(checkpoints)
            ],
        )
        svc.audit.append(conn, actor=actor, action="patrols.route.create", target=f"patrol_route:{route_id}")
    return route_id


def create_shift(
    svc: Services,
    *,
    route_id: int,
    guard_name: str,
    starts_at: datetime | str,
    ends_at: datetime | str,
    actor: str,
    guard_user: str | None = None,
) -> int:
    start, end = instant("starts_at", starts_at), instant("ends_at", ends_at)
    assert start is not None and end is not None
    if end <= start:
        raise PatrolError.bad("ends_at", iso(end), "晚于 starts_at 的时间", "a time after starts_at")
    name = text("guard_name", guard_name, max_len=50)
    user = text("guard_user", guard_user, max_len=80, required=False)
    route, shift = svc.db.table("patrol_route"), svc.db.table("patrol_shift")
    with _writing(svc) as conn, conn.begin():
        estate = conn.execute(select(route.c.estate).where(route.c.id == route_id)).scalar()
        if estate is None:
            raise PatrolError.unknown("route_id", route_id, "巡更路线", "patrol route")
        shift_id = int(
            conn.execute(
                insert(shift).values(
                    route_id=route_id,
                    estate=estate,
                    guard_user=user,
                    starts_at=start,
                    ends_at=end,
                    created_at=_now(svc),
                    created_by=actor,
                )
            ).inserted_primary_key[0]
        )
        sealed = svc.protector.cipher.encrypt_text(name or "", "patrol_shift", "guard_name", str(shift_id))
        conn.execute(update(shift).where(shift.c.id == shift_id).values(guard_name=sealed))
        svc.audit.append(conn, actor=actor, action="patrols.shift.create", target=f"patrol_shift:{shift_id}")
    return shift_id


def guard_name(svc: Services, shift_id: int, stored: str | None, *, masked: bool = True) -> str | None:
    if stored is None:
        return None
    plain = svc.protector.cipher.decrypt_text(stored, "patrol_shift", "guard_name", str(shift_id))
    assert SEALED["patrol_shift"]["guard_name"] == "name"
    return mask_name(plain) if masked else plain


def estate_of(svc: Services, table: str, object_id: int) -> str | None:
    """The estate of a checkpoint, route or shift, or None if there is none (the API's scope checks)."""
    t = svc.db.table(table)
    with svc.db.engine.connect() as conn:
        found = conn.execute(select(t.c.estate).where(t.c.id == object_id)).scalar()
    return None if found is None else str(found)


def list_routes(svc: Services, estates: frozenset[str] | None) -> list[dict[str, Any]]:
    route, stop, cp = (svc.db.table(n) for n in ("patrol_route", "patrol_stop", "patrol_checkpoint"))
    with svc.db.engine.connect() as conn:
        query = select(route).order_by(route.c.estate, route.c.id)
        if estates is not None:
            query = query.where(route.c.estate.in_(sorted(estates)))
        routes = conn.execute(query).all()
        stops = conn.execute(
            select(stop.c.route_id, stop.c.seq, cp.c.code, cp.c.name)
            .join(cp, cp.c.id == stop.c.checkpoint_id)
            .where(stop.c.route_id.in_([r.id for r in routes]))
            .order_by(stop.c.route_id, stop.c.seq)
        ).all()
    return [
        {
            "id": r.id,
            "estate": r.estate,
            "name": r.name,
            "ordered": bool(r.ordered),
            "windows": r.windows,
            "checkpoints": [
                {"seq": s.seq, "code": s.code, "name": s.name} for s in stops if s.route_id == r.id
            ],
        }
        for r in routes
    ]


def list_checkpoints(svc: Services, estates: frozenset[str] | None) -> list[dict[str, Any]]:
    cp = svc.db.table("patrol_checkpoint")
    query = select(cp).order_by(cp.c.estate, cp.c.code)
    if estates is not None:
        query = query.where(cp.c.estate.in_(sorted(estates)))
    with svc.db.engine.connect() as conn:
        rows = conn.execute(query).all()
    keys = ("id", "estate", "code", "name", "device_id", "qr_code", "lon", "lat")
    return [{k: getattr(r, k) for k in keys} for r in rows]


def shift_view(svc: Services, shift_id: int, *, unmask: bool = False) -> dict[str, Any]:
    """A shift's status: every stop, whether and when it was checked, in order or not, and the misses."""
    shift, route, stop, cp, checkin = (
        svc.db.table(n)
        for n in ("patrol_shift", "patrol_route", "patrol_stop", "patrol_checkpoint", "patrol_checkin")
    )
    with svc.db.engine.connect() as conn:
        row = conn.execute(
            select(shift, route.c.name.label("route_name"))
            .join(route, route.c.id == shift.c.route_id)
            .where(shift.c.id == shift_id)
        ).first()
        if row is None:
            raise PatrolError.unknown("shift_id", shift_id, "巡更班次", "patrol shift")
        stops = conn.execute(
            select(stop.c.seq, cp.c.id, cp.c.code, cp.c.name)
            .join(cp, cp.c.id == stop.c.checkpoint_id)
            .where(stop.c.route_id == row.route_id)
            .order_by(stop.c.seq)
        ).all()
        visits = {
            c.checkpoint_id: c
            for c in conn.execute(select(checkin).where(checkin.c.shift_id == shift_id)).all()
        }
    now = _now(svc)
    status = (
        "judged"
        if row.checked_at
        else (
            "open" if row.starts_at <= now <= row.ends_at else "planned" if now < row.starts_at else "ended"
        )
    )
    return {
        "id": row.id,
        "route": {"id": row.route_id, "name": row.route_name},
        "estate": row.estate,
        "guard": guard_name(svc, row.id, row.guard_name, masked=not unmask),
        "guard_user": row.guard_user,
        "starts_at": iso(row.starts_at),
        "ends_at": iso(row.ends_at),
        "status": status,
        "missed": row.missed,
        "stops": [
            {
                "seq": s.seq,
                "code": s.code,
                "name": s.name,
                "checked_at": iso(visits[s.id].at) if s.id in visits else None,
                "method": visits[s.id].method if s.id in visits else None,
                "in_order": bool(visits[s.id].in_order) if s.id in visits else None,
                "record_id": visits[s.id].record_id if s.id in visits else None,
            }
            for s in stops
        ],
        "out_of_order": [s.code for s in stops if s.id in visits and not visits[s.id].in_order],
    }


def list_shifts(svc: Services, estates: frozenset[str] | None, *, limit: int = 200) -> list[dict[str, Any]]:
    shift = svc.db.table("patrol_shift")
    query = select(shift.c.id).order_by(shift.c.starts_at.desc()).limit(limit)
    if estates is not None:
        query = query.where(shift.c.estate.in_(sorted(estates)))
    with svc.db.engine.connect() as conn:
        ids = list(conn.execute(query).scalars())
    return [shift_view(svc, int(i)) for i in ids]
