"""`anju alarms`: list, show, acknowledge and close alarms, and run escalation once (for cron)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from anju.alarms.store import AlarmNotFound, AlarmRefused
from anju.config import Settings
from anju.ingest.pipeline import ESTATE_CODE
from anju.security.admin_cli import AdminError, actor
from anju.services import Services, open_services

alarms_app = typer.Typer(help="Alarms: list, show, acknowledge, close, escalate · 告警", no_args_is_help=True)

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 240)
MAX_ID = 2**31 - 1


def _services() -> Services:
    return open_services(Settings.from_env())


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _fail(exc: AlarmRefused | AlarmNotFound) -> AdminError:
    if isinstance(exc, AlarmNotFound):
        return AdminError(f"no alarm {exc.alarm_id} · 没有告警 {exc.alarm_id}")
    return AdminError(f"{exc.en} · {exc.zh}")


def _check_id(alarm_id: int) -> int:
    if not 1 <= alarm_id <= MAX_ID:
        raise AdminError(f"alarm ID {alarm_id}: expected 1-{MAX_ID} · 告警编号应为 1-{MAX_ID}")
    return alarm_id


@alarms_app.command("list")
def alarms_list(
    estate: Annotated[str | None, typer.Option("--estate", help="estate code (XQ_BM)")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="open alarms only · 仅未关闭")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 200,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Alarms, newest activity first."""
    if estate is not None and not ESTATE_CODE.match(estate):
        raise AdminError(f"--estate {estate!r}: expected 1-40 letters, digits, _ or - · 小区编码格式不对")
    svc = _services()
    try:
        total, alarms = svc.alarms.list(
            frozenset({estate}) if estate else None, is_open=True if open_only else None, limit=limit
        )
        shown = [svc.alarms.json(a) for a in alarms]
    finally:
        svc.close()
    if as_json:
        _print_json({"total": total, "alarms": shown})
        return
    table = Table(
        "ID",
        "severity 级别",
        "type 类型",
        "status 状态",
        "ack 确认",
        "estate 小区",
        "count 次数",
        "last seen 最近",
    )
    for a in shown:
        table.add_row(
            str(a["id"]),
            a["severity"],
            escape(a["type"]),
            a["status"],
            escape(a["acknowledged_by"] or "—"),
            escape(a["estate"] or "—"),
            str(a["count"]),
            a["last_seen_at"],
        )
    out.print(table)
    out.print(f"{len(shown)} of {total} alarms · 共 {total} 条，显示 {len(shown)} 条")


@alarms_app.command("show")
def alarms_show(alarm_id: int, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One alarm with its history."""
    svc = _services()
    try:
        alarm = svc.alarms.get(_check_id(alarm_id), events=True)
        if alarm is None:
            raise AdminError(f"no alarm {alarm_id} · 没有告警 {alarm_id}")
        data = svc.alarms.json(alarm)
    finally:
        svc.close()
    if as_json:
        _print_json(data)
        return
    out.print(
        f"[bold]#{data['id']}[/bold] {escape(data['title_zh'])} · {escape(data['title_en'])} — "
        f"{data['severity']}, {data['status']}, "
        + ("acknowledged 已确认" if data["acknowledged"] else "unacknowledged 未确认")
    )
    origin = data["originator"]
    out.print(
        f"originator 来源: {escape(origin['kind'])}:{escape(origin['id'])} · estate 小区: "
        f"{escape(data['estate'] or '—')} · count 次数: {data['count']} · "
        f"escalation level 升级级别: {data['escalation']['level']}"
    )
    if data["sla"]:
        sla = data["sla"]
        out.print(f"SLA 响应时限: due {sla['due_at']}, met {sla['met']}, breached {sla['breached']}")
    table = Table("at 时间", "actor 操作人", "action 动作", "detail 详情")
    for e in data.get("events", []):
        table.add_row(
            e["at"], escape(e["actor"]), e["action"], escape(json.dumps(e["detail"], ensure_ascii=False))
        )
    out.print(table)


@alarms_app.command("ack")
def alarms_ack(alarm_id: int) -> None:
    """Acknowledge an alarm (audited): escalation and reminders stop."""
    svc = _services()
    try:
        alarm = svc.alarms.acknowledge(_check_id(alarm_id), actor=actor())
    except (AlarmRefused, AlarmNotFound) as exc:
        raise _fail(exc) from None
    finally:
        svc.close()
    out.print(f"acknowledged alarm {alarm.id} · 已确认告警 {alarm.id}")


@alarms_app.command("close")
def alarms_close(
    alarm_id: int, result: Annotated[str, typer.Option("--result", help="the outcome · 处置结果")]
) -> None:
    """Close an alarm with its result (audited)."""
    svc = _services()
    try:
        alarm = svc.alarms.close(_check_id(alarm_id), result, actor=actor())
    except (AlarmRefused, AlarmNotFound) as exc:
        raise _fail(exc) from None
    finally:
        svc.close()
    out.print(f"closed alarm {alarm.id} · 已关闭告警 {alarm.id}")


@alarms_app.command("escalate")
def alarms_escalate(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Escalate or remind every unacknowledged alarm that is due, once (run it every minute from cron).

    Notifications of the steps go out through the notifier where the platform runs it; this command
    records the steps (history, audit, severity, level) and prints them."""
    svc = _services()
    try:
        steps = svc.alarms.escalate_due()
    finally:
        svc.close()
    if as_json:
        _print_json([s.to_json() for s in steps])
        return
    for s in steps:
        verb = "escalated 已升级" if s.action == "escalated" else "reminded 已提醒"
        out.print(
            f"alarm {s.alarm_id}: {verb} → level {s.level} {escape(s.duty.zh)} · {escape(s.duty.en)} "
            f"({s.previous_severity} → {s.severity})"
        )
    out.print(f"{len(steps)} due · 到期 {len(steps)} 条")
