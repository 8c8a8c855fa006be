"""`anju gateway`: run one MQTT device gateway until Ctrl-C (or SIGTERM), then drain and exit."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.logging import RichHandler
from rich.text import Text

from anju.alarms.runtime import AlarmRuntime
from anju.config import Settings
from anju.heap import settle_after_startup
from anju.ingest.mqtt_gateway import Gateway, GatewayStats, parse_url
from anju.ingest.mqtt_topics import ROOT, shared_filter
from anju.services import open_services

err = Console(stderr=True, soft_wrap=True)


def _status(stats: GatewayStats, rate: float, client_id: str) -> Text:
    colour = "green" if stats.connected else "yellow"
    text = Text(f"{client_id} ", style="bold")
    text.append(stats.line(), style=colour)
    text.append(f" · {rate:,.0f} rec/s")
    if stats.last_error:
        text.append(f" · last error: {stats.last_error}", style="red")
    return text


def gateway(
    mqtt: Annotated[
        str,
        typer.Option(
            "--mqtt",
            envvar="ANJU_MQTT_URL",
            help="broker URL: mqtt://[user:password@]HOST[:PORT] or mqtts://…",
        ),
    ],
    group: Annotated[
        str, typer.Option(help="shared-subscription group: gateways of a group share messages")
    ] = ("anju"),
    client_id: Annotated[
        str | None,
        typer.Option(
            "--client-id",
            help="MQTT client ID, stable across restarts (the session and its waiting messages belong to it); "
            "default anju-GROUP-HOSTNAME, so two gateways on one host need their own",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="records per transaction at most")] = 1000,
    batch_wait_ms: Annotated[
        int, typer.Option(min=0, help="longest wait for a batch to fill while messages keep arriving")
    ] = 50,
    queue_limit: Annotated[int, typer.Option(min=1, help="messages between network and writer")] = 10_000,
    session_expiry: Annotated[
        int, typer.Option(min=0, help="seconds the broker keeps the session while the gateway is away")
    ] = 24 * 3600,
    root: Annotated[str, typer.Option(help="topic root: ROOT/estate/record_type/device_id")] = ROOT,
    status_every: Annotated[
        float, typer.Option(min=0.2, help="seconds between status lines when not on a terminal")
    ] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the final counters as JSON")] = False,
    alarm_clock: Annotated[
        bool,
        typer.Option(
            "--alarm-clock/--no-alarm-clock",
            help="also run silence timers, escalation and notification delivery in this process",
        ),
    ] = True,
) -> None:
    """MQTT device gateway 设备网关: devices' records into the pipeline, heartbeats onto the bus.

    Subscribes to $share/GROUP/ROOT/+/+/+ (QoS 1, persistent session) and acknowledges each message only
    after its records are committed. Ctrl-C drains: what was received is stored and acknowledged."""
    try:
        # A mistyped URL or group is refused before the database is opened.
        parse_url(mqtt)
        shared_filter(group, root)
        logging.basicConfig(
            level=logging.INFO,
            format="%(message)s",
            handlers=[RichHandler(console=err, show_path=False, rich_tracebacks=False)],
            force=True,
        )
        services = open_services(Settings.from_env())
        # Rules fire in the ingesting process; this one also keeps the alarm clock (silences such as
        # "no heartbeat for 5 min", escalation, deliveries). Several gateways may: each step is claimed.
        runtime = AlarmRuntime(services) if alarm_clock else None
        gw = Gateway(
            services,
            mqtt,
            group=group,
            client_id=client_id,
            root=root,
            batch_size=batch_size,
            batch_wait_ms=batch_wait_ms,
            queue_limit=queue_limit,
            session_expiry_s=session_expiry,
        )
    except ValueError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None

    settle_after_startup()
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()
        # A second Ctrl-C ends at once: what was not acknowledged stays with the broker.
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    gw.start()
    if runtime is not None:
        runtime.start()
    last_stored, last_time = 0, time.monotonic()
    live = Live(console=err, transient=False, auto_refresh=False) if err.is_terminal else None
    try:
        if live is not None:
            live.start()
        next_line = time.monotonic() + status_every
        while not stop.wait(1.0 if live is not None else min(1.0, status_every)):
            if gw.failed:
                break
            stats = gw.stats()
            now = time.monotonic()
            rate = (stats.stored + stats.duplicates - last_stored) / max(now - last_time, 1e-6)
            last_stored, last_time = stats.stored + stats.duplicates, now
            if live is not None:
                live.update(_status(stats, rate, gw.client_id), refresh=True)
            elif now >= next_line:
                logging.getLogger("anju.gateway").info("%s · %.0f rec/s", stats.line(), rate)
                next_line = now + status_every
    finally:
        if live is not None:
            live.stop()
        err.print("draining 排空中…" if not gw.failed else f"failed: {gw.failed}", markup=False)
        final = gw.stop()
        if runtime is not None:
            runtime.stop()
        services.close()
    if as_json:
        sys.stdout.write(json.dumps(final.to_dict(), ensure_ascii=False) + "\n")
    else:
        err.print(final.line(), markup=False, highlight=False)
    if gw.failed:
        raise typer.Exit(1)
