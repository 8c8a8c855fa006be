"""The emergency module's facts for the evaluation engine: plans (SE31) and drills (SE32).

The community code may be any node of the region tree; plans and drills recorded for it or any node under
it (its estates) count. The window of "in one year" / "a year" is the twelve months that end with the
evaluation date (local time), as the paper's readings in evaluation/data/paper.yaml say.

- SE31.1 (flag): some plan in force whose current version holds every content item SE31 lists
  (categories.yaml plan_contents); false with the plans and the items they lack as references;
- SE31.2 (flag): some plan's version has been published to residents by the evaluation date;
- SE31.3 (count): improvements of plans recorded in the twelve months;
- SE32.1 (count): drills held in the twelve months;
- SE32.2 (items): the participant categories (categories.yaml participants, the paper's items) that took
  part in those drills, each counted once however many drills it joined.

Nothing recorded (no plan, no drill, ever) leaves the facts out rather than claiming zero: the platform
cannot tell "none" from "not entered", and an attestation may then speak for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, select

from anju.emergency.catalog import catalog
from anju.evaluation.evidence import Evidence, ProviderRegistry, SourceKind, default_registry

if TYPE_CHECKING:
    from anju.services import Services

NAME = "emergency"
KEYS = frozenset({"SE31.1", "SE31.2", "SE31.3", "SE32.1", "SE32.2"})
_REFERENCES = 200


class EmergencyEvidence:
    """An EvidenceProvider over one platform's emergency plans and drills."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def name(self) -> str:
        return NAME

    @property
    def keys(self) -> frozenset[str]:
        return KEYS

    def _window(self, as_of: date) -> tuple[datetime, datetime]:
        tz = self.services.settings.timezone
        end_day = as_of + timedelta(days=1)
        start_day = (
            end_day.replace(year=end_day.year - 1)
            if (end_day.month, end_day.day) != (2, 29)
            else end_day - timedelta(days=365)
        )
        end = datetime.combine(end_day, time(0), tz).astimezone(UTC).replace(tzinfo=None)
        start = datetime.combine(start_day, time(0), tz).astimezone(UTC).replace(tzinfo=None)
        return start, end

    def facts(self, community_code: str, as_of: date) -> Mapping[str, Evidence]:
        svc = self.services
        regions = sorted(svc.regions.descendants([community_code]))
        start, end = self._window(as_of)
        out: dict[str, Evidence] = {}
        with svc.db.engine.connect() as conn:
            out.update(self._plans(conn, regions, start, end))
            out.update(self._drills(conn, regions, start, end))
        return out

    def _plans(
        self, conn: Connection, regions: list[str], start: datetime, end: datetime
    ) -> dict[str, Evidence]:
        db = self.services.db
        plan, versions, imp = (
            db.table("emergency_plan"),
            db.table("emergency_plan_version"),
            db.table("emergency_plan_improvement"),
        )
        rows = conn.execute(
            select(plan.c.id, plan.c.hazard, plan.c.published_at, plan.c.published_version)
            .where(plan.c.region.in_(regions), plan.c.created_at < end)
            .order_by(plan.c.id)
        ).all()
        if not rows:
            return {}
        ids = [r.id for r in rows]
        # The version in force at the end of the window: the newest adopted before it.
        latest = (
            select(versions.c.plan_id, func.max(versions.c.version).label("v"))
            .where(versions.c.plan_id.in_(ids), versions.c.adopted_at < end)
            .group_by(versions.c.plan_id)
            .subquery()
        )
        current = conn.execute(
            select(versions.c.plan_id, versions.c.contents).join(
                latest, (latest.c.plan_id == versions.c.plan_id) & (latest.c.v == versions.c.version)
            )
        ).all()
        required = list(catalog().plan_contents)
        complete: list[tuple[int, list[str]]] = []
        lacking: list[tuple[int, list[str]]] = []
        for plan_id, contents in current:
            missing = [k for k in required if not (contents or {}).get(k)]
            (lacking if missing else complete).append((plan_id, missing))
        out: dict[str, Evidence] = {}
        if current:
            zh = "、".join(catalog().plan_contents[k].zh for k in required)
            if complete:
                out["SE31.1"] = Evidence(
                    True,
                    SourceKind.records,
                    f"{len(complete)} 份应急预案现行版本含全部内容（{zh}）/ plans whose current version holds every SE31 content item",
                    tuple(f"emergency_plan:{p}" for p, _ in complete[:_REFERENCES]),
                )
            else:
                out["SE31.1"] = Evidence(
                    False,
                    SourceKind.records,
                    f"应急预案缺少内容项（应含：{zh}）；引用为预案及所缺项 / no plan holds every SE31 content item; the references name what each lacks",
                    tuple(f"emergency_plan:{p}:{'+'.join(m)}" for p, m in lacking[:_REFERENCES]),
                )
        published = [r.id for r in rows if r.published_at is not None and r.published_at < end]
        out["SE31.2"] = Evidence(
            bool(published),
            SourceKind.records,
            f"{len(published)} 份应急预案已向居民公布 / plans published to residents",
            tuple(f"emergency_plan:{p}" for p in published[:_REFERENCES]),
        )
        improved = (
            conn.execute(
                select(imp.c.pk)
                .where(imp.c.plan_id.in_(ids), imp.c.improved_at >= start, imp.c.improved_at < end)
                .order_by(imp.c.pk)
            )
            .scalars()
            .all()
        )
        out["SE31.3"] = Evidence(
            len(improved),
            SourceKind.records,
            "近十二个月内应急预案及其落实方式的改进次数 / improvements of plans in the twelve months",
            tuple(f"emergency_plan_improvement:{p}" for p in improved[:_REFERENCES]),
        )
        return out

    def _drills(
        self, conn: Connection, regions: list[str], start: datetime, end: datetime
    ) -> dict[str, Evidence]:
        db = self.services.db
        drill, part = db.table("emergency_drill"), db.table("emergency_drill_participant")
        if (
            conn.execute(
                select(drill.c.id).where(drill.c.region.in_(regions), drill.c.held_at < end).limit(1)
            ).first()
            is None
        ):
            return {}
        held = (
            conn.execute(
                select(drill.c.id)
                .where(drill.c.region.in_(regions), drill.c.held_at >= start, drill.c.held_at < end)
                .order_by(drill.c.held_at, drill.c.id)
            )
            .scalars()
            .all()
        )
        parts = (
            conn.execute(
                select(part.c.drill_id, part.c.category)
                .where(part.c.drill_id.in_(held), part.c.headcount > 0)
                .order_by(part.c.pk)
            ).all()
            if held
            else []
        )
        order = list(catalog().participants)
        cats = sorted({c for _, c in parts if c in order}, key=order.index)
        zh = "、".join(catalog().participants[c].zh for c in cats) or "无"
        return {
            "SE32.1": Evidence(
                len(held),
                SourceKind.records,
                "近十二个月内举行的应急演练次数 / emergency drills held in the twelve months",
                tuple(f"emergency_drill:{d}" for d in held[:_REFERENCES]),
            ),
            "SE32.2": Evidence(
                tuple(cats),
                SourceKind.records,
                f"近十二个月演练的参与方类别：{zh} / participant categories of the drills in the twelve months",
                tuple(f"emergency_drill:{d}:{c}" for d, c in parts[:_REFERENCES]),
            ),
        }


def install(services: Services, registry: ProviderRegistry | None = None) -> EmergencyEvidence:
    """Register the emergency provider (replacing an earlier one of the same name) in `registry`, by
    default the engine's process-wide one."""
    target = registry if registry is not None else default_registry()
    target.unregister(NAME)
    provider = EmergencyEvidence(services)
    target.register(provider)
    return provider
