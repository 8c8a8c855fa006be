"""Special-population cases (特殊人群, SE42): one case per registry person and SE42 category, with the
responsible officer, a visit plan, visits, the risk level and emergency disposal records.

Only roles holding special_population:view see them (community police; seed 003 二(十三) 2). Every read —
a list as much as one case — is written to the audit log, with who read what (ids, never personal values).
The person stays in the registry: a case holds the person's id; names are shown masked from the registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, update

from anju.affairs.catalog import (
    AffairsError,
    catalog,
    instant,
    iso,
    now,
    text,
    whole,
)
from anju.affairs.store import masked_people, person_ids, region_code, seal, shown, writing

if TYPE_CHECKING:
    from anju.services import Services

Scope = frozenset[str] | None  # the estates a caller covers; None: everywhere


def _local_day(svc: Services, at: datetime) -> date:
    return at.replace(tzinfo=UTC).astimezone(svc.settings.timezone).date()


def open_case(
    svc: Services,
    *,
    person_id: str,
    estate: str,
    category: str,
    officer: str,
    risk_level: str,
    actor: str,
    visit_every_days: int | None = None,
    equipment: Iterable[str] = (),
    note: str | None = None,
) -> int:
    cat = catalog()
    values: dict[str, Any] = {
        "category": cat.check("special_categories", "category", category),
        "officer": text("officer", officer, max_len=80),
        "risk_level": cat.check("risk_levels", "risk_level", risk_level),
        "equipment": cat.check_many("equipment", "equipment", list(equipment), required=False),
    }
    interval = (
        int(cat.risk_levels[values["risk_level"]].extra["default_visit_days"])
        if visit_every_days is None
        else whole("visit_every_days", visit_every_days, minimum=1)
    )
    note = text("note", note, max_len=4000, required=False)
    t = svc.db.table("special_case")
    at = now(svc)
    with writing(svc) as conn, conn.begin():
        values["estate"] = region_code(conn, svc, "estate", estate, estate=True)
        [values["person_id"]] = person_ids(conn, svc, "person_id", [person_id])
        taken = conn.execute(
            select(t.c.id).where(t.c.person_id == values["person_id"], t.c.category == values["category"])
        ).first()
        if taken is not None:
            raise AffairsError(
                "duplicate",
                "category",
                values["category"],
                f"该人员已有类别 {values['category']} 的档案（{taken.id}）；应更新原档案",
                f"this person already has a case of category {values['category']} ({taken.id}); update it",
            )
        case_id = int(
            conn.execute(
                insert(t).values(
                    **values,
                    visit_every_days=interval,
                    next_visit_on=_local_day(svc, at) + timedelta(days=interval),
                    status="open",
                    created_at=at,
                    created_by=actor,
                )
            ).inserted_primary_key[0]
        )
        if note:
            conn.execute(
                update(t).where(t.c.id == case_id).values(seal(svc, "special_case", case_id, {"note": note}))
            )
        svc.audit.append(
            conn,
            actor=actor,
            action="special_population.case.create",
            target=f"special_case:{case_id}",
            detail={"category": values["category"], "estate": values["estate"]},
        )
    return case_id


def _case(conn: Connection, svc: Services, case_id: int, scope: Scope) -> Any:
    t = svc.db.table("special_case")
    row = conn.execute(select(t).where(t.c.id == case_id)).first()
    if row is None or (scope is not None and row.estate not in scope):
        raise AffairsError.unknown("case_id", case_id, "特殊人群档案", "special-population case")
    return row


def update_case(
    svc: Services,
    case_id: int,
    *,
    actor: str,
    scope: Scope = None,
    officer: str | None = None,
    risk_level: str | None = None,
    visit_every_days: int | None = None,
    equipment: Iterable[str] | None = None,
    close: bool = False,
) -> None:
    cat = catalog()
    changes: dict[str, Any] = {}
    if officer is not None:
        changes["officer"] = text("officer", officer, max_len=80)
    if risk_level is not None:
        changes["risk_level"] = cat.check("risk_levels", "risk_level", risk_level)
    if visit_every_days is not None:
        changes["visit_every_days"] = whole("visit_every_days", visit_every_days, minimum=1)
    if equipment is not None:
        changes["equipment"] = cat.check_many("equipment", "equipment", list(equipment), required=False)
    at = now(svc)
    if close:
        changes.update(status="closed", closed_at=at)
    if not changes:
        raise AffairsError.bad("body", None, "至少一项修改", "at least one change")
    t = svc.db.table("special_case")
    with writing(svc) as conn, conn.begin():
        _case(conn, svc, case_id, scope)
        conn.execute(update(t).where(t.c.id == case_id).values(**changes))
        svc.audit.append(
            conn,
            actor=actor,
            action="special_population.case.update",
            target=f"special_case:{case_id}",
            detail={"fields": sorted(changes)},
        )


def record_visit(
    svc: Services,
    case_id: int,
    *,
    visited_at: Any,
    method: str,
    risk_level: str,
    actor: str,
    scope: Scope = None,
    finding: str | None = None,
) -> int:
    cat = catalog()
    at = instant("visited_at", visited_at)
    values = {
        "method": cat.check("visit_methods", "method", method),
        "risk_level": cat.check("risk_levels", "risk_level", risk_level),
    }
    finding = text("finding", finding, max_len=4000, required=False)
    t, v = svc.db.table("special_case"), svc.db.table("special_visit")
    with writing(svc) as conn, conn.begin():
        case = _case(conn, svc, case_id, scope)
        pk = int(
            conn.execute(
                insert(v).values(
                    case_id=case_id,
                    visited_at=at,
                    visitor=actor,
                    created_at=now(svc),
                    created_by=actor,
                    **values,
                )
            ).inserted_primary_key[0]
        )
        if finding:
            conn.execute(
                update(v).where(v.c.pk == pk).values(seal(svc, "special_visit", pk, {"finding": finding}))
            )
        # The plan moves on from the newest visit; a late-entered older visit does not move it back.
        next_on = _local_day(svc, at) + timedelta(days=int(case.visit_every_days))
        if next_on > case.next_visit_on:
            conn.execute(
                update(t)
                .where(t.c.id == case_id)
                .values(next_visit_on=next_on, risk_level=values["risk_level"])
            )
        svc.audit.append(
            conn,
            actor=actor,
            action="special_population.visit.create",
            target=f"special_case:{case_id}:visit:{pk}",
        )
    return pk


def record_disposal(
    svc: Services,
    case_id: int,
    *,
    occurred_at: Any,
    kind: str,
    action: str,
    actor: str,
    scope: Scope = None,
    outcome: str | None = None,
) -> int:
    at = instant("occurred_at", occurred_at)
    kind = catalog().check("disposal_kinds", "kind", kind)
    what = text("action", action, max_len=4000)
    result = text("outcome", outcome, max_len=200, required=False)
    d = svc.db.table("special_disposal")
    with writing(svc) as conn, conn.begin():
        _case(conn, svc, case_id, scope)
        pk = int(
            conn.execute(
                insert(d).values(
                    case_id=case_id,
                    occurred_at=at,
                    kind=kind,
                    action="",
                    outcome=result,
                    created_at=now(svc),
                    created_by=actor,
                )
            ).inserted_primary_key[0]
        )
        conn.execute(
            update(d).where(d.c.pk == pk).values(seal(svc, "special_disposal", pk, {"action": what}))
        )
        svc.audit.append(
            conn,
            actor=actor,
            action="special_population.disposal.create",
            target=f"special_case:{case_id}:disposal:{pk}",
            detail={"kind": kind},
        )
    return pk


def _summary(svc: Services, row: Any, people: dict[str, dict[str, Any]], today: date) -> dict[str, Any]:
    cat = catalog()
    return {
        "id": row.id,
        "person": people.get(row.person_id, {"id": row.person_id}),
        "estate": row.estate,
        "category": cat.label("special_categories", row.category),
        "officer": row.officer,
        "risk_level": cat.label("risk_levels", row.risk_level),
        "visit_every_days": row.visit_every_days,
        "next_visit_on": iso(row.next_visit_on),
        "overdue": row.status == "open" and row.next_visit_on < today,
        "equipment": [cat.label("equipment", e) for e in row.equipment or []],
        "status": row.status,
        "created_at": iso(row.created_at),
        "closed_at": iso(row.closed_at),
    }


def list_cases(
    svc: Services,
    scope: Scope,
    *,
    actor: str,
    estate: str | None = None,
    category: str | None = None,
    status: str | None = None,
    overdue: bool = False,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Cases in the caller's estates, filtered; the read itself is audited with the ids it returned."""
    t = svc.db.table("special_case")
    q = select(t).order_by(t.c.id)
    if scope is not None:
        q = q.where(t.c.estate.in_(sorted(scope)))
    if estate is not None:
        q = q.where(t.c.estate == estate)
    if category is not None:
        q = q.where(t.c.category == catalog().check("special_categories", "category", category))
    if status is not None:
        q = q.where(t.c.status == status)
    today = _local_day(svc, now(svc))
    if overdue:
        q = q.where(t.c.status == "open", t.c.next_visit_on < today)
    with writing(svc) as conn, conn.begin():
        rows = conn.execute(q.limit(limit)).all()
        people = masked_people(svc, conn, [r.person_id for r in rows])
        svc.audit.append(
            conn,
            actor=actor,
            action="special_population.list",
            target="special_case",
            detail={"ids": [r.id for r in rows][:200], "estate": estate, "category": category},
        )
    return [_summary(svc, r, people, today) for r in rows]


