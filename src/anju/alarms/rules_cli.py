"""`anju rules` (list, show, check an override file) and `anju watchlist` (add, list, remove)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from anju.alarms.rules import WATCH_KINDS, RuleError, describe, load_for, load_rules
from anju.alarms.tables import SEVERITIES
from anju.alarms.watchlists import WatchlistRefused
from anju.config import Settings
from anju.security.admin_cli import AdminError, actor
from anju.services import Services, open_services
from anju.standard.dictionaries import load_dictionaries

rules_app = typer.Typer(
    help="Alarm rules: list, show, check an override file · 告警规则", no_args_is_help=True
)
watchlist_app = typer.Typer(
    help="Watchlists of plates and certificate numbers (stored as blind indexes) · 布控名单",
    no_args_is_help=True,
)

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 240)


def _services() -> Services:
    return open_services(Settings.from_env())


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _rules(settings: Settings) -> Any:
    try:
        return load_for(settings.data_dir, load_dictionaries(settings.dictionaries_dir), settings.timezone)
    except RuleError as exc:
        raise AdminError(str(exc)) from None


# ---- rules -----------------------------------------------------------------------------------------------
@rules_app.command("list")
def rules_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every enabled rule (shipped and the deployment's), with its alarm type and severity."""
    rules = _rules(Settings.from_env())
    if as_json:
        _print_json([describe(r, rules.types) for r in rules.rules])
        return
    table = Table("规则 rule", "类型 type", "级别 severity", "依据 on", "来源 from")
    for r in rules.rules:
        t = rules.types[r.type]
        on = r.record_type or f"silence {r.silence.subject if r.silence else ''}"
        table.add_row(escape(r.name), f"{t.zh} {r.type}", r.severity, on, escape(r.origin))
    out.print(table)
    if rules.disabled:
        out.print(f"disabled · 已停用: {', '.join(rules.disabled)}", markup=False, highlight=False)


@rules_app.command("show")
def rules_show(name: Annotated[str, typer.Argument(help="rule name")]) -> None:
    """One rule: where in the seeds it comes from, its conditions, timing and originator."""
    rules = _rules(Settings.from_env())
    rule = rules.get(name)
    if rule is None:
        known = ", ".join(r.name for r in rules.rules)
        raise AdminError(f"no enabled rule {name!r}; rules: {known} · 没有名为 {name!r} 的启用规则")
    _print_json(describe(rule, rules.types))


@rules_app.command("check")
def rules_check(path: Annotated[Path, typer.Argument(help="a deployment rules file (rules.yaml)")]) -> None:
    """Validate an override file against the shipped rules, the data standard and the dictionaries."""
    if not path.is_file():
        raise AdminError(f"{path}: no such file · 文件不存在")
    settings = Settings.from_env()
    try:
        rules = load_rules(
            path, dictionaries=load_dictionaries(settings.dictionaries_dir), timezone=settings.timezone
        )
    except RuleError as exc:
        raise AdminError(str(exc)) from None
    mine = [r.name for r in rules.rules if r.origin == str(path)]
    out.print(
        f"{path}: ok · 有效 — {len(rules.rules)} rules in force, {len(mine)} from this file"
        + (f", {len(rules.disabled)} switched off ({', '.join(rules.disabled)})" if rules.disabled else ""),
        markup=False,
        highlight=False,
    )


# ---- watchlists --------------------------------------------------------------------------------------------
def _refused(exc: WatchlistRefused) -> AdminError:
    return AdminError(f"{exc.en} · {exc.zh}")


@watchlist_app.command("add")
def watchlist_add(
    kind: Annotated[str, typer.Option("--kind", help=" | ".join(WATCH_KINDS))],
    value: Annotated[
        str,
        typer.Option("--value", help="the plate or ID number; - reads it from standard input (not history)"),
    ],
    label: Annotated[str, typer.Option("--label", help="why it is watched · 布控原因")],
    severity: Annotated[str, typer.Option("--severity", help=" | ".join(SEVERITIES))] = "major",
    estate: Annotated[
        str | None, typer.Option("--estate", help="only in this estate (default: everywhere)")
    ] = None,
    expires: Annotated[
        datetime | None,
        typer.Option(
            "--expires", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"], help="YYYY-MM-DD[THH:MM], local time"
        ),
    ] = None,
) -> None:
    """Watch a plate or certificate number; only its blind index and masked form are stored."""
    if value == "-":
        value = sys.stdin.readline().strip()
    svc = _services()
    try:
        expires_at = expires.replace(tzinfo=svc.settings.timezone).astimezone(UTC) if expires else None
        entry, change = svc.engine.watchlists.add(
            kind, value, label=label, actor=actor(), severity=severity, estate=estate, expires_at=expires_at
        )
    except WatchlistRefused as exc:
        raise _refused(exc) from None
    finally:
        svc.close()
    zh = {"created": "已布控", "updated": "已更新", "unchanged": "无变化"}[change]
    out.print(f"{entry.pk}: {entry.kind} {entry.masked} {change} · {zh}", markup=False, highlight=False)


@watchlist_app.command("list")
def watchlist_list(
    kind: Annotated[str | None, typer.Option("--kind", help=" | ".join(WATCH_KINDS))] = None,
    estate: Annotated[str | None, typer.Option("--estate")] = None,
    include_expired: Annotated[bool, typer.Option("--all", help="include expired entries")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Watchlist entries, masked."""
    svc = _services()
    try:
        entries = svc.engine.watchlists.entries(kind=kind, estate=estate, include_expired=include_expired)
    finally:
        svc.close()
    if as_json:
        _print_json([e.to_json() for e in entries])
        return
    table = Table("#", "类型 kind", "值 value", "原因 label", "级别 severity", "小区 estate", "到期 expires")
    for e in entries:
        table.add_row(
            str(e.pk),
            e.kind,
            escape(e.masked),
            escape(e.label),
            e.severity,
            e.estate or "—",
            e.expires_at.strftime("%Y-%m-%d %H:%M UTC") if e.expires_at else "—",
        )
    out.print(table)


@watchlist_app.command("remove")
def watchlist_remove(pk: Annotated[int, typer.Argument(help="entry number (from list)")]) -> None:
    """Stop watching an entry (audited)."""
    svc = _services()
    try:
        entry = svc.engine.watchlists.remove(pk, actor=actor())
    except WatchlistRefused as exc:
        raise _refused(exc) from None
    finally:
        svc.close()
    out.print(f"{entry.pk}: {entry.kind} {entry.masked} removed · 已撤控", markup=False, highlight=False)
