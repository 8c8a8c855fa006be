"""`anju registry`: rebuild the registry from stored records, show an estate's registry, manage devices."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy import distinct, func, select

from anju.config import Settings
from anju.ingest.pipeline import check_estate
from anju.registry import catalog
from anju.registry.devices import DeviceRefused
from anju.security.admin_cli import AdminError, actor
from anju.services import Services, open_services

registry_app = typer.Typer(
    help="The registry (一标三实): places, people and devices · 一标三实登记", no_args_is_help=True
)
devices_app = typer.Typer(help="Devices of every subsystem · 设备登记", no_args_is_help=True)
registry_app.add_typer(devices_app, name="devices")

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, soft_wrap=True)


def _services() -> Services:
    return open_services(Settings.from_env())


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def estate_summary(svc: Services, estate: str) -> dict[str, Any] | None:
    """Counts of an estate's registry; None when the registry knows nothing of the estate."""
    db = svc.db
    building, unit, house = db.table("building"), db.table("unit"), db.table("house")
    residence, device, estate_t = db.table("residence"), db.table("device"), db.table("estate")

    with db.engine.connect() as conn:

        def count(table: Any, *where: Any, what: Any = None) -> int:
            query = select(func.count(what) if what is not None else func.count()).select_from(table)
            return int(conn.execute(query.where(*where)).scalar_one())

        name = conn.execute(select(estate_t.c.name).where(estate_t.c.code == estate)).scalar()
        residences: dict[str, dict[str, int]] = {}
        for category, status, n in conn.execute(
            select(residence.c.category, residence.c.status, func.count())
            .where(residence.c.estate == estate)
            .group_by(residence.c.category, residence.c.status)
        ):
            residences.setdefault(str(category), {})[str(status)] = int(n)
        devices: dict[str, int] = {}
        for status, n in conn.execute(
            select(device.c.status, func.count()).where(device.c.estate == estate).group_by(device.c.status)
        ):
            devices[str(status)] = int(n)
        summary = {
            "estate": estate,
            "name": name,
            "buildings": count(building, building.c.estate == estate),
            "units": count(unit, unit.c.estate == estate),
            "houses": count(house, house.c.estate == estate),
            "people": count(residence, residence.c.estate == estate, what=distinct(residence.c.person_id)),
            "residences": residences,
            "devices": devices,
        }
    if name is None and not any((summary["buildings"], summary["houses"], residences, devices)):
        return None
    return summary


