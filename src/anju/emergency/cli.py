"""`anju emergency`: the command line of the emergency module.

Plans and drills come from YAML files (the layout is in docs/emergency.md); every refusal is printed as one
`error:` line naming the field, the value and what is expected (exit code 2), never a stack trace.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table
from sqlalchemy import select

from anju.emergency import plans, shelters, supplies
from anju.emergency.catalog import EmergencyError
from anju.emergency.cli_common import JsonOpt, out
from anju.emergency.cli_common import checked as _checked
from anju.emergency.cli_common import services as _services
from anju.security.admin_cli import AdminError, actor
from anju.services import Services
from anju.yamlfiles import load_yaml

emergency_app = typer.Typer(
    help="应急管理：预案、演练、物资、避难场所、预警 / emergency plans, drills, supplies, shelters, warnings",
    no_args_is_help=True,
)
plans_app = typer.Typer(help="应急预案 / emergency plans", no_args_is_help=True)
drills_app = typer.Typer(help="应急演练 / drills", no_args_is_help=True)
supplies_app = typer.Typer(help="应急物资 / emergency supplies", no_args_is_help=True)
shelters_app = typer.Typer(help="避难场所 / shelters", no_args_is_help=True)
emergency_app.add_typer(plans_app, name="plans")
emergency_app.add_typer(drills_app, name="drills")
emergency_app.add_typer(supplies_app, name="supplies")
emergency_app.add_typer(shelters_app, name="shelters")


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AdminError(f"{path}: cannot be read ({exc.strerror}) · 无法读取文件") from None
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise AdminError(f"{path}: not valid YAML{at} · 不是有效的 YAML 文件") from None


def _mapping(value: Any, where: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AdminError(f"{where}: expected a mapping ({what}) · 应为映射（{what}）")
    return value


def _all_estates(svc: Services) -> list[str]:
    region = svc.db.table("region")
    with svc.db.engine.connect() as conn:
        return [
            str(c) for c in conn.execute(select(region.c.code).where(region.c.level == "estate")).scalars()
        ]


# ---- plans ----------------------------------------------------------------------------------------------
_PLAN_KEYS = {"region", "hazard", "title", "contents", "superior_plan", "adopted_at", "improvement"}


def _import_plan(svc: Services, raw: Mapping[str, Any], who: str) -> dict[str, Any]:
    """Create the plan, or revise the region's plan for the hazard when its contents changed."""
    unknown = sorted(set(raw) - _PLAN_KEYS)
    if unknown:
        raise EmergencyError.bad(
            unknown[0], raw[unknown[0]], f"以下键之一：{sorted(_PLAN_KEYS)}", f"one of {sorted(_PLAN_KEYS)}"
        )
    listed = [
        p
        for p in plans.list_plans(svc, [str(raw.get("region"))])
        if p["hazard"] == raw.get("hazard") or p["hazard_zh"] == raw.get("hazard")
    ]
    if not listed:
        ref = plans.create_plan(
            svc,
            region=raw.get("region"),  # type: ignore[arg-type]
            hazard=raw.get("hazard"),  # type: ignore[arg-type]
            title=raw.get("title"),  # type: ignore[arg-type]
            contents=raw.get("contents"),  # type: ignore[arg-type]
            superior_plan=raw.get("superior_plan"),
            adopted_at=raw.get("adopted_at"),
            actor=who,
        )
        return {"id": ref.id, "version": ref.version, "action": "created"}
    plan_id = int(listed[0]["id"])
    current = plans.plan_versions(svc, plan_id)[-1]
    contents = raw.get("contents")
    if isinstance(contents, Mapping) and all(current["contents"].get(k) == v for k, v in contents.items()):
        return {"id": plan_id, "version": current["version"], "action": "unchanged"}
    ref = plans.revise_plan(
        svc,
        plan_id,
        contents=contents,  # type: ignore[arg-type]
        improvement=raw.get("improvement"),
        actor=who,
    )
    return {"id": ref.id, "version": ref.version, "action": "revised"}


@plans_app.command("import")
def plans_import(
    file: Annotated[Path, typer.Argument(help="YAML: one plan, or `plans:` with a list of them")],
    as_json: JsonOpt = False,
) -> None:
    """Create plans from a file; a plan already there for the region and hazard gets a new version."""
    doc = _yaml(file)
    entries = doc.get("plans") if isinstance(doc, Mapping) and "plans" in doc else [doc]
    if not isinstance(entries, list):
        raise AdminError(f"{file}: `plans` must be a list · plans 应为列表")
    results = []
    with _services() as svc:
        for i, raw in enumerate(entries):
            entry = _mapping(raw, f"{file}: plans[{i}]", "一份预案 / one plan")
            try:
                results.append({**_import_plan(svc, entry, actor()), "region": entry.get("region")})
            except EmergencyError as exc:
                raise AdminError(f"{file}: plans[{i}]: {exc.en} · {exc.zh}") from None
    if as_json:
        _print_json(results)
        return
    for r in results:
        out.print(f"plan {r['id']} ({r['region']}): {r['action']}, version {r['version']}")


