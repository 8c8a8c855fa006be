"""Emergency incidents: who commands, the action log, and the after-action report that closes them.

The log is append-only: every change of an incident (opened, command handed over, notes, dispatches,
acknowledgements and arrivals of the resources sent, closing) is a row with who and when, and each is also
in the audit chain. The after-action report is recorded once, when the incident is closed, with the
outcome (resources.yaml outcomes) SE43.2 counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, update

from anju.emergency.catalog import EmergencyError, catalog, coordinate, text
from anju.emergency.ops_catalog import iso, known_region, now, ops_catalog, writing

if TYPE_CHECKING:
    from anju.services import Services

REPORT_FIELDS = ("summary", "timeline", "causes", "what_went_well", "improvements")
REPORT_REQUIRED = ("summary", "causes", "improvements")


def log(conn: Connection, svc: Services, incident_id: int, *, actor: str, kind: str, note: str) -> None:
    conn.execute(
        insert(svc.db.table("emergency_incident_log")).values(
            incident_id=incident_id, at=now(svc), actor=actor, kind=kind, text=note
        )
    )


def open_incident(
    svc: Services,
    *,
    estate: str,
    title: str,
    commander: str,
    actor: str,
    hazard: str | None = None,
    alarm_id: int | None = None,
    lon: float | None = None,
    lat: float | None = None,
) -> int:
    values: dict[str, Any] = {
        "title": text("title", title, max_len=200),
        "commander": text("commander", commander, max_len=80),
        "hazard": None if hazard is None else catalog().check("hazards", "hazard", hazard),
        "lon": None if lon is None else coordinate("lon", lon, lon=True),
        "lat": None if lat is None else coordinate("lat", lat, lon=False),
    }
    t = svc.db.table("emergency_incident")
    with writing(svc) as conn, conn.begin():
        code = known_region(conn, svc, "estate", estate, estate=True)
        if alarm_id is not None:
            alarm = svc.db.table("alarm")
            row = conn.execute(
                select(alarm.c.estate, alarm.c.lon, alarm.c.lat).where(alarm.c.id == alarm_id)
            ).first()
            if row is None or row.estate != code:
                raise EmergencyError.unknown("alarm_id", alarm_id, "该小区的告警", "alarm of this estate")
            if values["lon"] is None and row.lon is not None and row.lat is not None:
                values["lon"], values["lat"] = row.lon, row.lat
        if (values["lon"] is None) != (values["lat"] is None):
            raise EmergencyError.bad("lon", values["lon"], "经纬度成对给出", "lon and lat together")
        incident_id = int(
            conn.execute(
                insert(t).values(
                    estate=code, alarm_id=alarm_id, opened_at=now(svc), opened_by=actor, **values
                )
            ).inserted_primary_key[0]
        )
        log(conn, svc, incident_id, actor=actor, kind="opened", note=f"指挥：{values['commander']}")
        svc.audit.append(
            conn, actor=actor, action="emergency.incident.open", target=f"emergency_incident:{incident_id}"
        )
    return incident_id


def _open_row(conn: Connection, svc: Services, incident_id: int) -> Any:
    t = svc.db.table("emergency_incident")
    row = conn.execute(select(t).where(t.c.id == incident_id).with_for_update()).first()
    if row is None:
        raise EmergencyError.unknown("incident_id", incident_id, "事件", "incident")
    if row.closed_at is not None:
        raise EmergencyError(
            "incident_closed",
            "incident_id",
            incident_id,
            f"事件 {incident_id} 已结束，不能再更改（可查看其复盘报告）",
            f"incident {incident_id} is closed and cannot be changed (its after-action report stands)",
        )
    return row


def incident_estate(svc: Services, incident_id: int) -> str | None:
    t = svc.db.table("emergency_incident")
    with svc.db.engine.connect() as conn:
        found = conn.execute(select(t.c.estate).where(t.c.id == incident_id)).scalar()
    return None if found is None else str(found)


def add_note(svc: Services, incident_id: int, note: str, *, actor: str) -> None:
    body = text("text", note, max_len=4000) or ""
    with writing(svc) as conn, conn.begin():
        _open_row(conn, svc, incident_id)
        log(conn, svc, incident_id, actor=actor, kind="note", note=body)
        svc.audit.append(
            conn, actor=actor, action="emergency.incident.note", target=f"emergency_incident:{incident_id}"
        )


def hand_over(svc: Services, incident_id: int, commander: str, *, actor: str) -> None:
    who = text("commander", commander, max_len=80) or ""
    t = svc.db.table("emergency_incident")
    with writing(svc) as conn, conn.begin():
        row = _open_row(conn, svc, incident_id)
        conn.execute(update(t).where(t.c.id == incident_id).values(commander=who))
        log(conn, svc, incident_id, actor=actor, kind="command", note=f"指挥由 {row.commander} 移交 {who}")
        svc.audit.append(
            conn,
            actor=actor,
            action="emergency.incident.command",
            target=f"emergency_incident:{incident_id}",
            detail={"from": row.commander, "to": who},
        )


def close_incident(
    svc: Services, incident_id: int, *, outcome: str, report: dict[str, Any], actor: str
) -> None:
    """Close with the after-action report (复盘报告): what happened, why, what to improve."""
    result = ops_catalog().pick("outcomes", "outcome", outcome)
    if not isinstance(report, dict):
        raise EmergencyError.bad("report", report, "含 summary、causes、improvements 的对象", "an object")
    unknown = sorted(set(report) - set(REPORT_FIELDS))
    if unknown:
        raise EmergencyError.bad(
            f"report.{unknown[0]}",
            "…",
            "、".join(REPORT_FIELDS) + " 之一",
            "one of " + ", ".join(REPORT_FIELDS),
        )
    clean: dict[str, str] = {}
    for key in REPORT_FIELDS:
        value = text(f"report.{key}", report.get(key), max_len=8000, required=key in REPORT_REQUIRED)
        if value is not None:
            clean[key] = value
    t = svc.db.table("emergency_incident")
    with writing(svc) as conn, conn.begin():
        _open_row(conn, svc, incident_id)
        at = now(svc)
        conn.execute(
            update(t)
            .where(t.c.id == incident_id)
            .values(closed_at=at, closed_by=actor, outcome=result, report={**clean, "written_by": actor})
        )
        log(
            conn,
            svc,
            incident_id,
            actor=actor,
            kind="closed",
            note=f"结果：{ops_catalog().outcomes[result].zh}",
        )
        svc.audit.append(
            conn,
            actor=actor,
            action="emergency.incident.close",
            target=f"emergency_incident:{incident_id}",
            detail={"outcome": result},
        )


def _summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "estate": row.estate,
        "title": row.title,
        "hazard": row.hazard,
        "alarm_id": row.alarm_id,
        "lon": row.lon,
        "lat": row.lat,
        "commander": row.commander,
        "opened_at": iso(row.opened_at),
        "opened_by": row.opened_by,
        "closed_at": iso(row.closed_at),
        "closed_by": row.closed_by,
        "outcome": row.outcome,
        "status": "closed" if row.closed_at is not None else "open",
    }


def list_incidents(svc: Services, estates: list[str], *, open_only: bool = False) -> list[dict[str, Any]]:
    t = svc.db.table("emergency_incident")
    query = select(t).where(t.c.estate.in_(estates)).order_by(t.c.opened_at.desc(), t.c.id.desc()).limit(500)
    if open_only:
        query = query.where(t.c.closed_at.is_(None))
    with svc.db.engine.connect() as conn:
        return [_summary(r) for r in conn.execute(query).all()]


def incident_view(svc: Services, incident_id: int) -> dict[str, Any]:
    from anju.emergency.dispatch import list_dispatches

    t, lg = svc.db.table("emergency_incident"), svc.db.table("emergency_incident_log")
    with svc.db.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.id == incident_id)).first()
        if row is None:
            raise EmergencyError.unknown("incident_id", incident_id, "事件", "incident")
        entries = conn.execute(select(lg).where(lg.c.incident_id == incident_id).order_by(lg.c.pk)).all()
    return {
        **_summary(row),
        "report": row.report,
        "log": [{"at": iso(e.at), "actor": e.actor, "kind": e.kind, "text": e.text} for e in entries],
        "dispatches": list_dispatches(svc, incident_id=incident_id),
    }
