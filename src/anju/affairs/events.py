"""Abnormal events and injuries (异常事件与伤害, SE41; the 事故与伤害记录 of seed 002).

An event has a type (data/events.yaml), a place (estate, address or location, optional WGS-84 point),
people involved by registry person id and role (never their personal data), injured and dead counts,
handling steps with the status each leaves, and the upload to the upper platform (when, result, the upper
platform's reference). Every change is audited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, update

from anju.affairs.catalog import AffairsError, catalog, instant, iso, now, optional_instant, text, whole
from anju.affairs.store import masked_people, person_ids, region_code, writing
from anju.emergency.catalog import coordinate

if TYPE_CHECKING:
    from anju.services import Services

Scope = frozenset[str] | None


def _people(conn: Connection, svc: Services, people: Any) -> list[dict[str, str]]:
    if not isinstance(people, list):
        raise AffairsError.bad("people", people, "列表：[{person_id, role}]", "a list of {person_id, role}")
    out: list[dict[str, str]] = []
    for i, p in enumerate(people):
        if not isinstance(p, dict):
            raise AffairsError.bad(f"people[{i}]", p, "{person_id, role}", "an object {person_id, role}")
        role = catalog().check("event_roles", f"people[{i}].role", p.get("role"))
        [pid] = person_ids(conn, svc, f"people[{i}].person_id", [p.get("person_id")])
        out.append({"person_id": pid, "role": role})
    return out


def record_event(
    svc: Services,
    *,
    estate: str,
    type: str,
    occurred_at: Any,
    place: str,
    summary: str,
    actor: str,
    injured: int = 0,
    dead: int = 0,
    people: list[dict[str, Any]] | None = None,
    lon: float | None = None,
    lat: float | None = None,
) -> int:
    values: dict[str, Any] = {
        "type": catalog().check("event_types", "type", type),
        "occurred_at": instant("occurred_at", occurred_at),
        "place": text("place", place, max_len=300),
        "summary": text("summary", summary, max_len=4000),
        "injured": whole("injured", injured),
        "dead": whole("dead", dead),
        "lon": None if lon is None else coordinate("lon", lon, lon=True),
        "lat": None if lat is None else coordinate("lat", lat, lon=False),
    }
    if (lon is None) != (lat is None):
        raise AffairsError.bad("lat", lat, "经纬度同时给出或都不给", "lon and lat together, or neither")
    at = now(svc)
    t = svc.db.table("abnormal_event")
    with writing(svc) as conn, conn.begin():
        values["estate"] = region_code(conn, svc, "estate", estate, estate=True)
        values["people"] = _people(conn, svc, people or [])
        event_id = int(
            conn.execute(
                insert(t).values(**values, status="reported", created_at=at, created_by=actor)
            ).inserted_primary_key[0]
        )
        svc.audit.append(
            conn,
            actor=actor,
            action="abnormal_event.create",
            target=f"abnormal_event:{event_id}",
            detail={"type": values["type"], "estate": values["estate"]},
        )
    return event_id


def _event(conn: Connection, svc: Services, event_id: int, scope: Scope) -> Any:
    t = svc.db.table("abnormal_event")
    row = conn.execute(select(t).where(t.c.id == event_id)).first()
    if row is None or (scope is not None and row.estate not in scope):
        raise AffairsError.unknown("event_id", event_id, "异常事件", "abnormal event")
    return row


def handle(svc: Services, event_id: int, *, action: str, status: str, actor: str, scope: Scope = None) -> int:
    """One handling step; `status` is the event's status after it (closing sets closed_at)."""
    what = text("action", action, max_len=4000)
    status = catalog().check("event_statuses", "status", status)
    t, a = svc.db.table("abnormal_event"), svc.db.table("abnormal_event_action")
    at = now(svc)
    with writing(svc) as conn, conn.begin():
        row = _event(conn, svc, event_id, scope)
        if row.status == "closed":
            raise AffairsError(
                "closed",
                "event_id",
                event_id,
                f"异常事件 {event_id} 已办结，不能再处置",
                f"abnormal event {event_id} is closed; it takes no further actions",
            )
        pk = int(
            conn.execute(
                insert(a).values(event_id=event_id, at=at, actor=actor, action=what, status=status)
            ).inserted_primary_key[0]
        )
        conn.execute(
            update(t)
            .where(t.c.id == event_id)
            .values(status=status, closed_at=at if status == "closed" else None)
        )
        svc.audit.append(
            conn,
            actor=actor,
            action="abnormal_event.handle",
            target=f"abnormal_event:{event_id}",
            detail={"status": status},
        )
    return pk


