"""`anju affairs`: the command line of the affairs module.

Reads and writes go through the same functions as the HTTP API (audited the same way); the CLI acts as
`cli:<user>` over the whole platform, like the other operator commands.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from anju.affairs import archives, education, events, health, special
from anju.affairs.catalog import catalog, instant
from anju.emergency.catalog import EmergencyError

affairs_app = typer.Typer(
    help="社区安全事务 / special populations, abnormal events, public health, education, archives",
    no_args_is_help=True,
)
special_app = typer.Typer(help="特殊人群 / special-population cases (audited reads)", no_args_is_help=True)
events_app = typer.Typer(help="异常事件与伤害 / abnormal events and injuries", no_args_is_help=True)
health_app = typer.Typer(help="公共卫生事件 / public health events", no_args_is_help=True)
education_app = typer.Typer(help="安全教育与培训 / education and training", no_args_is_help=True)
affairs_app.add_typer(special_app, name="special")
affairs_app.add_typer(events_app, name="events")
affairs_app.add_typer(health_app, name="health")
affairs_app.add_typer(education_app, name="education")

console = Console()
T = TypeVar("T")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _call(fn: Callable[[Any], T]) -> T:
    from anju.config import Settings
    from anju.services import open_services

    svc = open_services(Settings.from_env())
    try:
        return fn(svc)
    except EmergencyError as exc:
        console.print(f"[red]{exc.zh}[/red]\n{exc.en}")
        raise typer.Exit(2) from None
    finally:
        svc.close()


def _json(value: Any) -> None:
    console.print_json(json.dumps(value, ensure_ascii=False, default=str))


@affairs_app.command("catalog")
def show_catalog(
    kind: Annotated[str, typer.Argument(help="e.g. event_types, special_categories, channels, groups")],
) -> None:
    """列出类别 / list one of the module's lists."""
    cat = catalog()
    entries = getattr(cat, kind, None)
    if not isinstance(entries, dict):
        console.print(f"[red]没有列表 {kind!r}[/red] / no list {kind!r}")
        raise typer.Exit(2)
    table = Table("key", "中文", "English")
    for e in entries.values():
        table.add_row(e.key, e.zh, e.en)
    console.print(table)


# ---- special populations -----------------------------------------------------------------------------------
@special_app.command("open")
def special_open(
    person_id: str,
    estate: str,
    category: str,
    officer: Annotated[str, typer.Option()],
    risk: Annotated[str, typer.Option()] = "medium",
    every: Annotated[int | None, typer.Option(help="visit every N days")] = None,
) -> None:
    """建立特殊人群档案 / open a case."""
    case_id = _call(
        lambda svc: special.open_case(
            svc,
            person_id=person_id,
            estate=estate,
            category=category,
            officer=officer,
            risk_level=risk,
            visit_every_days=every,
            actor=_actor(),
        )
    )
    console.print(f"special_case:{case_id}")


@special_app.command("list")
def special_list(
    estate: Annotated[str | None, typer.Option()] = None,
    overdue: Annotated[bool, typer.Option(help="only cases overdue on their visit plan")] = False,
) -> None:
    """列出档案（审计）/ list cases (audited)."""
    rows = _call(lambda svc: special.list_cases(svc, None, actor=_actor(), estate=estate, overdue=overdue))
    table = Table("id", "estate", "category", "person", "risk", "next visit", "status")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["estate"],
            r["category"]["zh"] or "",
            str(r["person"].get("name") or r["person"]["id"]),
            r["risk_level"]["zh"] or "",
            r["next_visit_on"] + (" !" if r["overdue"] else ""),
            r["status"],
        )
    console.print(table)


@special_app.command("show")
def special_show(case_id: int) -> None:
    """查看档案（审计）/ show one case (audited)."""
    _json(_call(lambda svc: special.case_view(svc, case_id, None, actor=_actor())))


@special_app.command("visit")
def special_visit(
    case_id: int,
    at: Annotated[str, typer.Option(help="ISO 8601 with offset")],
    method: Annotated[str, typer.Option()] = "home",
    risk: Annotated[str, typer.Option()] = "medium",
    finding: Annotated[str | None, typer.Option()] = None,
) -> None:
    """记录走访 / record a visit."""
    pk = _call(
        lambda svc: special.record_visit(
            svc, case_id, visited_at=at, method=method, risk_level=risk, finding=finding, actor=_actor()
        )
    )
    console.print(f"special_visit:{pk}")


@special_app.command("dispose")
def special_dispose(
    case_id: int,
    at: Annotated[str, typer.Option()],
    kind: Annotated[str, typer.Option()],
    action: Annotated[str, typer.Option()],
    outcome: Annotated[str | None, typer.Option()] = None,
) -> None:
    """记录应急处置 / record an emergency disposal."""
    pk = _call(
        lambda svc: special.record_disposal(
            svc, case_id, occurred_at=at, kind=kind, action=action, outcome=outcome, actor=_actor()
        )
    )
    console.print(f"special_disposal:{pk}")


