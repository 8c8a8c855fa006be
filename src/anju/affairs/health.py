"""Public health events (公共卫生事件, SE44): the event, its work group (the emergency work mechanism), the
investigation list, medical observation and health management records, and exports of the database for
the upper platform.

Names and phones of members and of people not in the registry are sealed; a registry person is referred to
by id. Exports (NDJSON or CSV) carry masked personal values and registry ids, are audited, and are kept in
`health_export` so SE44.3 can tell which events reached the upper platform and when.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, insert, select, update

from anju.affairs.catalog import AffairsError, catalog, day, instant, iso, now, optional_instant, text
from anju.affairs.store import masked_people, person_ids, region_code, seal, shown, writing

if TYPE_CHECKING:
    from anju.services import Services

Scope = frozenset[str] | None
FORMATS = ("ndjson", "csv")


def create_event(
    svc: Services,
    *,
    region: str,
    title: str,
    kind: str,
    level: str,
    started_at: Any,
    description: str,
    actor: str,
) -> int:
    cat = catalog()
    values = {
        "title": text("title", title, max_len=200),
        "kind": cat.check("health_kinds", "kind", kind),
        "level": cat.check("health_levels", "level", level),
        "started_at": instant("started_at", started_at),
        "description": text("description", description, max_len=8000),
    }
    t = svc.db.table("health_event")
    with writing(svc) as conn, conn.begin():
        values["region"] = region_code(conn, svc, "region", region)
        event_id = int(
            conn.execute(
                insert(t).values(**values, status="active", created_at=now(svc), created_by=actor)
            ).inserted_primary_key[0]
        )
        svc.audit.append(
            conn, actor=actor, action="public_health.event.create", target=f"health_event:{event_id}"
        )
    return event_id


def _event(conn: Connection, svc: Services, event_id: int, scope: Scope) -> Any:
    t = svc.db.table("health_event")
    row = conn.execute(select(t).where(t.c.id == event_id)).first()
    if row is None or (scope is not None and row.region not in scope):
        raise AffairsError.unknown("event_id", event_id, "公共卫生事件", "public health event")
    return row


def close_event(
    svc: Services, event_id: int, *, actor: str, scope: Scope = None, ended_at: Any = None
) -> None:
    t = svc.db.table("health_event")
    end = optional_instant("ended_at", ended_at) or now(svc)
    with writing(svc) as conn, conn.begin():
        _event(conn, svc, event_id, scope)
        conn.execute(update(t).where(t.c.id == event_id).values(status="closed", ended_at=end))
        svc.audit.append(
            conn, actor=actor, action="public_health.event.close", target=f"health_event:{event_id}"
        )


def add_member(
    svc: Services,
    event_id: int,
    *,
    name: str,
    role: str,
    actor: str,
    scope: Scope = None,
    phone: str | None = None,
    unit: str | None = None,
) -> int:
    """A work-group member; the first one establishes the event's work mechanism (SE44.1)."""
    plain_name = text("name", name, max_len=50)
    plain_phone = text("phone", phone, max_len=20, required=False)
    if plain_phone is not None and not plain_phone.replace("-", "").isdigit():
        raise AffairsError.bad(
            "phone", "***", "电话号码（数字，可含连字符）", "a phone number (digits, hyphens allowed)"
        )
    m, t = svc.db.table("health_member"), svc.db.table("health_event")
    at = now(svc)
    with writing(svc) as conn, conn.begin():
        row = _event(conn, svc, event_id, scope)
        pk = int(
            conn.execute(
                insert(m).values(
                    event_id=event_id,
                    name="",
                    role=text("role", role, max_len=40),
                    unit=text("unit", unit, max_len=200, required=False),
                    created_at=at,
                    created_by=actor,
                )
            ).inserted_primary_key[0]
        )
        conn.execute(
            update(m)
            .where(m.c.pk == pk)
            .values(seal(svc, "health_member", pk, {"name": plain_name, "phone": plain_phone}))
        )
        if row.mechanism_at is None:
            conn.execute(update(t).where(t.c.id == event_id).values(mechanism_at=at))
        svc.audit.append(
            conn,
            actor=actor,
            action="public_health.member.add",
            target=f"health_event:{event_id}:member:{pk}",
        )
    return pk


