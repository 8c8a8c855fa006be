"""The emergency module's facts for the evaluation engine: plans (SE31), drills (SE32), shelter guidance
(SE64) and the supply reserve (SE65).

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

- SE64.1 (items): shelter_signs when a registered shelter lists the `signage` facility; evacuation_images
  when a stored path graph routes some building to an open shelter (the platform draws that building's
  evacuation route); shelter_distribution_map when shelters are registered with their positions (the
  platform draws their distribution on the estate map);
- SE64.2 (flag): shelters registered and a path graph stored that holds a registered shelter;
- SE64.3 (flag): some building of a stored graph has a route to an open shelter, which the residents' view
  (`GET /api/v1/emergency/evacuation/public`) shows without signing in;
- SE65.1 (flag): a supply store with items, whose levels and expiry the platform monitors;
- SE65.2 (flag): the same stores, listed to residents by the public supplies view;
- SE65.3 (flag): a store or an item in stock named like one of SE65's tools (supplies.yaml tools).
Shelters, graphs and items are read as they stand now (the register keeps no history of them); stores count
from when they were created.

Nothing recorded (no plan, no drill, ever) leaves the facts out rather than claiming zero: the platform
cannot tell "none" from "not entered", and an attestation may then speak for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from anju.emergency.catalog import EmergencyError, catalog
from anju.emergency.routing import PathGraph
from anju.evaluation.evidence import Evidence, ProviderRegistry, SourceKind, default_registry, twelve_months

if TYPE_CHECKING:
    from anju.services import Services

NAME = "emergency"
KEYS = frozenset(
    {
        "SE31.1",
        "SE31.2",
        "SE31.3",
        "SE32.1",
        "SE32.2",
        "SE64.1",
        "SE64.2",
        "SE64.3",
        "SE65.1",
        "SE65.2",
        "SE65.3",
    }
)
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
        return twelve_months(as_of, self.services.settings.timezone)

    def facts(self, community_code: str, as_of: date) -> Mapping[str, Evidence]:
        svc = self.services
        regions = sorted(svc.regions.descendants([community_code]))
        start, end = self._window(as_of)
        out: dict[str, Evidence] = {}
        with svc.db.engine.connect() as conn:
            out.update(self._plans(conn, regions, start, end))
            out.update(self._drills(conn, regions, start, end))
            out.update(self._shelters(conn, regions))
            out.update(self._supplies(conn, regions, end))
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

    def _shelters(self, conn: Connection, regions: list[str]) -> dict[str, Evidence]:
        db = self.services.db
        shelter, graph = db.table("shelter"), db.table("evacuation_graph")
        shelters = conn.execute(
            select(shelter.c.id, shelter.c.status, shelter.c.facilities)
            .where(shelter.c.estate.in_(regions))
            .order_by(shelter.c.id)
        ).all()
        graphs = conn.execute(
            select(graph.c.estate, graph.c.nodes, graph.c.edges)
            .where(graph.c.estate.in_(regions))
            .order_by(graph.c.estate)
        ).all()
        if not shelters and not graphs:
            return {}
        return _shelter_evidence(list(shelters), list(graphs))

    def _supplies(self, conn: Connection, regions: list[str], end: datetime) -> dict[str, Evidence]:
        db = self.services.db
        store, item = db.table("supply_store"), db.table("supply_item")
        stores = conn.execute(
            select(store.c.id, store.c.name)
            .where(store.c.estate.in_(regions), store.c.created_at < end)
            .order_by(store.c.id)
        ).all()
        if not stores:
            return {}
        items = conn.execute(
            select(item.c.id, item.c.store_id, item.c.name, item.c.quantity)
            .where(item.c.store_id.in_([s.id for s in stores]))
            .order_by(item.c.id)
        ).all()
        stocked = sorted({i.store_id for i in items})
        tools = catalog().tools
        tool_refs = [f"supply_store:{s.id}" for s in stores if any(t in s.name for t in tools)]
        tool_refs += [
            f"supply_item:{i.id}" for i in items if i.quantity > 0 and any(t in i.name for t in tools)
        ]
        refs = tuple(f"supply_store:{s}" for s in stocked[:_REFERENCES])
        return {
            "SE65.1": Evidence(
                bool(stocked),
                SourceKind.records,
                f"{len(stocked)} 个应急物资储备点在平台登记物资，库存与有效期由平台监测告警 / supply "
                "stores whose stock and expiry the platform monitors",
                refs,
            ),
            "SE65.2": Evidence(
                bool(stocked),
                SourceKind.records,
                "居民可在平台公开页查询这些储备点的物资、数量与状态（无个人信息） / residents look these "
                "stores up on the public supplies view (no personal data)",
                refs,
            ),
            "SE65.3": Evidence(
                bool(tool_refs),
                SourceKind.records,
                "微型消防站、应急通信背包、应急装备等应急工具（按 supplies.yaml tools 的名称） / emergency "
                "tools such as miniature fire stations and communication backpacks",
                tuple(tool_refs[:_REFERENCES]),
            ),
        }

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


def _shelter_evidence(shelters: list[Any], graphs: list[Any]) -> dict[str, Evidence]:
    registered = {s.id for s in shelters}
    open_ = {s.id for s in shelters if s.status == "open"}
    signed = [s.id for s in shelters if "signage" in (s.facilities or [])]
    routed: list[str] = []  # "<estate>:<building>" with a route to an open shelter
    holding: list[str] = []  # estates whose graph holds a registered shelter
    for g in graphs:
        try:
            graph = PathGraph.from_json(g.nodes, g.edges)
        except EmergencyError:  # a graph saved under older rules: it proves nothing
            continue
        nodes = set(graph.of_kind("shelter"))
        if nodes & registered:
            holding.append(g.estate)
        reachable = graph.nearest(sorted(nodes & open_))
        routed += [f"{g.estate}:{b}" for b, r in sorted(reachable.items()) if r is not None]
    items: list[str] = []
    refs: list[str] = []
    if signed:
        items.append("shelter_signs")
        refs += [f"shelter:{s}:signage" for s in signed]
    if routed:
        items.append("evacuation_images")
        refs += [f"evacuation_route:{r}" for r in routed]
    if registered:
        items.append("shelter_distribution_map")
        refs += [f"shelter:{s}" for s in sorted(registered)]
    return {
        "SE64.1": Evidence(
            tuple(items),
            SourceKind.records,
            "应急避难指引：避难场所标志（登记有标志标识设施）、应急疏散图（平台按路网绘制各楼栋疏散路线）、"
            "应急避难场所分布图（平台按登记位置绘制） / shelter guidance: signs, evacuation routes, distribution map",
            tuple(refs[:_REFERENCES]),
        ),
        "SE64.2": Evidence(
            bool(registered and holding),
            SourceKind.records,
            f"{len(registered)} 处避难场所已登记，{len(holding)} 个小区的疏散路网含避难场所 / shelters "
            "registered and estates whose path graph holds them",
            tuple(f"evacuation_graph:{e}" for e in holding[:_REFERENCES]),
        ),
        "SE64.3": Evidence(
            bool(routed),
            SourceKind.records,
            f"{len(routed)} 栋楼可在居民端查到通往开放避难场所的路线 / buildings whose route to an open "
            "shelter residents can look up",
            tuple(f"evacuation_route:{r}" for r in routed[:_REFERENCES]),
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
