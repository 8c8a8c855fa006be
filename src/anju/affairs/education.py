"""Safety education and training (SE71, SE72).

- materials with target groups, kept in versions (every change a new version, never edited), published to
  residents on the platform or not (SE71.3-5);
- activities online (on one of SE71.1's seven channels) and offline (at a venue), with audience and
  participant count (SE71.1-2);
- trainings for community administrators, property administrators and the administrators of the nine
  types of small places (place kinds: the registry's org_kinds marked small_place), with attendance, the
  attendees' names sealed (SE72).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select, update

from anju.affairs.catalog import AffairsError, catalog, instant, iso, now, text, whole
from anju.affairs.store import region_code, seal, shown, writing

if TYPE_CHECKING:
    from anju.services import Services

Scope = frozenset[str] | None


def _in_scope(row: Any, scope: Scope, field: str, key: Any, what_zh: str, what_en: str) -> Any:
    if row is None or (scope is not None and row.region not in scope):
        raise AffairsError.unknown(field, key, what_zh, what_en)
    return row


# ---- materials -------------------------------------------------------------------------------------------
def create_material(
    svc: Services,
    *,
    region: str,
    title: str,
    kind: str,
    groups: Iterable[str],
    content: str,
    actor: str,
    url: str | None = None,
    published: bool = True,
) -> int:
    cat = catalog()
    values: dict[str, Any] = {
        "title": text("title", title, max_len=200),
        "kind": cat.check("material_kinds", "kind", kind),
        "groups": cat.check_many("groups", "groups", list(groups)),
        "content": text("content", content, max_len=100_000),
        "url": text("url", url, max_len=500, required=False),
        "published": bool(published),
    }
    at = now(svc)
    t, v = svc.db.table("edu_material"), svc.db.table("edu_material_version")
    with writing(svc) as conn, conn.begin():
        values["region"] = region_code(conn, svc, "region", region)
        mid = int(
            conn.execute(
                insert(t).values(**values, version=1, updated_at=at, created_at=at, created_by=actor)
            ).inserted_primary_key[0]
        )
        conn.execute(
            insert(v).values(
                material_id=mid,
                version=1,
                title=values["title"],
                content=values["content"],
                url=values["url"],
                groups=values["groups"],
                created_at=at,
                created_by=actor,
            )
        )
        svc.audit.append(conn, actor=actor, action="education.material.create", target=f"edu_material:{mid}")
    return mid


def revise_material(
    svc: Services,
    material_id: int,
    *,
    actor: str,
    scope: Scope = None,
    title: str | None = None,
    content: str | None = None,
    url: str | None = None,
    groups: Iterable[str] | None = None,
    published: bool | None = None,
    note: str | None = None,
) -> int:
    """A new version of the material (the old ones stay); returns the new version number."""
    t, v = svc.db.table("edu_material"), svc.db.table("edu_material_version")
    at = now(svc)
    with writing(svc) as conn, conn.begin():
        row = _in_scope(
            conn.execute(select(t).where(t.c.id == material_id).with_for_update()).first(),
            scope,
            "material_id",
            material_id,
            "教育材料",
            "education material",
        )
        changes: dict[str, Any] = {
            "title": row.title if title is None else text("title", title, max_len=200),
            "content": row.content if content is None else text("content", content, max_len=100_000),
            "url": row.url if url is None else text("url", url, max_len=500, required=False),
            "groups": row.groups
            if groups is None
            else catalog().check_many("groups", "groups", list(groups)),
        }
        version = int(row.version) + 1
        conn.execute(
            insert(v).values(
                material_id=material_id,
                version=version,
                note=text("note", note, max_len=500, required=False),
                created_at=at,
                created_by=actor,
                **changes,
            )
        )
        extra = {} if published is None else {"published": bool(published)}
        conn.execute(
            update(t).where(t.c.id == material_id).values(**changes, **extra, version=version, updated_at=at)
        )
        svc.audit.append(
            conn,
            actor=actor,
            action="education.material.revise",
            target=f"edu_material:{material_id}",
            detail={"version": version},
        )
    return version


def _material(row: Any) -> dict[str, Any]:
    cat = catalog()
    return {
        "id": row.id,
        "region": row.region,
        "title": row.title,
        "kind": cat.label("material_kinds", row.kind),
        "groups": [cat.label("groups", g) for g in row.groups],
        "version": row.version,
        "url": row.url,
        "published": row.published,
        "updated_at": iso(row.updated_at),
        "created_at": iso(row.created_at),
    }


def list_materials(
    svc: Services, scope: Scope, *, group: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    t = svc.db.table("edu_material")
    q = select(t).order_by(t.c.updated_at.desc(), t.c.id.desc())
    if scope is not None:
        q = q.where(t.c.region.in_(sorted(scope)))
    wanted = None if group is None else catalog().check("groups", "group", group)
    with svc.db.engine.connect() as conn:
        rows = conn.execute(q).all()
    return [_material(r) for r in rows if wanted is None or wanted in r.groups][:limit]


def material_view(svc: Services, material_id: int, scope: Scope) -> dict[str, Any]:
    t, v = svc.db.table("edu_material"), svc.db.table("edu_material_version")
    with svc.db.engine.connect() as conn:
        row = _in_scope(
            conn.execute(select(t).where(t.c.id == material_id)).first(),
            scope,
            "material_id",
            material_id,
            "教育材料",
            "education material",
        )
        versions = conn.execute(select(v).where(v.c.material_id == material_id).order_by(v.c.version)).all()
    out = _material(row)
    out["content"] = row.content
    out["versions"] = [
        {"version": x.version, "title": x.title, "note": x.note, "at": iso(x.created_at), "by": x.created_by}
        for x in versions
    ]
    return out


# ---- activities ------------------------------------------------------------------------------------------
def record_activity(
    svc: Services,
    *,
    region: str,
    title: str,
    mode: str,
    audience: Iterable[str],
    participants: int,
    held_at: Any,
    actor: str,
    channel: str | None = None,
    venue: str | None = None,
    material_ids: Iterable[int] = (),
) -> int:
    cat = catalog()
    how = cat.check("modes", "mode", mode)
    values: dict[str, Any] = {
        "title": text("title", title, max_len=200),
        "mode": how,
        "audience": cat.check_many("groups", "audience", list(audience)),
        "participants": whole("participants", participants),
        "held_at": instant("held_at", held_at),
        "venue": text("venue", venue, max_len=200, required=False),
        "channel": None,
    }
    if how == "online":
        values["channel"] = cat.check("channels", "channel", channel)
    elif channel is not None:
        # An offline activity may still be announced on a channel (a bulletin board, the radio).
        values["channel"] = cat.check("channels", "channel", channel)
    if how == "offline" and values["venue"] is None:
        raise AffairsError.bad("venue", None, "线下活动的地点", "the venue of an offline activity")
    mats = [whole(f"material_ids[{i}]", m, minimum=1) for i, m in enumerate(material_ids)]
    t, m = svc.db.table("edu_activity"), svc.db.table("edu_material")
    with writing(svc) as conn, conn.begin():
        values["region"] = region_code(conn, svc, "region", region)
        known = set(conn.execute(select(m.c.id).where(m.c.id.in_(mats))).scalars().all()) if mats else set()
        for i, mid in enumerate(mats):
            if mid not in known:
                raise AffairsError.unknown(f"material_ids[{i}]", mid, "教育材料", "education material")
        aid = int(
            conn.execute(
                insert(t).values(**values, material_ids=mats, created_at=now(svc), created_by=actor)
            ).inserted_primary_key[0]
        )
        svc.audit.append(conn, actor=actor, action="education.activity.create", target=f"edu_activity:{aid}")
    return aid


def _activity(row: Any) -> dict[str, Any]:
    cat = catalog()
    return {
        "id": row.id,
        "region": row.region,
        "title": row.title,
        "mode": cat.label("modes", row.mode),
        "channel": cat.label("channels", row.channel) if row.channel else None,
        "venue": row.venue,
        "audience": [cat.label("groups", g) for g in row.audience],
        "participants": row.participants,
        "held_at": iso(row.held_at),
        "material_ids": list(row.material_ids),
    }


def list_activities(svc: Services, scope: Scope, *, limit: int = 200) -> list[dict[str, Any]]:
    t = svc.db.table("edu_activity")
    q = select(t).order_by(t.c.held_at.desc(), t.c.id.desc()).limit(limit)
    if scope is not None:
        q = q.where(t.c.region.in_(sorted(scope)))
    with svc.db.engine.connect() as conn:
        return [_activity(r) for r in conn.execute(q)]


def activity_view(svc: Services, activity_id: int, scope: Scope) -> dict[str, Any]:
    t = svc.db.table("edu_activity")
    with svc.db.engine.connect() as conn:
        row = _in_scope(
            conn.execute(select(t).where(t.c.id == activity_id)).first(),
            scope,
            "activity_id",
            activity_id,
            "宣传教育活动",
            "education activity",
        )
    return _activity(row)


# ---- trainings -------------------------------------------------------------------------------------------
def record_training(
    svc: Services,
    *,
    region: str,
    title: str,
    audience: str,
    topics: Iterable[str],
    held_at: Any,
    hours: float,
    actor: str,
    place_kinds: Iterable[str] = (),
    trainer: str | None = None,
) -> int:
    cat = catalog()
    who = cat.check("audiences", "audience", audience)
    kinds = cat.check_many("small_places", "place_kinds", list(place_kinds), required=who == "small_places")
    if who != "small_places" and kinds:
        raise AffairsError.bad(
            "place_kinds", kinds, "仅九小场所培训填写", "only for trainings of small places"
        )
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < float(hours) <= 100:
        raise AffairsError.bad("hours", hours, "0 到 100 之间的学时", "hours between 0 and 100")
    values = {
        "title": text("title", title, max_len=200),
        "audience": who,
        "place_kinds": kinds,
        "topics": cat.check_many("topics", "topics", list(topics)),
        "held_at": instant("held_at", held_at),
        "hours": float(hours),
        "trainer": text("trainer", trainer, max_len=200, required=False),
    }
    t = svc.db.table("edu_training")
    with writing(svc) as conn, conn.begin():
        values["region"] = region_code(conn, svc, "region", region)
        tid = int(
            conn.execute(
                insert(t).values(**values, created_at=now(svc), created_by=actor)
            ).inserted_primary_key[0]
        )
        svc.audit.append(conn, actor=actor, action="education.training.create", target=f"edu_training:{tid}")
    return tid


def _training_row(conn: Connection, svc: Services, training_id: int, scope: Scope) -> Any:
    t = svc.db.table("edu_training")
    return _in_scope(
        conn.execute(select(t).where(t.c.id == training_id)).first(),
        scope,
        "training_id",
        training_id,
        "培训",
        "training",
    )


def record_attendance(
    svc: Services,
    training_id: int,
    *,
    attendees: list[dict[str, Any]],
    actor: str,
    scope: Scope = None,
) -> list[int]:
    """Attendees of a training: name (sealed), organisation, registry org unit id, attended or not."""
    if not isinstance(attendees, list) or not attendees:
        raise AffairsError.bad(
            "attendees",
            attendees,
            "非空列表：[{name, organisation?, attended?}]",
            "a non-empty list of {name, organisation?, attended?}",
        )
    a = svc.db.table("edu_attendance")
    at = now(svc)
    made: list[int] = []
    with writing(svc) as conn, conn.begin():
        _training_row(conn, svc, training_id, scope)
        for i, person in enumerate(attendees):
            if not isinstance(person, dict):
                raise AffairsError.bad(
                    f"attendees[{i}]",
                    person,
                    "{name, organisation?, attended?}",
                    "an object {name, organisation?, attended?}",
                )
            name = text(f"attendees[{i}].name", person.get("name"), max_len=50)
            attended = person.get("attended", True)
            if not isinstance(attended, bool):
                raise AffairsError.bad(f"attendees[{i}].attended", attended, "true 或 false", "true or false")
            pk = int(
                conn.execute(
                    insert(a).values(
                        training_id=training_id,
                        name="",
                        organisation=text(
                            f"attendees[{i}].organisation",
                            person.get("organisation"),
                            max_len=200,
                            required=False,
                        ),
                        org_unit_id=text(
                            f"attendees[{i}].org_unit_id",
                            person.get("org_unit_id"),
                            max_len=64,
                            required=False,
                        ),
                        attended=attended,
                        created_at=at,
                        created_by=actor,
                    )
                ).inserted_primary_key[0]
            )
            conn.execute(
                update(a).where(a.c.pk == pk).values(seal(svc, "edu_attendance", pk, {"name": name}))
            )
            made.append(pk)
        svc.audit.append(
            conn,
            actor=actor,
            action="education.attendance.record",
            target=f"edu_training:{training_id}",
            detail={"rows": len(made)},
        )
    return made


def _training(row: Any, attended: int) -> dict[str, Any]:
    cat = catalog()
    return {
        "id": row.id,
        "region": row.region,
        "title": row.title,
        "audience": cat.label("audiences", row.audience),
        "place_kinds": [cat.label("small_places", k) for k in row.place_kinds],
        "topics": [cat.label("topics", k) for k in row.topics],
        "held_at": iso(row.held_at),
        "hours": row.hours,
        "trainer": row.trainer,
        "attended": attended,
    }


def list_trainings(
    svc: Services, scope: Scope, *, audience: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    t, a = svc.db.table("edu_training"), svc.db.table("edu_attendance")
    counts = (
        select(a.c.training_id, func.count().label("n"))
        .where(a.c.attended.is_(True))
        .group_by(a.c.training_id)
        .subquery()
    )
    q = (
        select(t, func.coalesce(counts.c.n, 0).label("attended_n"))
        .outerjoin(counts, counts.c.training_id == t.c.id)
        .order_by(t.c.held_at.desc(), t.c.id.desc())
        .limit(limit)
    )
    if scope is not None:
        q = q.where(t.c.region.in_(sorted(scope)))
    if audience is not None:
        q = q.where(t.c.audience == catalog().check("audiences", "audience", audience))
    with svc.db.engine.connect() as conn:
        return [_training(r, int(r.attended_n)) for r in conn.execute(q)]


def training_view(svc: Services, training_id: int, scope: Scope) -> dict[str, Any]:
    a = svc.db.table("edu_attendance")
    with svc.db.engine.connect() as conn:
        row = _training_row(conn, svc, training_id, scope)
        people = conn.execute(select(a).where(a.c.training_id == training_id).order_by(a.c.pk)).all()
    out = _training(row, sum(1 for p in people if p.attended))
    out["attendance"] = [
        {
            "id": p.pk,
            "name": shown(svc, "edu_attendance", p.pk, {"name": p.name})["name"],
            "organisation": p.organisation,
            "org_unit_id": p.org_unit_id,
            "attended": p.attended,
        }
        for p in people
    ]
    return out