# ---- abnormal events ---------------------------------------------------------------------------------------
@events_app.command("add")
def events_add(
    estate: str,
    type: str,
    at: Annotated[str, typer.Option()],
    place: Annotated[str, typer.Option()],
    summary: Annotated[str, typer.Option()],
    injured: Annotated[int, typer.Option()] = 0,
    dead: Annotated[int, typer.Option()] = 0,
) -> None:
    """登记异常事件 / record an abnormal event."""
    event_id = _call(
        lambda svc: events.record_event(
            svc,
            estate=estate,
            type=type,
            occurred_at=at,
            place=place,
            summary=summary,
            injured=injured,
            dead=dead,
            actor=_actor(),
        )
    )
    console.print(f"abnormal_event:{event_id}")


@events_app.command("list")
def events_list(estate: Annotated[str | None, typer.Option()] = None) -> None:
    """列出异常事件 / list abnormal events."""
    rows = _call(lambda svc: events.list_events(svc, None, estate=estate))
    table = Table("id", "estate", "type", "occurred", "status", "upload")
    for r in rows:
        upload = r["upload"]["result"]["key"] if r["upload"]["result"] else ""
        table.add_row(
            str(r["id"]), r["estate"], r["type"]["zh"] or "", r["occurred_at"], r["status"]["key"], upload
        )
    console.print(table)


@events_app.command("handle")
def events_handle(event_id: int, action: str, status: Annotated[str, typer.Option()] = "handling") -> None:
    """记录处置 / record a handling step."""
    _call(lambda svc: events.handle(svc, event_id, action=action, status=status, actor=_actor()))


@events_app.command("uploaded")
def events_uploaded(
    event_id: int, result: str, reference: Annotated[str | None, typer.Option()] = None
) -> None:
    """记录上传上级平台结果 / record the upload's result."""
    _call(lambda svc: events.record_upload(svc, event_id, result=result, reference=reference, actor=_actor()))


# ---- public health -----------------------------------------------------------------------------------------
@health_app.command("list")
def health_list(region: Annotated[str | None, typer.Option()] = None) -> None:
    """列出公共卫生事件 / list public health events."""
    _json(_call(lambda svc: health.list_events(svc, None, region=region)))


@health_app.command("show")
def health_show(event_id: int) -> None:
    """查看事件（人员信息脱敏）/ show one event (masked)."""
    _json(_call(lambda svc: health.event_view(svc, event_id, None)))


@health_app.command("export")
def health_export(
    fmt: Annotated[str, typer.Option("--format")] = "ndjson",
    region: Annotated[str | None, typer.Option()] = None,
) -> None:
    """导出至上级平台（审计）/ export for the upper platform (audited), to stdout."""
    chunks = _call(lambda svc: list(health.export(svc, None, fmt=fmt, actor=_actor(), region=region)))
    for chunk in chunks:
        sys.stdout.buffer.write(chunk)


# ---- education -------------------------------------------------------------------------------------------------
@education_app.command("trainings")
def education_trainings(audience: Annotated[str | None, typer.Option()] = None) -> None:
    """列出培训 / list trainings."""
    rows = _call(lambda svc: education.list_trainings(svc, None, audience=audience))
    table = Table("id", "region", "audience", "title", "held", "attended")
    for r in rows:
        table.add_row(
            str(r["id"]), r["region"], r["audience"]["zh"] or "", r["title"], r["held_at"], str(r["attended"])
        )
    console.print(table)


@education_app.command("materials")
def education_materials(group: Annotated[str | None, typer.Option()] = None) -> None:
    """列出教育材料 / list materials."""
    rows = _call(lambda svc: education.list_materials(svc, None, group=group))
    table = Table("id", "region", "title", "version", "updated", "published")
    for r in rows:
        table.add_row(
            str(r["id"]), r["region"], r["title"], str(r["version"]), r["updated_at"], str(r["published"])
        )
    console.print(table)


# ---- archives --------------------------------------------------------------------------------------------------
@affairs_app.command("archive")
def archive(
    region: Annotated[str | None, typer.Option(help="community or estate; default everywhere")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="archive kind, repeatable")] = None,
    start: Annotated[str | None, typer.Option(help="from date YYYY-MM-DD (local)")] = None,
    end: Annotated[str | None, typer.Option(help="before date YYYY-MM-DD (local)")] = None,
    q: Annotated[str | None, typer.Option(help="words of the title")] = None,
) -> None:
    """检索电子档案 / search the electronic archive."""

    def run(svc: Any) -> list[archives.Entry]:
        tz = svc.settings.timezone
        bounds = [
            None if v is None else instant(name, _local_midnight(v, tz))
            for name, v in (("start", start), ("end", end))
        ]
        regions = None if region is None else svc.regions.descendants([region])
        return archives.search(svc, regions, kinds=kind, start=bounds[0], end=bounds[1], words=q)

    rows = _call(run)
    table = Table("ref", "kind", "region", "at", "title")
    for e in rows:
        j = e.to_json()
        table.add_row(j["ref"], j["kind"]["zh"] or "", j["region"], j["at"], j["title"][:40])
    console.print(table)


def _local_midnight(value: str, tz: Any) -> Any:
    from datetime import datetime, time

    from anju.affairs.catalog import AffairsError

    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise AffairsError.bad("date", value, "日期 YYYY-MM-DD", "a date YYYY-MM-DD") from None
    return datetime.combine(day, time(0), tz)
