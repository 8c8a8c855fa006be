"""The electronic archive (电子档案, SE15): one searchable, read-only view over the modules' own tables —
abnormal events, public health events, education materials, activities and trainings, and the emergency
module's drills — by region, kind, period and words of the title. Nothing is copied: each entry points
at its record (`kind:id`). Special-population cases stay out (see data/archives.yaml).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, String, literal, select, union_all

from anju.affairs.catalog import catalog, iso

if TYPE_CHECKING:
    from anju.services import Services


@dataclass(frozen=True)
class Entry:
    kind: str
    id: int
    region: str
    at: datetime
    title: str
    recorded_at: datetime

    def to_json(self) -> dict[str, Any]:
        label = catalog().label("archive_kinds", self.kind)
        return {
            "ref": f"{self.kind}:{self.id}",
            "kind": label,
            "id": self.id,
            "region": self.region,
            "at": iso(self.at),
            "title": self.title,
            "recorded_at": iso(self.recorded_at),
        }


def _parts(svc: Services) -> dict[str, Select[Any]]:
    db = svc.db
    ev, he, mat = db.table("abnormal_event"), db.table("health_event"), db.table("edu_material")
    act, tr, dr = db.table("edu_activity"), db.table("edu_training"), db.table("emergency_drill")

    def part(kind: str, t: Any, region: Any, at: Any, title: Any, recorded: Any) -> Select[Any]:
        return select(
            literal(kind, String(30)).label("kind"),
            t.c.id.label("id"),
            region.label("region"),
            at.label("at"),
            title.label("title"),
            recorded.label("recorded_at"),
        )

    return {
        "abnormal_event": part(
            "abnormal_event", ev, ev.c.estate, ev.c.occurred_at, ev.c.summary, ev.c.created_at
        ),
        "health_event": part("health_event", he, he.c.region, he.c.started_at, he.c.title, he.c.created_at),
        "education_material": part(
            "education_material", mat, mat.c.region, mat.c.updated_at, mat.c.title, mat.c.updated_at
        ),
        "education_activity": part(
            "education_activity", act, act.c.region, act.c.held_at, act.c.title, act.c.created_at
        ),
        "training": part("training", tr, tr.c.region, tr.c.held_at, tr.c.title, tr.c.created_at),
        "drill": part("drill", dr, dr.c.region, dr.c.held_at, dr.c.title, dr.c.created_at),
    }


def search(
    svc: Services,
    regions: Iterable[str] | None,
    *,
    kinds: Iterable[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    words: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[Entry]:
    """Archive entries of `regions` (None: everywhere), newest first. Times are naive UTC."""
    parts = _parts(svc)
    chosen = list(parts) if kinds is None else [catalog().check("archive_kinds", "kind", k) for k in kinds]
    u = union_all(*(parts[k] for k in dict.fromkeys(chosen))).subquery()
    q = select(u)
    if regions is not None:
        q = q.where(u.c.region.in_(sorted(set(regions))))
    if start is not None:
        q = q.where(u.c.at >= start)
    if end is not None:
        q = q.where(u.c.at < end)
    if words:
        q = q.where(u.c.title.contains(words.strip(), autoescape=True))
    q = q.order_by(u.c.at.desc(), u.c.kind, u.c.id.desc()).limit(limit).offset(offset)
    with svc.db.engine.connect() as conn:
        return [Entry(r.kind, int(r.id), r.region, r.at, r.title, r.recorded_at) for r in conn.execute(q)]