@plans_app.command("list")
def plans_list(
    region: Annotated[
        str | None, typer.Option(help="community or estate code (and the nodes under it)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Plans by region and hazard."""
    with _services() as svc:
        regions = None if region is None else sorted(svc.regions.descendants([region]))
        found = plans.list_plans(svc, regions)
    if as_json:
        _print_json(found)
        return
    table = Table("ID", "区划 region", "灾种 hazard", "名称 title", "版本 version", "公布 published")
    for p in found:
        table.add_row(
            str(p["id"]),
            p["region"],
            f"{p['hazard_zh']} {p['hazard']}",
            p["title"],
            str(p["version"]),
            "-" if p["published_version"] is None else f"v{p['published_version']}",
        )
    out.print(table)


@plans_app.command("show")
def plans_show(plan_id: int, as_json: JsonOpt = False) -> None:
    """A plan's current contents, versions and improvements."""
    with _services() as svc:
        view = _checked(lambda: plans.plan_view(svc, plan_id))
        view["versions"] = [
            {k: v for k, v in ver.items() if k != "contents"} for ver in plans.plan_versions(svc, plan_id)
        ]
    if as_json:
        _print_json(view)
        return
    out.print(f"[bold]{view['title']}[/bold]  {view['region']} · {view['hazard_zh']} · v{view['version']}")
    for c in view["contents"]:
        out.print(f"  {c['zh']} / {c['en']}: {c['text'] or '—（缺 / missing）'}")
    for v in view["versions"]:
        out.print(f"  v{v['version']} {v['adopted_at']} {v['note'] or ''}")
    for i in view["improvements"]:
        out.print(f"  改进 improvement {i['at']}: {i['description']}")


@plans_app.command("publish")
def plans_publish(plan_id: int) -> None:
    """Publish a plan's current version to residents."""
    with _services() as svc:
        ref = _checked(lambda: plans.publish_plan(svc, plan_id, actor=actor()))
    out.print(f"plan {ref.id}: version {ref.version} published · 已公布")


# ---- drills ---------------------------------------------------------------------------------------------
_DRILL_KEYS = {
    "region",
    "title",
    "hazard",
    "scenario",
    "held_at",
    "ended_at",
    "participants",
    "evacuation",
    "findings",
    "plan_id",
    "followups",
}


@drills_app.command("record")
def drills_record(
    file: Annotated[Path, typer.Argument(help="YAML: one drill (see docs/emergency.md)")],
    as_json: JsonOpt = False,
) -> None:
    """Record a drill held, with its participants, evacuation timings, findings and follow-ups."""
    raw = _mapping(_yaml(file), str(file), "一次演练 / one drill")
    unknown = sorted(set(raw) - _DRILL_KEYS)
    if unknown:
        raise AdminError(f"{file}: unknown key {unknown[0]!r}; expected one of {sorted(_DRILL_KEYS)}")
    for key in ("held_at", "ended_at"):  # YAML reads an unquoted time as a datetime already
        if key in raw and not isinstance(raw[key], str) and raw[key] is not None:
            raw = {**raw, key: raw[key].isoformat() if hasattr(raw[key], "isoformat") else raw[key]}
    with _services() as svc:
        who = actor()
        drill_id = _checked(
            lambda: plans.record_drill(
                svc,
                region=raw.get("region"),  # type: ignore[arg-type]
                title=raw.get("title"),  # type: ignore[arg-type]
                hazard=raw.get("hazard"),  # type: ignore[arg-type]
                scenario=raw.get("scenario"),  # type: ignore[arg-type]
                held_at=raw.get("held_at"),  # type: ignore[arg-type]
                ended_at=raw.get("ended_at"),
                participants=raw.get("participants") or [],
                evacuation=raw.get("evacuation") or [],
                findings=raw.get("findings") or [],
                plan_id=raw.get("plan_id"),
                actor=who,
            )
        )
        for i, f in enumerate(raw.get("followups") or []):
            entry = _mapping(f, f"{file}: followups[{i}]", "action, owner, due_on")
            _checked(
                lambda e=entry: plans.add_followup(  # type: ignore[misc]
                    svc,
                    drill_id,
                    action=e.get("action"),
                    owner=e.get("owner"),
                    due_on=e.get("due_on"),
                    actor=who,
                )
            )
        view = plans.drill_view(svc, drill_id)
    if as_json:
        _print_json(view)
        return
    cats = "、".join(f"{p['zh']} {p['headcount']}" for p in view["participants"]) or "—"
    out.print(f"drill {drill_id} recorded · 已登记演练：{view['title']}（{cats}）")


@drills_app.command("show")
def drills_show(drill_id: int, as_json: JsonOpt = False) -> None:
    """A drill with participants, evacuation timings, findings and follow-ups."""
    with _services() as svc:
        view = _checked(lambda: plans.drill_view(svc, drill_id))
    if as_json:
        _print_json(view)
        return
    out.print(f"[bold]{view['title']}[/bold]  {view['region']} · {view['hazard']} · {view['held_at']}")
    for p in view["participants"]:
        out.print(f"  {p['zh']} / {p['en']}: {p['headcount']}")
    for e in view["evacuation"]:
        out.print(f"  疏散 evacuation {e['place']}: {e['people']} 人 in {e['seconds']} s")
    for f in view["followups"]:
        out.print(f"  整改 follow-up {f['id']}: {f['action']} ({'done' if f['done_at'] else 'open'})")


# ---- supplies -------------------------------------------------------------------------------------------
@supplies_app.command("list")
def supplies_list(
    estate: Annotated[str | None, typer.Option(help="one estate; default every estate")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Stores and items with their levels (custodians masked)."""
    with _services() as svc:
        found = supplies.supplies_view(svc, [estate] if estate else _all_estates(svc), resident=False)
    if as_json:
        _print_json(found)
        return
    table = Table(
        "小区 estate",
        "储备点 store",
        "物资 item",
        "数量 quantity",
        "最低 minimum",
        "有效期 expires",
        "状态 status",
    )
    for s in found:
        for i in s["items"]:
            table.add_row(
                s["estate"],
                s["name"],
                i["name"],
                f"{i['quantity']} {i['unit']}",
                str(i["minimum"]),
                i["expires_on"] or "—",
                f"{i['status_zh']} {i['status']}",
            )
    out.print(table)


@supplies_app.command("check")
def supplies_check(as_json: JsonOpt = False) -> None:
    """Raise or clear the stock-below-minimum and near-expiry alarms now (the alarm clock does it too)."""
    with _services() as svc:
        result = supplies.check_supplies(svc)
    data = {
        "raised": [{"type": t, "supply_item": i} for t, i in result.raised],
        "cleared": [{"type": t, "supply_item": i} for t, i in result.cleared],
    }
    if as_json:
        _print_json(data)
        return
    for verb, rows in (("raised · 告警", data["raised"]), ("cleared · 解除", data["cleared"])):
        for r in rows:
            out.print(f"{verb}: {r['type']} supply_item:{r['supply_item']}")
    if not result.raised and not result.cleared:
        out.print("nothing changed · 无新增或解除的告警")


# ---- shelters and evacuation ----------------------------------------------------------------------------
@shelters_app.command("list")
def shelters_list(
    estate: Annotated[str | None, typer.Option(help="one estate; default every estate")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The shelter register."""
    with _services() as svc:
        found = shelters.list_shelters(svc, [estate] if estate else _all_estates(svc))
    if as_json:
        _print_json(found)
        return
    table = Table("ID", "小区 estate", "名称 name", "类型 type", "容量 capacity", "状态 status")
    for s in found:
        table.add_row(s["id"], s["estate"], s["name"], s["type_zh"], str(s["capacity"]), s["status_zh"])
    out.print(table)


@emergency_app.command("evacuation")
def evacuation_routes(
    estate: Annotated[str, typer.Argument(help="estate code")],
    as_json: JsonOpt = False,
) -> None:
    """Each building's nearest open shelter and route, and the capacity-aware assignment of its people."""
    with _services() as svc:
        plan = _checked(lambda: shelters.evacuation(svc, estate))
    if as_json:
        _print_json(plan)
        return
    routes = Table("楼栋 building", "最近避难场所 nearest shelter", "距离 metres", "路线 route", title=estate)
    for b, r in sorted(plan["nearest"].items()):
        if r is None:
            routes.add_row(b, "—（不可达 unreachable）", "", "")
        else:
            routes.add_row(b, r["shelter"], f"{r['metres']:.0f}", " → ".join(r["path"]))
    out.print(routes)
    assigned = Table(
        "楼栋 building", "避难场所 shelter", "人数 people", "距离 metres", title="按容量分配 assignment"
    )
    for p in plan["assignment"]["placements"]:
        assigned.add_row(p["building"], p["shelter"], str(p["people"]), f"{p['metres']:.0f}")
    for b, n in sorted(plan["assignment"]["unplaced"].items()):
        assigned.add_row(b, "—（容量不足 no room）", str(n), "")
    out.print(assigned)


from anju.emergency.ops_cli import ops_app  # noqa: E402  (emergency operations: their own module)

emergency_app.add_typer(ops_app, name="ops")