@registry_app.command("rebuild")
def registry_rebuild(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Project every stored building, resident and population record into the registry again.

    Safe at any time: rows already up to date stay untouched. Run it after a failure left the registry
    behind the records (the projection of a batch is best-effort after the batch is stored)."""
    svc = _services()
    try:
        total = svc.projection.count_records()
        with Progress(
            TextColumn("重新投影 re-projecting"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as progress:
            task = progress.add_task("rebuild", total=total)
            report = svc.projection.rebuild(progress=lambda n: progress.advance(task, n), actor=actor())
    finally:
        svc.close()
    if as_json:
        _print_json(report.to_json())
        return
    changed = sum(report.changed(t) for t in report.tables)
    out.print(
        f"re-projected {report.records:,} records · 重新投影 {report.records:,} 条; "
        f"{changed:,} rows created or updated · 新建或更新 {changed:,} 行"
        + (f"; {report.skipped:,} skipped · 跳过 {report.skipped:,} 条" if report.skipped else "")
    )
    table = Table("table 表", "created 新建", "updated 更新", "unchanged 未变", "stale 过时")
    for name, counts in sorted(report.tables.items()):
        table.add_row(name, *(f"{counts.get(k, 0):,}" for k in ("created", "updated", "unchanged", "stale")))
    out.print(table)


@registry_app.command("show")
def registry_show(
    estate: Annotated[str, typer.Option("--estate", help="estate code (XQ_BM)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """An estate's registry: buildings, units, houses, people, residences by category and status, devices."""
    check_estate(estate)
    svc = _services()
    try:
        summary = estate_summary(svc, estate)
    finally:
        svc.close()
    if summary is None:
        raise AdminError(f"estate {estate!r} is not in the registry · 登记中没有小区 {estate!r}")
    if as_json:
        _print_json(summary)
        return
    out.print(f"小区 estate [bold]{estate}[/bold] {summary['name'] or ''}")
    counts = Table("楼栋 buildings", "单元 units", "房屋 houses", "人口 people")
    counts.add_row(*(f"{summary[k]:,}" for k in ("buildings", "units", "houses", "people")))
    out.print(counts)
    categories = catalog.residence_categories()
    statuses = sorted({s for by_status in summary["residences"].values() for s in by_status})
    residences = Table("居住类别 category", *statuses)
    for category, by_status in sorted(summary["residences"].items()):
        label = f"{categories.get(category, {}).get('zh', '')} {category}".strip()
        residences.add_row(label, *(f"{by_status.get(s, 0):,}" for s in statuses))
    out.print(residences)
    device_line = ", ".join(f"{s} {n:,}" for s, n in sorted(summary["devices"].items())) or "0"
    out.print(f"设备 devices: {device_line}")


def _refused(exc: DeviceRefused) -> AdminError:
    return AdminError(f"{exc.en} · {exc.zh}")


@devices_app.command("add")
def devices_add(
    device_id: Annotated[str, typer.Argument(help="the device number records carry (SB_BH etc.)")],
    estate: Annotated[str, typer.Option("--estate")],
    kind: Annotated[str, typer.Option("--kind", help=" | ".join(catalog.device_kinds()))],
    name: Annotated[str | None, typer.Option("--name")] = None,
    model: Annotated[str | None, typer.Option("--model")] = None,
    vendor: Annotated[str | None, typer.Option("--vendor")] = None,
    location: Annotated[str | None, typer.Option("--location")] = None,
    building: Annotated[str | None, typer.Option("--building", help="building ID")] = None,
    lon: Annotated[float | None, typer.Option("--lon")] = None,
    lat: Annotated[float | None, typer.Option("--lat")] = None,
    installed_on: Annotated[
        datetime | None, typer.Option("--installed-on", formats=["%Y-%m-%d"], help="YYYY-MM-DD")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help=" | ".join(catalog.device_statuses()))
    ] = None,
) -> None:
    """Register a device, or update a registered one with the options given."""
    svc = _services()
    try:
        change = svc.devices.register(
            device_id,
            estate=estate,
            kind=kind,
            actor=actor(),
            name=name,
            model=model,
            vendor=vendor,
            location=location,
            building_id=building,
            lon=lon,
            lat=lat,
            installed_on=installed_on.date() if installed_on else None,
            status=status,
        )
    except DeviceRefused as exc:
        raise _refused(exc) from None
    finally:
        svc.close()
    zh = {"created": "已登记", "updated": "已更新", "unchanged": "无变化"}[change]
    out.print(f"{device_id}: {change} · {zh}", markup=False, highlight=False)


@devices_app.command("list")
def devices_list(
    estate: Annotated[str, typer.Option("--estate")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The devices of an estate, with when each last reported."""
    check_estate(estate)
    svc = _services()
    try:
        devices = svc.devices.list_estate(estate)
    finally:
        svc.close()
    if as_json:
        _print_json([d.to_json() for d in devices])
        return
    kinds = catalog.device_kinds()
    table = Table(
        "设备 device", "类型 kind", "子系统 subsystem", "位置 location", "状态 status", "最近上报 last seen"
    )
    for d in devices:
        seen = d.last_seen_at.strftime("%Y-%m-%d %H:%M:%S UTC") if d.last_seen_at else "—"
        table.add_row(
            escape(d.id),
            f"{kinds.get(d.kind, {}).get('zh', '')} {d.kind}",
            d.subsystem,
            escape(d.location or ""),
            d.status,
            seen,
        )
    out.print(table)