def add_subject(
    svc: Services,
    event_id: int,
    *,
    list: str,
    start_on: Any,
    actor: str,
    scope: Scope = None,
    person_id: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    estate: str | None = None,
    end_on: Any = None,
    status: str = "open",
    note: str | None = None,
) -> int:
    """One person on the investigation list, under medical observation or under health management: a
    registry person by id, or (not registered) a name, which is sealed."""
    cat = catalog()
    kind = cat.check("health_lists", "list", list)
    start = day("start_on", start_on)
    end = None if end_on is None else day("end_on", end_on)
    if end is not None and end < start:
        raise AffairsError.bad(
            "end_on",
            end.isoformat(),
            f"不早于 start_on（{start}）的日期",
            f"a date not before start_on ({start})",
        )
    state = cat.check("subject_statuses", "status", status)
    plain_name = text("name", name, max_len=50, required=False)
    if person_id is None and plain_name is None:
        raise AffairsError.bad(
            "person_id",
            None,
            "登记人员编号，或未登记人员的姓名",
            "a registry person id, or the name of someone not registered",
        )
    s = svc.db.table("health_subject")
    with writing(svc) as conn, conn.begin():
        _event(conn, svc, event_id, scope)
        pid = None if person_id is None else person_ids(conn, svc, "person_id", [person_id])[0]
        where = None if estate is None else region_code(conn, svc, "estate", estate, estate=True)
        pk = int(
            conn.execute(
                insert(s).values(
                    event_id=event_id,
                    list=kind,
                    person_id=pid,
                    estate=where,
                    start_on=start,
                    end_on=end,
                    status=state,
                    created_at=now(svc),
                    created_by=actor,
                )
            ).inserted_primary_key[0]
        )
        sealed = seal(
            svc,
            "health_subject",
            pk,
            {
                "name": plain_name,
                "phone": text("phone", phone, max_len=20, required=False),
                "note": text("note", note, max_len=4000, required=False),
            },
        )
        conn.execute(update(s).where(s.c.pk == pk).values(sealed))
        svc.audit.append(
            conn,
            actor=actor,
            action="public_health.subject.add",
            target=f"health_event:{event_id}:{kind}:{pk}",
        )
    return pk


def _event_summary(row: Any) -> dict[str, Any]:
    cat = catalog()
    return {
        "id": row.id,
        "region": row.region,
        "title": row.title,
        "kind": cat.label("health_kinds", row.kind),
        "level": cat.label("health_levels", row.level),
        "started_at": iso(row.started_at),
        "ended_at": iso(row.ended_at),
        "status": cat.label("health_statuses", row.status),
        "description": row.description,
        "mechanism_at": iso(row.mechanism_at),
    }