def record_upload(
    svc: Services,
    event_id: int,
    *,
    result: str,
    actor: str,
    scope: Scope = None,
    uploaded_at: Any = None,
    reference: str | None = None,
) -> None:
    """The outcome of sending the event to the upper platform (SE41.2 counts the accepted ones)."""
    values = {
        "upload_result": catalog().check("upload_results", "result", result),
        "uploaded_at": optional_instant("uploaded_at", uploaded_at) or now(svc),
        "upload_ref": text("reference", reference, max_len=100, required=False),
    }
    t = svc.db.table("abnormal_event")
    with writing(svc) as conn, conn.begin():
        _event(conn, svc, event_id, scope)
        conn.execute(update(t).where(t.c.id == event_id).values(**values))
        svc.audit.append(
            conn,
            actor=actor,
            action="abnormal_event.upload",
            target=f"abnormal_event:{event_id}",
            detail={"result": values["upload_result"]},
        )


def _summary(row: Any) -> dict[str, Any]:
    cat = catalog()
    return {
        "id": row.id,
        "estate": row.estate,
        "type": cat.label("event_types", row.type),
        "occurred_at": iso(row.occurred_at),
        "place": row.place,
        "lon": row.lon,
        "lat": row.lat,
        "summary": row.summary,
        "injured": row.injured,
        "dead": row.dead,
        "status": cat.label("event_statuses", row.status),
        "closed_at": iso(row.closed_at),
        "upload": {
            "uploaded_at": iso(row.uploaded_at),
            "result": cat.label("upload_results", row.upload_result) if row.upload_result else None,
            "reference": row.upload_ref,
        },
        "created_at": iso(row.created_at),
        "created_by": row.created_by,
    }


def list_events(
    svc: Services,
    scope: Scope,
    *,
    estate: str | None = None,
    type: str | None = None,
    status: str | None = None,
    start: Any = None,
    end: Any = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    t = svc.db.table("abnormal_event")
    q = select(t).order_by(t.c.occurred_at.desc(), t.c.id.desc()).limit(limit)
    if scope is not None:
        q = q.where(t.c.estate.in_(sorted(scope)))
    if estate is not None:
        q = q.where(t.c.estate == estate)
    if type is not None:
        q = q.where(t.c.type == catalog().check("event_types", "type", type))
    if status is not None:
        q = q.where(t.c.status == catalog().check("event_statuses", "status", status))
    if (s := optional_instant("start", start)) is not None:
        q = q.where(t.c.occurred_at >= s)
    if (e := optional_instant("end", end)) is not None:
        q = q.where(t.c.occurred_at < e)
    with svc.db.engine.connect() as conn:
        return [_summary(r) for r in conn.execute(q)]


def event_view(svc: Services, event_id: int, scope: Scope) -> dict[str, Any]:
    a = svc.db.table("abnormal_event_action")
    with svc.db.engine.connect() as conn:
        row = _event(conn, svc, event_id, scope)
        actions = conn.execute(select(a).where(a.c.event_id == event_id).order_by(a.c.at, a.c.pk)).all()
        people = masked_people(svc, conn, [p["person_id"] for p in row.people or []])
    out = _summary(row)
    out["people"] = [
        {
            **people.get(p["person_id"], {"id": p["person_id"]}),
            "role": catalog().label("event_roles", p["role"]),
        }
        for p in row.people or []
    ]
    out["actions"] = [
        {"at": iso(x.at), "actor": x.actor, "action": x.action, "status": x.status} for x in actions
    ]
    return out
