"""Dispatch of emergency resources (应急指挥调度, SE66) to an incident or an alarm, with the times the
resource acknowledged and arrived.

A dispatch to an alarm is also the alarm's own `dispatched` action (AlarmStore.dispatch), so the duty
console's timeline shows who was sent; the store refuses a closed alarm, and so does this module then.
Acknowledgement and arrival default to now; a time reported afterwards (by phone, say) may be given, but
never before the dispatch, never in the future, and an arrival never before its acknowledgement (arriving
without a separate acknowledgement acknowledges at the same time).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from anju.alarms.store import AlarmNotFound, AlarmRefused
from anju.emergency.catalog import EmergencyError, instant, text
from anju.emergency.incidents import log
from anju.emergency.ops_catalog import iso, now, ops_catalog, writing
from anju.emergency.responders import serving

if TYPE_CHECKING:
    from anju.services import Services


def _target(svc: Services, incident_id: int | None, alarm_id: int | None) -> str:
    """The estate the resource is sent to."""
    if (incident_id is None) == (alarm_id is None):
        raise EmergencyError.bad(
            "incident_id",
            incident_id,
            "事件编号或告警编号之一（二选一）",
            "either an incident ID or an alarm ID",
        )
    if incident_id is not None:
        t = svc.db.table("emergency_incident")
        with svc.db.engine.connect() as conn:
            row = conn.execute(select(t.c.estate, t.c.closed_at).where(t.c.id == incident_id)).first()
        if row is None:
            raise EmergencyError.unknown("incident_id", incident_id, "事件", "incident")
        if row.closed_at is not None:
            raise EmergencyError(
                "incident_closed",
                "incident_id",
                incident_id,
                f"事件 {incident_id} 已结束，不能再调度",
                f"incident {incident_id} is closed; nothing can be dispatched to it",
            )
        return str(row.estate)
    assert alarm_id is not None
    alarm = svc.alarms.get(alarm_id)
    if alarm is None or alarm.estate is None:
        raise EmergencyError.unknown("alarm_id", alarm_id, "小区告警", "alarm of an estate")
    return alarm.estate


def target_estate(svc: Services, incident_id: int | None, alarm_id: int | None) -> str | None:
    """The estate of the incident or alarm named, or None when it does not exist."""
    try:
        return _target(svc, incident_id, alarm_id)
    except EmergencyError as exc:
        if exc.code == "not_found":
            return None
        raise


def dispatch(
    svc: Services,
    *,
    resource_id: int,
    note: str,
    actor: str,
    incident_id: int | None = None,
    alarm_id: int | None = None,
) -> int:
    body = text("note", note, max_len=500) or ""
    estate = _target(svc, incident_id, alarm_id)
    res = svc.db.table("emergency_resource")
    with svc.db.engine.connect() as conn:
        resource = conn.execute(select(res).where(res.c.id == resource_id)).first()
    if resource is None or resource.region not in serving(svc, [estate]):
        raise EmergencyError.unknown(
            "resource_id", resource_id, "服务该小区的应急资源", "resource serving this estate"
        )
    if not resource.available:
        raise EmergencyError(
            "resource_unavailable",
            "resource_id",
            resource_id,
            f"应急资源 {resource_id}（{resource.name}）当前不可用",
            f"resource {resource_id} ({resource.name}) is not available now",
        )
    kind = ops_catalog().resource_kinds.get(resource.kind)
    label = f"{kind.zh if kind else resource.kind}·{resource.name}"
    if alarm_id is not None:
        try:  # the alarm's own timeline first: it refuses a closed alarm before anything is written here
            svc.alarms.dispatch(alarm_id, f"调度 {label}：{body}"[:500], actor=actor)
        except AlarmRefused as exc:
            raise EmergencyError(exc.code, exc.field, exc.value, exc.zh, exc.en) from None
        except AlarmNotFound:
            raise EmergencyError.unknown("alarm_id", alarm_id, "告警", "alarm") from None
    t = svc.db.table("emergency_dispatch")
    with writing(svc) as conn, conn.begin():
        did = int(
            conn.execute(
                insert(t).values(
                    resource_id=resource_id,
                    estate=estate,
                    incident_id=incident_id,
                    alarm_id=alarm_id,
                    note=body,
                    dispatched_at=now(svc),
                    dispatched_by=actor,
                )
            ).inserted_primary_key[0]
        )
        if incident_id is not None:
            log(
                conn,
                svc,
                incident_id,
                actor=actor,
                kind="dispatch",
                note=f"调度 {label}（派遣 {did}）：{body}",
            )
        svc.audit.append(
            conn,
            actor=actor,
            action="emergency.dispatch.create",
            target=f"emergency_dispatch:{did}",
            detail={"resource": resource_id, "incident": incident_id, "alarm": alarm_id},
        )
    return did


def dispatch_estate(svc: Services, dispatch_id: int) -> str | None:
    t = svc.db.table("emergency_dispatch")
    with svc.db.engine.connect() as conn:
        found = conn.execute(select(t.c.estate).where(t.c.id == dispatch_id)).scalar()
    return None if found is None else str(found)


def _when(svc: Services, field: str, value: datetime | str | None, not_before: datetime) -> datetime:
    current = now(svc)
    if value is None:
        return current
    at = instant(field, value)
    if at > current or at < not_before:
        raise EmergencyError.bad(
            field,
            value if isinstance(value, str) else value.isoformat(),
            f"派遣时间（{iso(not_before)}）之后、当前时间之前的时间",
            f"a time after the dispatch or acknowledgement ({iso(not_before)}) and not in the future",
        )
    return at


def _record(svc: Services, dispatch_id: int, step: str, at: datetime | str | None, actor: str) -> None:
    t = svc.db.table("emergency_dispatch")
    with writing(svc) as conn, conn.begin():
        row = conn.execute(select(t).where(t.c.id == dispatch_id).with_for_update()).first()
        if row is None:
            raise EmergencyError.unknown("dispatch_id", dispatch_id, "调度记录", "dispatch")
        done = row.acknowledged_at if step == "ack" else row.arrived_at
        if done is not None:
            raise EmergencyError(
                f"already_{'acknowledged' if step == 'ack' else 'arrived'}",
                "dispatch_id",
                dispatch_id,
                f"调度 {dispatch_id} 已于 {iso(done)} 记录{'确认' if step == 'ack' else '到达'}",
                f"dispatch {dispatch_id} already has its {'acknowledgement' if step == 'ack' else 'arrival'} ({iso(done)})",
            )
        if step == "ack":
            when = _when(svc, "acknowledged_at", at, row.dispatched_at)
            values: dict[str, Any] = {"acknowledged_at": when, "acknowledged_by": actor}
            kind, note = "ack", f"派遣 {dispatch_id} 已确认接收"
        else:
            when = _when(svc, "arrived_at", at, row.acknowledged_at or row.dispatched_at)
            values = {"arrived_at": when, "arrived_by": actor}
            if row.acknowledged_at is None:
                values.update(acknowledged_at=when, acknowledged_by=actor)
            kind, note = "arrival", f"派遣 {dispatch_id} 已到达现场"
        conn.execute(update(t).where(t.c.id == dispatch_id).values(**values))
        if row.incident_id is not None:
            log(conn, svc, row.incident_id, actor=actor, kind=kind, note=f"{note}（{iso(when)}）")
        svc.audit.append(
            conn,
            actor=actor,
            action=f"emergency.dispatch.{'acknowledge' if step == 'ack' else 'arrive'}",
            target=f"emergency_dispatch:{dispatch_id}",
        )


def acknowledge(svc: Services, dispatch_id: int, *, actor: str, at: datetime | str | None = None) -> None:
    _record(svc, dispatch_id, "ack", at, actor)


def arrive(svc: Services, dispatch_id: int, *, actor: str, at: datetime | str | None = None) -> None:
    _record(svc, dispatch_id, "arrival", at, actor)


def list_dispatches(
    svc: Services,
    *,
    estates: list[str] | None = None,
    incident_id: int | None = None,
    alarm_id: int | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    t, res = svc.db.table("emergency_dispatch"), svc.db.table("emergency_resource")
    query = (
        select(t, res.c.kind, res.c.name)
        .join(res, res.c.id == t.c.resource_id)
        .order_by(t.c.dispatched_at.desc(), t.c.id.desc())
        .limit(limit)
    )
    if estates is not None:
        query = query.where(t.c.estate.in_(estates))
    if incident_id is not None:
        query = query.where(t.c.incident_id == incident_id)
    if alarm_id is not None:
        query = query.where(t.c.alarm_id == alarm_id)
    with svc.db.engine.connect() as conn:
        rows = conn.execute(query).all()

    def minutes(a: datetime | None, b: datetime | None) -> float | None:
        return None if a is None or b is None else round((b - a).total_seconds() / 60, 1)

    return [
        {
            "id": r.id,
            "resource_id": r.resource_id,
            "resource_kind": r.kind,
            "resource_name": r.name,
            "department": ops_catalog().department(r.kind)
            if r.kind in ops_catalog().resource_kinds
            else None,
            "estate": r.estate,
            "incident_id": r.incident_id,
            "alarm_id": r.alarm_id,
            "note": r.note,
            "dispatched_at": iso(r.dispatched_at),
            "dispatched_by": r.dispatched_by,
            "acknowledged_at": iso(r.acknowledged_at),
            "acknowledged_by": r.acknowledged_by,
            "arrived_at": iso(r.arrived_at),
            "arrived_by": r.arrived_by,
            "minutes_to_acknowledge": minutes(r.dispatched_at, r.acknowledged_at),
            "minutes_to_arrive": minutes(r.dispatched_at, r.arrived_at),
        }
        for r in rows
    ]
