"""Emergency plans (SE31) and drills (SE32): recorded, versioned, published, improved.

A plan is one per region and hazard. Every change of its contents is a new version (kept, never edited);
publishing shows the current version to residents; an improvement (of the plan or of how it is carried
out) is recorded with its date and counts for SE31.3. A drill records its scenario, time, participants
per category (SE32.2), evacuation timings, findings and follow-ups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, update

from anju.db.engine import WRITE_OPTIONS
from anju.emergency.catalog import EmergencyError, catalog, day, instant, text, whole

if TYPE_CHECKING:
    from anju.services import Services


def _now(svc: Services) -> datetime:
    return svc.pipeline.clock().astimezone(UTC).replace(tzinfo=None)


def _region(svc: Services, conn: Connection, code: Any) -> str:
    value = text("region", code, max_len=40)
    assert value is not None
    region = svc.db.table("region")
    if conn.execute(select(region.c.code).where(region.c.code == value)).first() is None:
        raise EmergencyError.unknown(
            "region", value, "区划（社区或小区）", "region (community or estate) in the region tree"
        )
    return value


def _contents(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        keys = ", ".join(catalog().plan_contents)
        raise EmergencyError.bad(
            "contents", raw, f"以内容项为键的映射（{keys}）", f"a mapping of content items ({keys}) to texts"
        )
    out: dict[str, str] = {}
    for key, value in raw.items():
        item = catalog().check("plan_contents", "contents", key)
        body = text(f"contents.{item}", value, max_len=20000)
        assert body is not None
        out[item] = body
    return out


def _writing(svc: Services) -> Any:
    return svc.db.engine.connect().execution_options(**WRITE_OPTIONS)


@dataclass(frozen=True)
class PlanRef:
    id: int
    version: int


def create_plan(
    svc: Services,
    *,
    region: str,
    hazard: str,
    title: str,
    contents: Mapping[str, str],
    actor: str,
    superior_plan: str | None = None,
    adopted_at: datetime | None = None,
) -> PlanRef:
    """A new plan at version 1; a second plan for the same region and hazard is refused (revise it)."""
    hz = catalog(svc.settings.data_dir).check("hazards", "hazard", hazard)
    name = text("title", title, max_len=200)
    body = _contents(contents)
    sup = text("superior_plan", superior_plan, max_len=300, required=False)
    now = _now(svc)
    adopted = instant("adopted_at", adopted_at) if adopted_at is not None else now
    plan = svc.db.table("emergency_plan")
    with _writing(svc) as conn, conn.begin():
        code = _region(svc, conn, region)
        if conn.execute(select(plan.c.id).where(plan.c.region == code, plan.c.hazard == hz)).first():
            raise EmergencyError(
                "plan_exists",
                "hazard",
                hz,
                f"区划 {code} 已有 {hz} 应急预案：请修订该预案（新版本）",
                f"region {code} already has a {hz} plan: revise it (a new version) instead",
            )
        plan_id = conn.execute(
            insert(plan).values(
                region=code,
                hazard=hz,
                title=name,
                superior_plan=sup,
                version=1,
                created_at=now,
                created_by=actor,
                updated_at=now,
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(svc.db.table("emergency_plan_version")).values(
                plan_id=plan_id, version=1, contents=body, adopted_at=adopted, note=None, created_by=actor
            )
        )
        svc.audit.append(conn, actor=actor, action="emergency.plan.create", target=f"plan:{plan_id}")
    return PlanRef(int(plan_id), 1)


def _plan_row(conn: Connection, svc: Services, plan_id: int) -> Any:
    plan = svc.db.table("emergency_plan")
    row = conn.execute(select(plan).where(plan.c.id == plan_id)).first()
    if row is None:
        raise EmergencyError.unknown("plan_id", plan_id, "应急预案", "emergency plan")
    return row


def revise_plan(
    svc: Services,
    plan_id: int,
    *,
    contents: Mapping[str, str],
    actor: str,
    improvement: str | None = None,
    at: datetime | None = None,
) -> PlanRef:
    """A new version with the given contents (items left out are carried over from the current one).
    With `improvement`, the revision also counts as an improvement of the plan (SE31.3)."""
    changes = _contents(contents)
    note = text("improvement", improvement, max_len=5000, required=False)
    now = _now(svc)
    when = instant("at", at) if at is not None else now
    plan, versions = svc.db.table("emergency_plan"), svc.db.table("emergency_plan_version")
    with _writing(svc) as conn, conn.begin():
        row = _plan_row(conn, svc, plan_id)
        current = conn.execute(
            select(versions.c.contents).where(
                versions.c.plan_id == plan_id, versions.c.version == row.version
            )
        ).scalar_one()
        new = row.version + 1
        conn.execute(
            insert(versions).values(
                plan_id=plan_id,
                version=new,
                contents={**current, **changes},
                adopted_at=when,
                note=note,
                created_by=actor,
            )
        )
        conn.execute(update(plan).where(plan.c.id == plan_id).values(version=new, updated_at=now))
        if note:
            conn.execute(
                insert(svc.db.table("emergency_plan_improvement")).values(
                    plan_id=plan_id, improved_at=when, description=note, version=new, recorded_by=actor
                )
            )
        svc.audit.append(
            conn,
            actor=actor,
            action="emergency.plan.revise",
            target=f"plan:{plan_id}",
            detail={"version": new},
        )
    return PlanRef(plan_id, new)


def record_improvement(
    svc: Services, plan_id: int, *, description: str, actor: str, at: datetime | None = None
) -> int:
    """An improvement of how a plan is carried out that needs no new version (SE31.3: 5 points each)."""
    desc = text("description", description, max_len=5000)
    when = instant("at", at) if at is not None else _now(svc)
    with _writing(svc) as conn, conn.begin():
        _plan_row(conn, svc, plan_id)
        pk = conn.execute(
            insert(svc.db.table("emergency_plan_improvement")).values(
                plan_id=plan_id, improved_at=when, description=desc, version=None, recorded_by=actor
            )
        ).inserted_primary_key[0]
        svc.audit.append(conn, actor=actor, action="emergency.plan.improve", target=f"plan:{plan_id}")
    return int(pk)


def publish_plan(svc: Services, plan_id: int, *, actor: str, at: datetime | None = None) -> PlanRef:
    """Publish the current version to residents (SE31.2)."""
    when = instant("at", at) if at is not None else _now(svc)
    plan = svc.db.table("emergency_plan")
    with _writing(svc) as conn, conn.begin():
        row = _plan_row(conn, svc, plan_id)
        conn.execute(
            update(plan)
            .where(plan.c.id == plan_id)
            .values(
                published_version=row.version, published_at=when, published_by=actor, updated_at=_now(svc)
            )
        )
        svc.audit.append(
            conn,
            actor=actor,
            action="emergency.plan.publish",
            target=f"plan:{plan_id}",
            detail={"version": row.version},
        )
    return PlanRef(plan_id, int(row.version))


def plan_view(svc: Services, plan_id: int, *, published_only: bool = False) -> dict[str, Any]:
    """A plan with its current version's contents (or, for residents, the published version's only)."""
    versions = svc.db.table("emergency_plan_version")
    with svc.db.engine.connect() as conn:
        row = _plan_row(conn, svc, plan_id)
        shown = row.published_version if published_only else row.version
        if shown is None:
            raise EmergencyError(
                "not_published",
                "plan_id",
                plan_id,
                "该预案尚未向居民公布",
                "this plan has not been published to residents",
            )
        v = conn.execute(
            select(versions).where(versions.c.plan_id == plan_id, versions.c.version == shown)
        ).one()
        improvements = conn.execute(
            select(svc.db.table("emergency_plan_improvement"))
            .where(svc.db.table("emergency_plan_improvement").c.plan_id == plan_id)
            .order_by("improved_at")
        ).all()
    cat = catalog(svc.settings.data_dir)
    out: dict[str, Any] = {
        "id": row.id,
        "region": row.region,
        "hazard": row.hazard,
        "hazard_zh": cat.hazards[row.hazard].zh if row.hazard in cat.hazards else row.hazard,
        "title": row.title,
        "version": shown,
        "adopted_at": v.adopted_at.replace(tzinfo=UTC).isoformat(),
        "contents": [
            {"key": k, "zh": e.zh, "en": e.en, "text": v.contents.get(k)}
            for k, e in cat.plan_contents.items()
        ],
        "published_version": row.published_version,
        "published_at": None
        if row.published_at is None
        else row.published_at.replace(tzinfo=UTC).isoformat(),
    }
    if not published_only:
        out["superior_plan"] = row.superior_plan
        out["current_version"] = row.version
        out["improvements"] = [
            {
                "at": i.improved_at.replace(tzinfo=UTC).isoformat(),
                "description": i.description,
                "version": i.version,
            }
            for i in improvements
        ]
    return out


# ---- drills ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Participation:
    category: str
    headcount: int
    organisations: tuple[str, ...] = ()


def _participants(raw: Sequence[Participation | Mapping[str, Any]]) -> list[Participation]:
    out: dict[str, Participation] = {}
    for i, p in enumerate(raw):
        if isinstance(p, Mapping):
            orgs = p.get("organisations") or ()
            if not isinstance(orgs, list | tuple) or not all(isinstance(o, str) for o in orgs):
                raise EmergencyError.bad(
                    f"participants[{i}].organisations", orgs, "组织名称列表", "a list of organisation names"
                )
            p = Participation(p.get("category"), p.get("headcount"), tuple(orgs))  # type: ignore[arg-type]
        cat = catalog().check("participants", f"participants[{i}].category", p.category)
        n = whole(f"participants[{i}].headcount", p.headcount, minimum=1)
        if cat in out:
            raise EmergencyError.bad(
                f"participants[{i}].category", cat, "每类只出现一次", "each category once"
            )
        out[cat] = Participation(cat, n, p.organisations)
    return list(out.values())


def _evacuation(raw: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, e in enumerate(raw):
        if not isinstance(e, Mapping):
            raise EmergencyError.bad(
                f"evacuation[{i}]",
                e,
                "含 place、people、started_at、finished_at 的映射",
                "a mapping with place, people, started_at, finished_at",
            )
        place = text(f"evacuation[{i}].place", e.get("place"), max_len=200)
        people = whole(f"evacuation[{i}].people", e.get("people"))
        start = instant(f"evacuation[{i}].started_at", e.get("started_at"))
        end = instant(f"evacuation[{i}].finished_at", e.get("finished_at"))
        if end < start:
            raise EmergencyError.bad(
                f"evacuation[{i}].finished_at",
                str(e.get("finished_at")),
                "不早于 started_at 的时间",
                "a time not before started_at",
            )
        out.append(
            {
                "place": place,
                "people": people,
                "started_at": start.replace(tzinfo=UTC).isoformat(),
                "finished_at": end.replace(tzinfo=UTC).isoformat(),
                "seconds": int((end - start).total_seconds()),
            }
        )
    return out


def record_drill(
    svc: Services,
    *,
    region: str,
    title: str,
    hazard: str,
    scenario: str,
    held_at: datetime | str,
    participants: Sequence[Participation | Mapping[str, Any]],
    actor: str,
    ended_at: datetime | str | None = None,
    evacuation: Sequence[Mapping[str, Any]] = (),
    findings: Sequence[str] = (),
    plan_id: int | None = None,
) -> int:
    hz = catalog(svc.settings.data_dir).check("hazards", "hazard", hazard)
    name = text("title", title, max_len=200)
    scen = text("scenario", scenario, max_len=20000)
    held = instant("held_at", held_at)
    ended = instant("ended_at", ended_at) if ended_at is not None else None
    if ended is not None and ended < held:
        raise EmergencyError.bad(
            "ended_at", str(ended_at), "不早于 held_at 的时间", "a time not before held_at"
        )
    if held > _now(svc):
        raise EmergencyError.bad(
            "held_at",
            str(held_at),
            "已经举行的演练时间（不晚于现在）",
            "the time of a drill already held (not in the future)",
        )
    people = _participants(participants)
    evac = _evacuation(evacuation)
    notes = [text(f"findings[{i}]", f, max_len=5000) for i, f in enumerate(findings)]
    drill = svc.db.table("emergency_drill")
    with _writing(svc) as conn, conn.begin():
        code = _region(svc, conn, region)
        if plan_id is not None:
            _plan_row(conn, svc, plan_id)
        drill_id = conn.execute(
            insert(drill).values(
                region=code,
                title=name,
                hazard=hz,
                plan_id=plan_id,
                scenario=scen,
                held_at=held,
                ended_at=ended,
                evacuation=evac,
                findings=notes,
                created_at=_now(svc),
                created_by=actor,
            )
        ).inserted_primary_key[0]
        if people:
            conn.execute(
                insert(svc.db.table("emergency_drill_participant")),
                [
                    {
                        "drill_id": drill_id,
                        "category": p.category,
                        "headcount": p.headcount,
                        "organisations": list(p.organisations),
                    }
                    for p in people
                ],
            )
        svc.audit.append(conn, actor=actor, action="emergency.drill.record", target=f"drill:{drill_id}")
    return int(drill_id)


def add_followup(
    svc: Services, drill_id: int, *, action: str, actor: str, owner: str | None = None, due_on: Any = None
) -> int:
    what = text("action", action, max_len=5000)
    who = text("owner", owner, max_len=200, required=False)
    due = day("due_on", due_on) if due_on is not None else None
    drill = svc.db.table("emergency_drill")
    with _writing(svc) as conn, conn.begin():
        if conn.execute(select(drill.c.id).where(drill.c.id == drill_id)).first() is None:
            raise EmergencyError.unknown("drill_id", drill_id, "演练", "drill")
        pk = conn.execute(
            insert(svc.db.table("emergency_drill_followup")).values(
                drill_id=drill_id, action=what, owner=who, due_on=due
            )
        ).inserted_primary_key[0]
        svc.audit.append(conn, actor=actor, action="emergency.drill.followup", target=f"drill:{drill_id}")
    return int(pk)


def complete_followup(svc: Services, followup_id: int, *, actor: str) -> None:
    f = svc.db.table("emergency_drill_followup")
    with _writing(svc) as conn, conn.begin():
        done = conn.execute(
            update(f)
            .where(f.c.pk == followup_id, f.c.done_at.is_(None))
            .values(done_at=_now(svc), done_by=actor)
        )
        if not done.rowcount:
            raise EmergencyError.unknown("followup_id", followup_id, "未完成的整改事项", "open follow-up")
        svc.audit.append(
            conn, actor=actor, action="emergency.drill.followup_done", target=f"followup:{followup_id}"
        )


def drill_view(svc: Services, drill_id: int) -> dict[str, Any]:
    drill = svc.db.table("emergency_drill")
    part, fol = svc.db.table("emergency_drill_participant"), svc.db.table("emergency_drill_followup")
    with svc.db.engine.connect() as conn:
        row = conn.execute(select(drill).where(drill.c.id == drill_id)).first()
        if row is None:
            raise EmergencyError.unknown("drill_id", drill_id, "演练", "drill")
        parts = conn.execute(select(part).where(part.c.drill_id == drill_id).order_by(part.c.pk)).all()
        follow = conn.execute(select(fol).where(fol.c.drill_id == drill_id).order_by(fol.c.pk)).all()
    cat = catalog()
    return {
        "id": row.id,
        "region": row.region,
        "title": row.title,
        "hazard": row.hazard,
        "plan_id": row.plan_id,
        "scenario": row.scenario,
        "held_at": row.held_at.replace(tzinfo=UTC).isoformat(),
        "ended_at": None if row.ended_at is None else row.ended_at.replace(tzinfo=UTC).isoformat(),
        "participants": [
            {
                "category": p.category,
                "zh": cat.participants[p.category].zh,
                "en": cat.participants[p.category].en,
                "headcount": p.headcount,
                "organisations": p.organisations,
            }
            for p in parts
        ],
        "evacuation": row.evacuation,
        "findings": row.findings,
        "followups": [
            {
                "id": f.pk,
                "action": f.action,
                "owner": f.owner,
                "due_on": None if f.due_on is None else f.due_on.isoformat(),
                "done_at": None if f.done_at is None else f.done_at.replace(tzinfo=UTC).isoformat(),
            }
            for f in follow
        ],
    }


# ---- look-ups for the API and the command line --------------------------------------------------------
def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(tzinfo=UTC).isoformat()


def plan_region(svc: Services, plan_id: int) -> str | None:
    """The region of a plan, or None if there is no such plan (scope checks)."""
    plan = svc.db.table("emergency_plan")
    with svc.db.engine.connect() as conn:
        found = conn.execute(select(plan.c.region).where(plan.c.id == plan_id)).scalar()
    return None if found is None else str(found)


def drill_region(svc: Services, drill_id: int) -> str | None:
    drill = svc.db.table("emergency_drill")
    with svc.db.engine.connect() as conn:
        found = conn.execute(select(drill.c.region).where(drill.c.id == drill_id)).scalar()
    return None if found is None else str(found)


def followup_region(svc: Services, followup_id: int) -> str | None:
    """The region of the drill a follow-up belongs to, or None if there is no such follow-up."""
    drill, fol = svc.db.table("emergency_drill"), svc.db.table("emergency_drill_followup")
    with svc.db.engine.connect() as conn:
        found = conn.execute(
            select(drill.c.region).join(fol, fol.c.drill_id == drill.c.id).where(fol.c.pk == followup_id)
        ).scalar()
    return None if found is None else str(found)


def list_plans(
    svc: Services, regions: Sequence[str] | None, *, published_only: bool = False
) -> list[dict[str, Any]]:
    """Plans of `regions` (None: every region), by region and hazard."""
    plan = svc.db.table("emergency_plan")
    query = select(plan).order_by(plan.c.region, plan.c.hazard)
    if regions is not None:
        query = query.where(plan.c.region.in_(sorted(regions)))
    if published_only:
        query = query.where(plan.c.published_version.is_not(None))
    with svc.db.engine.connect() as conn:
        rows = conn.execute(query).all()
    hazards = catalog(svc.settings.data_dir).hazards
    return [
        {
            "id": r.id,
            "region": r.region,
            "hazard": r.hazard,
            "hazard_zh": hazards[r.hazard].zh if r.hazard in hazards else r.hazard,
            "title": r.title,
            "version": r.published_version if published_only else r.version,
            "published_version": r.published_version,
            "published_at": _iso(r.published_at),
            "updated_at": None if published_only else _iso(r.updated_at),
        }
        for r in rows
    ]


def plan_versions(svc: Services, plan_id: int) -> list[dict[str, Any]]:
    """Every version of a plan, oldest first, with its contents (versions are never edited)."""
    versions = svc.db.table("emergency_plan_version")
    with svc.db.engine.connect() as conn:
        _plan_row(conn, svc, plan_id)
        rows = conn.execute(
            select(versions).where(versions.c.plan_id == plan_id).order_by(versions.c.version)
        ).all()
    return [
        {
            "version": r.version,
            "adopted_at": _iso(r.adopted_at),
            "note": r.note,
            "created_by": r.created_by,
            "contents": r.contents,
        }
        for r in rows
    ]


def list_drills(svc: Services, regions: Sequence[str] | None) -> list[dict[str, Any]]:
    """Drills of `regions` (None: every region), newest first, with their participant categories."""
    drill, part = svc.db.table("emergency_drill"), svc.db.table("emergency_drill_participant")
    query = select(drill).order_by(drill.c.held_at.desc(), drill.c.id.desc())
    if regions is not None:
        query = query.where(drill.c.region.in_(sorted(regions)))
    with svc.db.engine.connect() as conn:
        rows = conn.execute(query).all()
        parts = (
            conn.execute(
                select(part.c.drill_id, part.c.category, part.c.headcount)
                .where(part.c.drill_id.in_([r.id for r in rows]))
                .order_by(part.c.pk)
            ).all()
            if rows
            else []
        )
    return [
        {
            "id": r.id,
            "region": r.region,
            "title": r.title,
            "hazard": r.hazard,
            "held_at": _iso(r.held_at),
            "participants": {p.category: p.headcount for p in parts if p.drill_id == r.id},
            "findings": len(r.findings or []),
        }
        for r in rows
    ]
