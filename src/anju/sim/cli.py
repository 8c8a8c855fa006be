"""`anju sim generate` and `anju sim run`: the synthetic community and its event stream."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from anju.sim.generate import MAX_ESTATES, MAX_HOUSEHOLDS, SizeInvalid, generate
from anju.sim.incidents import ScheduleInvalid, offset, schedules
from anju.sim.plan import Community

sim_app = typer.Typer(
    help="模拟社区 · the simulated community: generate it, run its event stream", no_args_is_help=True
)
out = Console()

Estates = Annotated[int, typer.Option("--estates", help=f"小区数 estates (1-{MAX_ESTATES})")]
Households = Annotated[int, typer.Option("--households", help=f"总户数 houses in all (≤{MAX_HOUSEHOLDS})")]
Seed = Annotated[int, typer.Option("--seed", help="随机种子 · the same seed gives the same community")]


class TargetKind(StrEnum):
    inproc = "inproc"
    http = "http"
    mqtt = "mqtt"


def community(estates: int, households: int, seed: int) -> Community:
    try:
        return generate(estates=estates, households=households, seed=seed)
    except SizeInvalid as exc:
        raise typer.BadParameter(f"{exc.value}：{exc.expected}", param_hint=exc.option) from None


def duration_option(text: str) -> timedelta:
    try:
        value = offset(text)
    except ScheduleInvalid:
        raise typer.BadParameter(
            f"{text!r}：应为数字加 s/m/h/d，如 30m、2h、1d · expected a number and s, m, h or d (30m, 2h, 1d)",
            param_hint="--duration",
        ) from None
    if value <= timedelta(0):
        raise typer.BadParameter(f"{text!r}：应大于 0 · expected more than zero", param_hint="--duration")
    return value


@sim_app.command("generate")
def generate_command(
    estates: Estates = 2,
    households: Households = 120,
    seed: Seed = 1,
) -> None:
    """生成模拟社区并经数据管道录入 · generate a community and enter it through the pipeline."""
    from anju.services import open_services
    from anju.sim.load import install

    plan = community(estates, households, seed)
    svc = open_services()
    try:
        report = install(svc, plan)
    finally:
        svc.close()
    out.print(
        f"模拟社区 simulated community [bold]{plan.community.name}[/bold] ({plan.community.code}) · "
        f"{len(plan.estates)} 个小区 estates · {len(plan.houses())} 户 houses · {len(plan.people)} 人 people · "
        f"{len(plan.vehicles)} 辆车 vehicles · {len(plan.devices())} 台设备 devices"
    )
    for slug, n in report.stored.items():
        out.print(
            f"  {slug:<24} 入库 stored {n:>5} · 重复 duplicates {report.duplicates[slug]:>5} · "
            f"隔离 quarantined {report.quarantined[slug]:>3}"
        )
    out.print(f"  小区 estates: {', '.join(f'{e.code} {e.name}' for e in plan.estates)}")
    out.print(f"  规划文件 plan (shelters, supplies): {report.plan_file}")


@sim_app.command("run")
def run_command(
    rate: Annotated[
        float, typer.Option(help="平均每模拟分钟记录数 · mean records per simulated minute")
    ] = 20.0,
    duration: Annotated[str, typer.Option(help="模拟时长 · simulated duration: 30m, 2h, 1d")] = "1d",
    target: Annotated[TargetKind, typer.Option(help="inproc | http | mqtt")] = TargetKind.inproc,
    speed: Annotated[float, typer.Option(help="时间压缩倍数 · simulated seconds per real second")] = 1.0,
    schedule: Annotated[
        str, typer.Option(help="事件计划 · incident schedule (data/incidents.yaml)")
    ] = "default",
    estates: Estates = 2,
    households: Households = 120,
    seed: Seed = 1,
    url: Annotated[str, typer.Option(help="http: the platform's address")] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None, typer.Option(help="http: bearer token (or $ANJU_SIM_TOKEN)", envvar="ANJU_SIM_TOKEN")
    ] = None,
    mqtt_host: Annotated[str, typer.Option(help="mqtt: broker host")] = "127.0.0.1",
    mqtt_port: Annotated[int, typer.Option(min=1, max=65535, help="mqtt: broker port")] = 1883,
) -> None:
    """运行事件流 · run the community's event stream (the community of the same --seed/--estates/--households)."""
    if not rate > 0 or rate > 100_000:
        raise typer.BadParameter(
            f"{rate}：应在 0-100000 之间 · expected more than 0, at most 100000", param_hint="--rate"
        )
    if not 0 < speed <= 100_000:
        raise typer.BadParameter(
            f"{speed}：应在 0-100000 之间 · expected more than 0, at most 100000", param_hint="--speed"
        )
    if schedule not in schedules():
        raise typer.BadParameter(f"{schedule!r}：应为 {', '.join(schedules())} 之一", param_hint="--schedule")
    if target is TargetKind.http and not token:
        raise typer.BadParameter("http 需要令牌 · --target http needs a bearer token", param_hint="--token")
    length = duration_option(duration)
    plan = community(estates, households, seed)
    run_stream(
        plan,
        target,
        rate=rate,
        duration=length,
        speed=speed,
        schedule=schedule,
        url=url,
        token=token,
        mqtt=(mqtt_host, mqtt_port),
    )


