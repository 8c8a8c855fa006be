"""`anju emergency ops`: duty coverage gaps, the risk map, resources, incidents and warnings (CAP 1.2).

Every refusal is printed as one `error:` line naming the field, the value and what is expected (exit code
2), never a stack trace.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from anju.alarms.duty import LEVELS
from anju.emergency import incidents, responders, risk, warning_ops
from anju.emergency.cli_common import JsonOpt, out
from anju.emergency.cli_common import checked as _checked
from anju.emergency.cli_common import services as _services
from anju.emergency.duty_coverage import coverage_gaps
from anju.security.admin_cli import AdminError, actor

ops_app = typer.Typer(
    help="应急处置：值班覆盖、风险地图、资源、事件、预警 / duty coverage, risk map, resources, incidents, warnings",
    no_args_is_help=True,
)
warnings_app = typer.Typer(help="预警（CAP 1.2） / warnings (CAP 1.2)", no_args_is_help=True)
ops_app.add_typer(warnings_app, name="warnings")


def _json(value: Any) -> None:
    out.print_json(json.dumps(value, ensure_ascii=False, default=str))


@ops_app.command("coverage")
def coverage(
    estate: Annotated[list[str], typer.Option("--estate", help="estate code (repeat for several)")],
    start: Annotated[
        str | None, typer.Option("--from", help="first day YYYY-MM-DD (local), default today")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=31)] = 7,
    level: Annotated[
        list[int] | None, typer.Option("--level", help="0 estate, 1 community, 2 district")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """无人值守的时段 / periods when nobody is on duty, per estate and level."""
    levels = tuple(level) if level else LEVELS
    for lv in levels:
        if lv not in LEVELS:
            raise AdminError(
                f"--level {lv}: expected 0 (estate), 1 (community) or 2 (district) · 应为 0、1 或 2"
            )
    try:
        first = date.fromisoformat(start) if start else None
    except ValueError:
        raise AdminError(f"--from {start!r}: expected a date YYYY-MM-DD · 应为日期") from None
    with _services() as svc:
        tz = svc.settings.timezone
        begin = datetime.combine(first or svc.pipeline.clock().astimezone(tz).date(), time(0), tz)
        gaps = coverage_gaps(
            svc.duty.officers(),
            estate,
            {e: svc.regions.ancestors(e) for e in estate},
            start=begin,
            end=begin + timedelta(days=days),
            tz=tz,
            levels=levels,
        )
    rows = [g.to_json() for g in gaps]
    if as_json:
        _json(rows)
        return
    if not rows:
        out.print("无缺口：每个时段都有人值守 / no gaps: someone is on duty at every minute")
        return
    table = Table("小区 estate", "层级 level", "从 from", "到 to", "分钟 minutes", title="值班缺口 duty gaps")
    for r in rows:
        table.add_row(
            str(r["estate"]), f"{r['level']} {r['level_zh']}", str(r["from"]), str(r["to"]), str(r["minutes"])
        )
    out.print(table)
    raise typer.Exit(1)


@ops_app.command("risk-map")
def risk_map(
    estate: Annotated[str, typer.Argument(help="estate code")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the GeoJSON here")] = None,
) -> None:
    """风险地图（GeoJSON） / the risk map as a GeoJSON FeatureCollection."""
    with _services() as svc:
        doc = _checked(lambda: risk.risk_map(svc, [estate]))
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    if output is None:
        out.print(text, markup=False, highlight=False)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"{len(doc['features'])} 个风险区域 / zones → {output}")


@ops_app.command("resources")
def list_resources(
    estate: Annotated[str, typer.Argument(help="estate code")],
    kind: Annotated[str | None, typer.Option(help="resources.yaml kind")] = None,
    as_json: JsonOpt = False,
) -> None:
    """服务该小区的应急资源（联系人已脱敏） / resources serving the estate, contacts masked."""
    with _services() as svc:
        rows = _checked(lambda: responders.list_resources(svc, responders.serving(svc, [estate]), kind=kind))
    if as_json:
        _json(rows)
        return
    table = Table(
        "ID", "类别 kind", "名称 name", "区域 region", "联系人 contact", "电话 phone", "可用 available"
    )
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["kind_zh"],
            r["name"],
            r["region"],
            r["contact_name"] or "",
            r["contact_phone"] or "",
            "是" if r["available"] else "否",
        )
    out.print(table)


@ops_app.command("incident")
def show_incident(incident_id: int, as_json: JsonOpt = False) -> None:
    """事件、处置日志与复盘报告 / an incident with its action log and after-action report."""
    with _services() as svc:
        view = _checked(lambda: incidents.incident_view(svc, incident_id))
    if as_json:
        _json(view)
        return
    out.print(
        f"[bold]{view['title']}[/bold] · {view['estate']} · 指挥 {view['commander']} · {view['status']}"
    )
    table = Table("时间 at", "人 actor", "类别 kind", "内容 text")
    for e in view["log"]:
        table.add_row(str(e["at"]), e["actor"], e["kind"], e["text"])
    out.print(table)
    if view["report"]:
        _json(view["report"])


@warnings_app.command("list")
def list_warnings(
    region: Annotated[str | None, typer.Option(help="region code")] = None, as_json: JsonOpt = False
) -> None:
    """预警消息，最新在前 / warning messages, newest first."""
    with _services() as svc:
        regions = sorted(svc.regions.descendants([region])) if region else None
        rows = _checked(lambda: warning_ops.list_warnings(svc, regions))
    if as_json:
        _json(rows)
        return
    table = Table(
        "ID", "状态 status", "类型 type", "发送 sent", "标题 headline", "发布 publication", "后续 followed by"
    )
    for w in rows:
        table.add_row(
            w["id"],
            w["status"],
            w["msg_type"],
            w["sent"],
            w["headline"],
            (w["publication"] or {}).get("state", "—"),
            w["superseded_by"] or "",
        )
    out.print(table)


@warnings_app.command("cap")
def warning_cap(warning_id: str) -> None:
    """输出预警的 CAP 1.2 XML / print a warning's CAP 1.2 document."""
    with _services() as svc:
        doc = _checked(lambda: warning_ops.cap_document(svc, warning_id))
    sys.stdout.write(doc.decode("utf-8"))


@warnings_app.command("import")
def import_warning(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a CAP 1.2 XML file")],
    region: Annotated[str, typer.Option(help="the region the warning concerns")],
    publish: Annotated[
        list[str] | None, typer.Option("--publish", help="channel to publish on (repeat)")
    ] = None,
) -> None:
    """导入 CAP 1.2 预警（先按 XSD 校验） / record a CAP 1.2 warning, validated against the XSD first."""
    doc = file.read_bytes()
    with _services() as svc:
        wid = _checked(
            lambda: warning_ops.import_cap(svc, doc, region=region, actor=actor(), channels=publish)
        )
    out.print(f"已导入 imported {wid}")


@warnings_app.command("publish-pending")
def publish_pending() -> None:
    """重试尚未送达居民的预警发布 / retry publications still pending."""
    with _services() as svc:
        counts = _checked(lambda: warning_ops.publish_pending(svc, actor=actor()))
    out.print(f"已发布 published {counts['published']} · 仍待发布 still pending {counts['pending']}")