def list_events(
    svc: Services, scope: Scope, *, region: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    t = svc.db.table("health_event")
    q = select(t).order_by(t.c.started_at.desc(), t.c.id.desc()).limit(limit)
    if scope is not None:
        q = q.where(t.c.region.in_(sorted(scope)))
    if region is not None:
        q = q.where(t.c.region == region)
    with svc.db.engine.connect() as conn:
        return [_event_summary(r) for r in conn.execute(q)]


def _subjects(svc: Services, conn: Connection, event_ids: list[int]) -> list[dict[str, Any]]:
    s = svc.db.table("health_subject")
    rows = conn.execute(select(s).where(s.c.event_id.in_(event_ids)).order_by(s.c.event_id, s.c.pk)).all()
    people = masked_people(svc, conn, [r.person_id for r in rows if r.person_id])
    out = []
    for r in rows:
        opened = shown(svc, "health_subject", r.pk, {"name": r.name, "phone": r.phone, "note": r.note})
        person = people.get(r.person_id or "", {})
        out.append(
            {
                "id": r.pk,
                "event_id": r.event_id,
                "list": r.list,
                "person_id": r.person_id,
                "name": person.get("name") if r.person_id else opened["name"],
                "phone": opened["phone"],
                "estate": r.estate,
                "start_on": iso(r.start_on),
                "end_on": iso(r.end_on),
                "status": r.status,
                "note": opened["note"],
            }
        )
    return out


def event_view(svc: Services, event_id: int, scope: Scope) -> dict[str, Any]:
    m = svc.db.table("health_member")
    with svc.db.engine.connect() as conn:
        row = _event(conn, svc, event_id, scope)
        members = conn.execute(select(m).where(m.c.event_id == event_id).order_by(m.c.pk)).all()
        subjects = _subjects(svc, conn, [event_id])
    out = _event_summary(row)
    out["work_group"] = [
        {
            "id": x.pk,
            "role": x.role,
            "unit": x.unit,
            **shown(svc, "health_member", x.pk, {"name": x.name, "phone": x.phone}),
        }
        for x in members
    ]
    for kind in catalog().health_lists:
        out[kind] = [s for s in subjects if s["list"] == kind]
    return out


_CSV_COLUMNS = (
    "record",
    "event_id",
    "region",
    "title",
    "kind",
    "level",
    "started_at",
    "ended_at",
    "status",
    "list",
    "person_id",
    "name",
    "phone",
    "estate",
    "start_on",
    "end_on",
    "subject_status",
)


def export(
    svc: Services,
    scope: Scope,
    *,
    fmt: str,
    actor: str,
    region: str | None = None,
    since: date | None = None,
) -> Iterator[bytes]:
    """The public health database of the caller's regions for the upper platform: one line per event and
    per listed person. Personal values are masked; registry people go by id. Recorded and audited before
    the first byte is produced."""
    if fmt not in FORMATS:
        raise AffairsError.bad("format", fmt, "ndjson 或 csv", "ndjson or csv")
    t = svc.db.table("health_event")
    q = select(t).order_by(t.c.id)
    if scope is not None:
        q = q.where(t.c.region.in_(sorted(scope)))
    if region is not None:
        q = q.where(t.c.region == region)
    with writing(svc) as conn, conn.begin():
        events = conn.execute(q).all()
        if since is not None:
            events = [e for e in events if e.ended_at is None or e.ended_at.date() >= since]
        ids = [e.id for e in events]
        subjects = _subjects(svc, conn, ids) if ids else []
        lines: list[dict[str, Any]] = []
        for e in events:
            summary = _event_summary(e)
            lines.append(
                {
                    "record": "event",
                    **{k: summary[k] for k in ("id", "region", "title", "started_at", "ended_at")},
                    "kind": e.kind,
                    "level": e.level,
                    "status": e.status,
                }
            )
            lines.extend({"record": "subject", **s} for s in subjects if s["event_id"] == e.id)
        conn.execute(
            insert(svc.db.table("health_export")).values(
                exported_at=now(svc), exported_by=actor, format=fmt, event_ids=ids, rows=len(lines)
            )
        )
        svc.audit.append(
            conn,
            actor=actor,
            action="public_health.export",
            target="health_event",
            detail={"format": fmt, "events": len(ids), "rows": len(lines)},
        )
    if fmt == "ndjson":
        for line in lines:
            yield orjson.dumps(line) + b"\n"
        return
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(_CSV_COLUMNS)
    for line in lines:
        if line["record"] == "event":
            row = {**line, "event_id": line["id"]}
        else:
            row = {**line, "subject_status": line["status"], "status": ""}
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in _CSV_COLUMNS])
    yield buf.getvalue().encode("utf-8")