def run_stream(
    plan: Community,
    kind: TargetKind,
    *,
    rate: float,
    duration: timedelta,
    speed: float,
    schedule: str,
    url: str,
    token: str | None,
    mqtt: tuple[str, int],
    ends_at: datetime | None = None,
) -> None:
    """`ends_at`: the simulated time the run ends at (default now), e.g. an afternoon for a run whose
    volume must not depend on the hour it happens to be started at (the streams follow the day)."""
    from anju.sim.runner import SimClock, run, start_for
    from anju.sim.streams import EventStream
    from anju.sim.targets import HttpTarget, InprocTarget, MqttTarget, Target

    start = start_for(duration, speed, ends_at or datetime.now(UTC))
    stream = EventStream(plan, start=start, duration=duration, rate=rate, schedule=schedule)
    # In process the platform runs on simulated time, so silence timers follow --speed. A remote
    # platform (http, mqtt) keeps its own clock: only its records' times are simulated.
    clock: SimClock | None = None
    stop = threading.Event()
    svc = None
    runtime = None
    chosen: Target
    if kind is TargetKind.inproc:
        from anju.alarms.runtime import AlarmRuntime
        from anju.services import open_services
        from anju.sim.load import install

        clock = SimClock(start, speed)
        svc = open_services(clock=clock)
        install(svc, plan)
        chosen = InprocTarget(svc)
        # A tick at least every simulated minute where the machine allows (not under 0.25 s of real time).
        runtime = AlarmRuntime(svc, interval=min(2.0, max(0.25, 60 / speed))).start()
    elif kind is TargetKind.http:
        chosen = HttpTarget(url, token or "")
    else:
        try:
            chosen = MqttTarget(*mqtt, client_id=f"anju-sim-{os.getpid()}")
        except OSError as exc:
            raise typer.BadParameter(
                f"{mqtt[0]}:{mqtt[1]}：无法连接 · cannot connect ({exc})", param_hint="--mqtt-host"
            ) from None
    out.print(
        f"事件流 event stream → {kind.value} · {duration} 模拟时间 simulated at ×{speed:g} · "
        f"{rate:g} 条/模拟分钟 records per simulated minute · Ctrl-C 停止 stops"
    )
    try:
        run(stream, chosen, start=start, speed=speed, stop=stop, clock=clock)
    except KeyboardInterrupt:
        stop.set()
    finally:
        chosen.close()
        if runtime is not None:
            runtime.stop()
        if svc is not None:
            svc.close()
    d = chosen.delivered
    out.print(
        f"记录 records {d.records} · 心跳 heartbeats {d.heartbeats} · 隔离 quarantined {d.rejected} · "
        f"未发送 skipped {d.skipped}"
    )
