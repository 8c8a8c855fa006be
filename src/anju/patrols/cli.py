"""`anju patrols`: the command line of the patrols module.

The same functions as the HTTP API (patrols/plans.py, matching.py), audited the same way, acting as
`cli:<os user>` over the whole platform. A check-in from here is a `patrol_record` through the pipeline like
any device's; `check` judges the shifts whose window has ended, as the alarm clock does. Routes come from a
YAML file (docs/notices-patrols.md); every refusal is one `error:` line with exit code 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from anju.notices.cli import (
    JsonOpt,
    checked_keys,
    fail,
    out,
    print_json,
    read_yaml,
    services,
    yaml_mapping,
)
from anju.patrols import matching, plans
from anju.security.admin_cli import actor

patrols_app = typer.Typer(help="电子巡更 / patrols: routes, checkpoints, check-ins", no_args_is_help=True)
checkpoints_app = typer.Typer(help="巡更点 / checkpoints", no_args_is_help=True)
routes_app = typer.Typer(help="巡更路线 / routes", no_args_is_help=True)
shifts_app = typer.Typer(help="巡更班次 / shifts", no_args_is_help=True)
patrols_app.add_typer(checkpoints_app, name="checkpoints")
patrols_app.add_typer(routes_app, name="routes")
patrols_app.add_typer(shifts_app, name="shifts")

EstateOpt = Annotated[str | None, typer.Option(help="one estate; default every estate")]


def _estates(estate: str | None) -> frozenset[str] | None:
    return None if estate is None else frozenset({estate})


# ---- checkpoints ------------------------------------------------------------------------------------------
@checkpoints_app.command("list")
def checkpoints_list(estate: EstateOpt = None, as_json: JsonOpt = False) -> None:
    """Registered checkpoints."""
    with services() as svc:
        found = plans.list_checkpoints(svc, _estates(estate))
    if as_json:
        print_json(found)
        return
    table = Table(
        "ID", "小区 estate", "编码 code", "名称 name", "设备 device", "二维码 QR", "经纬度 lon, lat"
    )
    for c in found:
        table.add_row(
            str(c["id"]),
            c["estate"],
            c["code"],
            escape(c["name"]),
            c["device_id"] or "—",
            c["qr_code"] or "—",
            f"{c['lon']:.6f}, {c['lat']:.6f}",
        )
    out.print(table)


@checkpoints_app.command("add")
def checkpoints_add(
    estate: Annotated[str, typer.Option(help="estate code")],
    code: Annotated[str, typer.Option(help="unique within the estate; devices send it as XG_BS")],
    name: Annotated[str, typer.Option()],
    lon: Annotated[float, typer.Option(help="WGS-84 longitude")],
    lat: Annotated[float, typer.Option(help="WGS-84 latitude")],
    device_id: Annotated[str | None, typer.Option(help="the patrol reader's device id (SBMC)")] = None,
    qr: Annotated[str | None, typer.Option("--qr", help="the QR code posted at the checkpoint")] = None,
) -> None:
    """Register a checkpoint."""
    with services() as svc:
        cp_id = plans.add_checkpoint(
            svc,
            estate=estate,
            code=code,
            name=name,
            lon=lon,
            lat=lat,
            device_id=device_id,
            qr_code=qr,
            actor=actor(),
        )
    out.print(f"checkpoint {cp_id} ({estate}/{code}) added · 已登记巡更点", markup=False, highlight=False)


# ---- routes -----------------------------------------------------------------------------------------------
_ROUTE_KEYS = {"estate", "name", "ordered", "stops", "windows"}


def _hhmm(value: Any) -> Any:
    """YAML 1.1 reads an unquoted 19:00 as the base-60 integer 1140 (minutes since midnight): back to text.
    08:30 (leading zero) stays text already."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return f"{value // 60:02d}:{value % 60:02d}"
    return value


def _windows(raw: Any) -> Any:
    if not isinstance(raw, list):
        return raw  # the module names what is wrong with it
    return [{k: _hhmm(v) for k, v in w.items()} if isinstance(w, Mapping) else w for w in raw]


def _stops(raw: Any) -> Any:
    """Stops are checkpoint codes in order; `{checkpoint: A}` entries are accepted too."""
    if not isinstance(raw, list):
        return raw
    return [s.get("checkpoint") if isinstance(s, Mapping) else s for s in raw]


@routes_app.command("list")
def routes_list(estate: EstateOpt = None, as_json: JsonOpt = False) -> None:
    """Routes with their stops in order and their planned windows."""
    with services() as svc:
        found = plans.list_routes(svc, _estates(estate))
    if as_json:
        print_json(found)
        return
    table = Table("ID", "小区 estate", "名称 name", "顺序 ordered", "巡更点 stops", "时段 windows")
    for r in found:
        table.add_row(
            str(r["id"]),
            r["estate"],
            escape(r["name"]),
            "yes 是" if r["ordered"] else "no 否",
            " → ".join(c["code"] for c in r["checkpoints"]),
            ", ".join(f"{w['start']}–{w['end']}" for w in r["windows"] or []) or "—",
        )
    out.print(table)


@routes_app.command("add")
def routes_add(
    file: Annotated[
        Path, typer.Argument(help="YAML: estate, name, stops (codes in order), windows, ordered")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Plan a route of ordered checkpoints from a file."""
    raw = yaml_mapping(read_yaml(file), str(file), "一条巡更路线 / one route")
    checked_keys(raw, _ROUTE_KEYS, str(file))
    ordered = raw.get("ordered", True)
    if not isinstance(ordered, bool):
        fail(f"{file}: ordered={ordered!r}: expected true or false · ordered 应为 true 或 false")
    with services() as svc:
        route_id = plans.create_route(
            svc,
            estate=raw.get("estate"),  # type: ignore[arg-type]  # checked by the module
            name=raw.get("name"),  # type: ignore[arg-type]
            checkpoints=_stops(raw.get("stops")),
            ordered=ordered,
            windows=_windows(raw.get("windows")),
            actor=actor(),
        )
        [route] = [r for r in plans.list_routes(svc, _estates(str(raw["estate"]))) if r["id"] == route_id]
    if as_json:
        print_json(route)
        return
    stops = " → ".join(c["code"] for c in route["checkpoints"])
    out.print(
        f"route {route_id} ({route['name']}: {stops}) added · 已规划路线", markup=False, highlight=False
    )


# ---- shifts -----------------------------------------------------------------------------------------------
def _print_status(view: Mapping[str, Any]) -> None:
    out.print(
        f"shift {view['id']}: {view['route']['name']} · {view['estate']} · {view['guard']} · "
        f"{view['starts_at']} – {view['ends_at']} · {view['status']}",
        markup=False,
        highlight=False,
    )
    missed = set(view["missed"] or [])
    table = Table("#", "编码 code", "名称 name", "签到 checked", "方式 method", "状态 state")
    for s in view["stops"]:
        if s["checked_at"] is None:
            state = "漏巡 missed" if s["code"] in missed else "—"
        else:
            state = "✓" if s["in_order"] else "顺序错误 out of order"
        table.add_row(
            str(s["seq"]),
            s["code"],
            escape(s["name"]),
            s["checked_at"] or "—",
            s["method"] or "—",
            state,
        )
    out.print(table)


@shifts_app.command("list")
def shifts_list(estate: EstateOpt = None, as_json: JsonOpt = False) -> None:
    """Shifts, latest first, with how far each got (guards' names masked)."""
    with services() as svc:
        found = plans.list_shifts(svc, _estates(estate))
    if as_json:
        print_json(found)
        return
    table = Table(
        "ID",
        "小区 estate",
        "路线 route",
        "巡更员 guard",
        "开始 starts",
        "结束 ends",
        "进度 done",
        "状态 status",
    )
    for v in found:
        done = sum(s["checked_at"] is not None for s in v["stops"])
        table.add_row(
            str(v["id"]),
            v["estate"],
            escape(v["route"]["name"]),
            v["guard"] or "—",
            v["starts_at"],
            v["ends_at"],
            f"{done}/{len(v['stops'])}",
            v["status"] + (f" (missed {', '.join(v['missed'])})" if v["missed"] else ""),
        )
    out.print(table)


@shifts_app.command("add")
def shifts_add(
    route: Annotated[int, typer.Option(help="route ID (`anju patrols routes list`)")],
    guard: Annotated[str, typer.Option(help="the guard's name (stored sealed, shown masked)")],
    start: Annotated[str, typer.Option(help="ISO 8601 with offset")],
    end: Annotated[str, typer.Option(help="ISO 8601 with offset")],
    guard_user: Annotated[str | None, typer.Option(help="the guard's platform account")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Assign a route to a guard for a window."""
    with services() as svc:
        shift_id = plans.create_shift(
            svc,
            route_id=route,
            guard_name=guard,
            starts_at=start,
            ends_at=end,
            guard_user=guard_user,
            actor=actor(),
        )
        view = plans.shift_view(svc, shift_id)
    if as_json:
        print_json(view)
        return
    out.print(f"shift {shift_id} added · 已排班", markup=False, highlight=False)


# ---- check-ins, status, the end of the window -------------------------------------------------------------
@patrols_app.command("check-in")
def check_in(
    shift: Annotated[int, typer.Argument(metavar="SHIFT", help="shift ID")],
    method: Annotated[str, typer.Option(help="qr, nfc, device or manual")],
    checkpoint: Annotated[str | None, typer.Option(help="checkpoint code")] = None,
    qr: Annotated[str | None, typer.Option("--qr", help="the checkpoint's QR code")] = None,
    at: Annotated[
        str | None, typer.Option(help="ISO 8601 with offset; default now (a late manual entry)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check in at a checkpoint of a shift's route (stored as a patrol_record, matched like a device's)."""
    with services() as svc:
        result = matching.check_in(
            svc, shift, method=method, checkpoint=checkpoint, qr_code=qr, at=at, actor=actor()
        )
    if as_json:
        print_json(result)
        return
    how = (
        "already recorded · 重复签到"
        if result["duplicate"]
        else "counted · 已签到"
        if result["counted"]
        else "stored, not counted (checked before) · 已记录，未计入"
    )
    order = (
        " · out of order, patrol_missed warning raised · 顺序错误，已告警"
        if result["in_order"] is False
        else ""
    )
    out.print(
        f"shift {shift}: {result['checkpoint']} {how}{order} ({result['record_id']})",
        markup=False,
        highlight=False,
    )


@patrols_app.command("status")
def shift_status(
    shift: Annotated[int, typer.Argument(metavar="SHIFT", help="shift ID")], as_json: JsonOpt = False
) -> None:
    """A shift's stops: checked when and how, in order or not, missed."""
    with services() as svc:
        view = plans.shift_view(svc, shift)
    if as_json:
        print_json(view)
        return
    _print_status(view)


@patrols_app.command("check")
def check(as_json: JsonOpt = False) -> None:
    """Judge every shift whose window has ended now, as the alarm clock does: missed checkpoints raise one
    patrol_missed alarm per shift, once however often this runs."""
    with services() as svc:
        result = matching.check_patrols(svc)
        alarms: list[dict[str, Any]] = []
        for shift_id, codes in result.missed.items():
            _, found = svc.alarms.list(
                type=matching.ALARM_TYPE, originator=f"patrol_shift:{shift_id}", limit=1
            )
            alarm = found[0] if found else None
            alarms.append(
                {
                    "shift": shift_id,
                    "missed": codes,
                    "alarm": None if alarm is None else alarm.id,
                    "severity": None if alarm is None else alarm.severity,
                    "title": None if alarm is None else alarm.title_zh,
                }
            )
    if as_json:
        print_json({"judged": result.judged, "alarms": alarms})
        return
    for a in alarms:
        out.print(
            f"alarm {a['alarm']} {matching.ALARM_TYPE} ({a['severity']}): shift {a['shift']} missed "
            f"{', '.join(a['missed'])} · {a['title']}",
            markup=False,
            highlight=False,
        )
    complete = [s for s in result.judged if s not in result.missed]
    if complete:
        out.print(f"complete · 巡更完成: shift {', '.join(map(str, complete))}", markup=False)
    if not result.judged:
        out.print("no shift ended since the last check · 没有待判定的班次", markup=False)