def case_view(svc: Services, case_id: int, scope: Scope, *, actor: str) -> dict[str, Any]:
    """One case with its visits and disposals (free text opened, identifiers masked); audited."""
    cat = catalog()
    v, d = svc.db.table("special_visit"), svc.db.table("special_disposal")
    with writing(svc) as conn, conn.begin():
        row = _case(conn, svc, case_id, scope)
        people = masked_people(svc, conn, [row.person_id])
        visits = conn.execute(select(v).where(v.c.case_id == case_id).order_by(v.c.visited_at, v.c.pk)).all()
        disposals = conn.execute(
            select(d).where(d.c.case_id == case_id).order_by(d.c.occurred_at, d.c.pk)
        ).all()
        svc.audit.append(
            conn, actor=actor, action="special_population.view", target=f"special_case:{case_id}"
        )
    out = _summary(svc, row, people, _local_day(svc, now(svc)))
    out["note"] = shown(svc, "special_case", row.id, {"note": row.note})["note"]
    out["visits"] = [
        {
            "id": x.pk,
            "visited_at": iso(x.visited_at),
            "method": cat.label("visit_methods", x.method),
            "visitor": x.visitor,
            "risk_level": cat.label("risk_levels", x.risk_level),
            "finding": shown(svc, "special_visit", x.pk, {"finding": x.finding})["finding"],
        }
        for x in visits
    ]
    out["disposals"] = [
        {
            "id": x.pk,
            "occurred_at": iso(x.occurred_at),
            "kind": cat.label("disposal_kinds", x.kind),
            "action": shown(svc, "special_disposal", x.pk, {"action": x.action})["action"],
            "outcome": x.outcome,
            "recorded_by": x.created_by,
        }
        for x in disposals
    ]
    return out
