"""The `anju` command."""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from openpyxl.utils.exceptions import InvalidFileException
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from anju.affairs.cli import affairs_app
from anju.alarms.cli import alarms_app
from anju.alarms.duty import DutyConfigError
from anju.alarms.notify import NotifyConfigError
from anju.alarms.rules_cli import rules_app, watchlist_app
from anju.config import Settings, SettingsError
from anju.emergency.cli import emergency_app
from anju.evaluation.cli import evaluate_app
from anju.heap import settle_after_startup
from anju.ingest.decode import iter_csv, iter_xlsx, open_text
from anju.ingest.gateway_cli import gateway as gateway_command
from anju.ingest.items import Item
from anju.ingest.pipeline import EstateInvalid, check_estate, without_alarm_rules
from anju.ingest.result import BatchResult
from anju.notices.cli import notices_app
from anju.patrols.cli import patrols_app
from anju.registry.cli import registry_app
from anju.registry.qr_cli import qr_app
from anju.security.admin_cli import AdminError, devices_app, keys_app, regions_app, users_app
from anju.security.admin_cli import actor as cli_actor
from anju.security.audit_cli import audit_app
from anju.security.keys import KeyFileError
from anju.security.personal import mask_raw, mask_record
from anju.services import Services, open_services
from anju.sim.cli import sim_app
from anju.standard.dictionaries import DictionaryError
from anju.standard.spec import UnknownRecordType, load_standard, record_type

app = typer.Typer(
    help="Anju 安居 — smart community safety platform", no_args_is_help=True, pretty_exceptions_enable=False
)
standard_app = typer.Typer(help="The data standard: record types and fields", no_args_is_help=True)
quarantine_app = typer.Typer(help="Rejected records: list, show, replay", no_args_is_help=True)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
app.add_typer(standard_app, name="standard")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(devices_app, name="devices")
app.add_typer(regions_app, name="regions")
app.add_typer(evaluate_app, name="evaluate")
app.add_typer(qr_app, name="qr")
app.add_typer(registry_app, name="registry")
app.command("gateway")(gateway_command)
app.add_typer(alarms_app, name="alarms")
app.add_typer(rules_app, name="rules")
app.add_typer(watchlist_app, name="watchlist")
app.add_typer(sim_app, name="sim")
app.add_typer(emergency_app, name="emergency")
app.add_typer(notices_app, name="notices")
app.add_typer(patrols_app, name="patrols")
app.add_typer(affairs_app, name="affairs")

# Piped output (scripts, grep, CI logs) must not be wrapped or folded at 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, soft_wrap=True)
MAX_ENTRY_ID = 2**31 - 1


class UsageError(Exception):
    """A mistake in what the user asked for; printed without a traceback, exit code 2."""


def _services() -> Services:
    return open_services(Settings.from_env())


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


# ---- standard ------------------------------------------------------------------------------------------
@standard_app.command("list")
def standard_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The 12 record types."""
    types = load_standard()
    if as_json:
        _print_json(
            [
                {
                    "slug": t.slug,
                    "section": t.section,
                    "title_zh": t.title_zh,
                    "title_en": t.title_en,
                    "fields": len(t.fields),
                    "required": sum(f.required for f in t.fields),
                }
                for t in types.values()
            ]
        )
        return
    table = Table(title="武汉市智慧平安小区建设数据标准 — record types")
    for col in ("type", "section", "名称", "title", "fields", "required"):
        table.add_column(col)
    for t in types.values():
        table.add_row(
            t.slug,
            t.section,
            t.title_zh,
            t.title_en,
            str(len(t.fields)),
            str(sum(f.required for f in t.fields)),
        )
    out.print(table)


@standard_app.command("show")
def standard_show(
    type_slug: Annotated[str, typer.Argument(metavar="TYPE")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every field of one record type, with the resolution of the seed's defects beside it."""
    t = record_type(type_slug)
    if as_json:
        from anju.web.api.standard import type_dict

        _print_json(type_dict(t, fields=True))
        return
    table = Table(title=f"{t.slug} — {t.title_zh} / {t.title_en} ({t.section})", show_lines=False)
    for col in ("seq", "code", "名称", "name", "type", "req", "dict", "personal", "check", "resolution"):
        table.add_column(col, overflow="fold", no_wrap=col in ("seq", "code", "type", "req", "dict"))
    for f in t.fields:
        table.add_row(
            str(f.seq),
            f.code,
            f.zh,
            f.en,
            f.type_text(),
            "必填" if f.required else "",
            f.dictionary or "",
            f.personal or "",
            f.check or "",
            f.resolution or f.reading or "",
        )
    out.print(table)
    if t.resolution:
        out.print(f"[bold]Table note:[/bold] {t.resolution}")
    for r in t.cross:
        out.print(f"cross rule: {r.kind} {r.params}")


# ---- ingest --------------------------------------------------------------------------------------------
class FileFormat(StrEnum):
    ndjson = "ndjson"
    csv = "csv"
    xlsx = "xlsx"


def _guess_format(path: Path) -> FileFormat:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return FileFormat.csv
    if suffix in (".xlsx", ".xlsm"):
        return FileFormat.xlsx
    if suffix in (".ndjson", ".jsonl", ".json"):
        return FileFormat.ndjson
    raise UsageError(
        f"cannot tell the format of {path.name} from its suffix {suffix!r}; give --format ndjson, csv or xlsx"
    )


def _binary_lines(path: Path, progress: Progress, task: Any) -> Iterator[bytes]:
    with path.open("rb") as fh:
        for line in fh:
            progress.advance(task, len(line))
            yield line


def _rows(path: Path, fmt: FileFormat, encoding: str, progress: Progress, task: Any) -> Iterator[Item]:
    """Items from a CSV or XLSX file, advancing the progress bar."""
    if fmt is FileFormat.csv:

        def rows() -> Iterator[Item]:
            with open_text(path, encoding) as fh:
                for item in iter_csv(fh):
                    progress.update(task, completed=fh.buffer.tell() if hasattr(fh, "buffer") else 0)
                    yield item

        return rows()

    def sheet() -> Iterator[Item]:
        for item in iter_xlsx(path):
            progress.update(task, completed=item.index)
            yield item

    return sheet()


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    type_slug: Annotated[str, typer.Option("--type", help="record type, e.g. access_swipe")],
    fmt: Annotated[FileFormat | None, typer.Option("--format", help="default: from the file suffix")] = None,
    estate: Annotated[str | None, typer.Option("--estate", help="estate (小区) code")] = None,
    encoding: Annotated[str, typer.Option(help="text encoding of CSV files (e.g. gb18030)")] = "utf-8-sig",
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object with the counts")] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=64,
            help="worker processes that validate and seal (default: ANJU_INGEST_WORKERS, else none)",
        ),
    ] = None,
    no_alarms: Annotated[
        bool,
        typer.Option(
            "--no-alarms",
            help="a backfill of past records: store them without the alarm rules judging them · 补录历史数据，不触发告警",
        ),
    ] = False,
) -> None:
    """Import a file of records (NDJSON, CSV or XLSX) through the ingestion pipeline."""
    rtype = record_type(type_slug)
    check_estate(estate)
    fmt = fmt or _guess_format(file)
    svc = _services()
    settle_after_startup()
    total_size = file.stat().st_size
    if fmt is FileFormat.xlsx:
        total_size = _xlsx_rows(file)
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn() if fmt is FileFormat.xlsx else TextColumn(""),
        TimeRemainingColumn(),
        TextColumn("{task.fields[counts]}"),
    ]
    started = datetime.now(UTC)
    try:
        with (
            without_alarm_rules() if no_alarms else nullcontext(),
            Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress,
        ):
            task = progress.add_task(f"导入 {file.name}", total=total_size or None, counts="")

            so_far = BatchResult(rtype.slug)

            def on_batch(batch: BatchResult) -> None:
                so_far.merge(batch)
                progress.update(task, counts=f"入库 {so_far.accepted:,} · 隔离 {so_far.rejected:,}")

            source = f"file:{file.name}"
            if fmt is FileFormat.ndjson:
                result = svc.pipeline.ingest_ndjson(
                    rtype.slug,
                    _binary_lines(file, progress, task),
                    source=source,
                    estate=estate,
                    on_batch=on_batch,
                    workers=svc.settings.ingest_workers if workers is None else workers,
                    actor=cli_actor(),
                )
            else:
                result = svc.pipeline.ingest_stream(
                    rtype.slug,
                    _rows(file, fmt, encoding, progress, task),
                    source=source,
                    estate=estate,
                    on_batch=on_batch,
                    actor=cli_actor(),
                )
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{file.name} is not valid {encoding} text at byte {exc.start}; "
            "give --encoding gb18030 for files saved by Chinese Excel"
        ) from None
    finally:
        svc.close()
    seconds = (datetime.now(UTC) - started).total_seconds()
    summary = result.to_dict()
    summary.update(
        file=str(file),
        format=fmt.value,
        seconds=round(seconds, 3),
        records_per_second=round(result.received / seconds) if seconds else None,
        alarm_rules=not no_alarms,
    )
    if as_json:
        _print_json(summary)
        return
    _print_result(result, seconds)


def _xlsx_rows(file: Path) -> int:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(file, read_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError) as exc:
        raise UsageError(
            f"{file.name} is not a readable XLSX workbook ({exc}); "
            "give --format ndjson or csv if it is not a spreadsheet"
        ) from None
    rows = wb.active.max_row if wb.active is not None and wb.active.max_row else 0
    wb.close()
    return rows


def _print_result(result: BatchResult, seconds: float) -> None:
    out.print(
        f"[bold]{result.record_type}[/bold]: received {result.received:,} · [green]stored {result.accepted:,}"
        f"[/green] · duplicates {result.duplicates:,} · [red]quarantined {result.rejected:,}[/red]"
        f" (conflicts {result.conflicts:,}) · warnings {result.warnings:,} · {seconds:.1f} s"
    )
    for r in result.rejects[:20]:
        first = r.errors[0] if r.errors else {}
        out.print(
            f"  #{r.index} ID={r.record_id} → quarantine {r.quarantine_id}: {first.get('message_zh', '')}"
        )
    if result.rejected > 20:
        out.print(f"  … and {result.rejected - 20:,} more: anju quarantine list")


# ---- quarantine ----------------------------------------------------------------------------------------
@quarantine_app.command("list")
def quarantine_list(
    type_slug: Annotated[str | None, typer.Option("--type")] = None,
    status: Annotated[str, typer.Option(help="open, released or any")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Quarantined records with their first finding."""
    if status not in ("open", "released", "any"):
        raise UsageError(f"--status {status!r}: expected open, released or any")
    if type_slug:
        record_type(type_slug)
    svc = _services()
    try:
        total, entries = svc.quarantine.list(
            status=None if status == "any" else status, record_type=type_slug, limit=limit
        )
    finally:
        svc.close()
    if as_json:
        _print_json({"total": total, "entries": [e.to_dict() for e in entries]})
        return
    table = Table(title=f"隔离区 quarantine — {total:,} {status}")
    for col in ("id", "type", "record ID", "reason", "status", "seen", "first finding"):
        table.add_column(col, overflow="fold")
    for e in entries:
        first = e.errors[0]["message_zh"] if e.errors else ""
        table.add_row(
            str(e.id), e.record_type, e.record_id or "", e.reason, e.status, str(e.seen_count), first
        )
    out.print(table)


@quarantine_app.command("show")
def quarantine_show(
    entry_id: Annotated[int, typer.Argument(min=1, max=MAX_ENTRY_ID)],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    unmask: Annotated[bool, typer.Option("--unmask", help="the raw payload in full (audited)")] = False,
) -> None:
    """One quarantined record: its raw payload (personal data masked unless --unmask) and every finding."""
    svc = _services()
    try:
        entry = svc.quarantine.get(entry_id)
        if entry is not None and unmask:
            svc.audit.record(actor=cli_actor(), action="quarantine.unmask", target=f"quarantine/{entry_id}")
    finally:
        svc.close()
    if entry is None:
        raise UsageError(f"no quarantine entry {entry_id}")
    if not unmask:
        entry = replace(
            entry, raw=mask_raw(entry.record_type, entry.raw or "", entry.raw_encoding or "utf-8")
        )
    if as_json:
        _print_json(entry.to_dict(with_raw=True))
        return
    out.print(
        f"[bold]quarantine {entry.id}[/bold] {entry.record_type} ID={entry.record_id} "
        f"reason={entry.reason} status={entry.status} seen={entry.seen_count} source={entry.source}"
    )
    for e in entry.errors:
        out.print(f"  [{e['severity']}] {e['code']}: {e['message_zh']}\n      {e['message_en']}")
    out.print("raw:", entry.raw if entry.raw_encoding == "utf-8" else f"(base64) {entry.raw}", markup=False)


@quarantine_app.command("replay")
def quarantine_replay(
    entry_ids: Annotated[list[int] | None, typer.Argument(metavar="[ID]...", min=1, max=MAX_ENTRY_ID)] = None,
    replay_all: Annotated[bool, typer.Option("--all", help="replay every open entry")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Validate quarantined records again (after fixing data or dictionaries); release those that pass."""
    if bool(entry_ids) == replay_all:
        raise UsageError("give quarantine entry IDs or --all (not both)")
    svc = _services()
    try:
        total, _ = svc.quarantine.list(status="open", limit=1)
        with Progress(
            TextColumn("重放 replay"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as progress:
            task = progress.add_task("replay", total=len(entry_ids) if entry_ids else total)
            result = svc.quarantine.replay(
                None if replay_all else entry_ids,
                progress=lambda n: progress.advance(task, n),
                actor=cli_actor(),
            )
    finally:
        svc.close()
    summary = result.to_dict()
    summary.update(released=result.accepted + result.duplicates, still_quarantined=result.rejected)
    if as_json:
        _print_json(summary)
        return
    out.print(
        f"replayed {result.received:,}: [green]released {result.accepted + result.duplicates:,}[/green]"
        f" (stored {result.accepted:,}, already stored {result.duplicates:,}) · "
        f"[red]still quarantined {result.rejected:,}[/red]"
    )


# ---- export --------------------------------------------------------------------------------------------
class ExportFormat(StrEnum):
    ndjson = "ndjson"
    csv = "csv"


@app.command()
def export(
    type_slug: Annotated[str, typer.Option("--type", help="record type")],
    since: Annotated[
        str | None, typer.Option(help="received at or after: ISO 8601, or local YYYY-MM-DD HH:MM:SS")
    ] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.ndjson,
    output: Annotated[
        Path | None, typer.Option("--out", help="file to write (default: standard output)")
    ] = None,
    unmask: Annotated[
        bool, typer.Option("--unmask", help="personal data in full, for the upper platform (audited)")
    ] = False,
) -> None:
    """Export stored records upward in the data standard's field codes and formats.

    Personal fields are masked unless --unmask is given; every export is written to the audit log."""
    from anju.standard.checks import CheckFailed, parse_datetime
    from anju.standard.export import iter_records, write_csv, write_ndjson

    rtype = record_type(type_slug)
    settings = Settings.from_env()
    since_utc = None
    if since is not None:
        try:
            since_utc = parse_datetime(since, tz=settings.timezone)
        except CheckFailed as exc:
            raise UsageError(f"--since {since!r}: {exc.en}") from None
    svc = _services()
    try:
        svc.audit.record(
            actor=cli_actor(),
            action="records.export",
            target=rtype.slug,
            detail={
                "format": fmt.value,
                "unmasked": unmask,
                "since": since_utc.isoformat() if since_utc else None,
            },
        )
        opened = iter_records(svc.db, svc.settings, rtype.slug, svc.protector, since=since_utc)
        records = opened if unmask else (mask_record(rtype, r) for r in opened)
        if fmt is ExportFormat.ndjson:
            if output is None:
                n = write_ndjson(records, sys.stdout.buffer)
            else:
                with output.open("wb") as fh:
                    n = write_ndjson(records, fh)
        elif output is None:
            n = write_csv(rtype.slug, records, sys.stdout)
        else:
            with output.open("w", encoding="utf-8", newline="") as fh:
                n = write_csv(rtype.slug, records, fh)
    finally:
        svc.close()
    err.print(f"exported {n:,} {rtype.slug} records")


# ---- db, serve, demo -----------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest migration."""
    svc = _services()
    try:
        out.print(f"schema at {svc.db.current_revision()} ({svc.db.dialect})")
    finally:
        svc.close()


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    mqtt: Annotated[
        str | None,
        typer.Option(
            "--mqtt",
            help="also run an MQTT device gateway in this process: mqtt://HOST[:PORT] (one-process sites)",
        ),
    ] = None,
    mqtt_root: Annotated[
        str, typer.Option(help="topic root of --mqtt: ROOT/estate/record_type/device")
    ] = "anju",
) -> None:
    """Serve the API (and /docs) on the configured database."""
    import uvicorn

    from anju.alarms.runtime import AlarmRuntime
    from anju.ingest.mqtt_gateway import Gateway, parse_url
    from anju.ingest.mqtt_topics import check_root
    from anju.web.app import create_app

    if mqtt is not None:
        for hint, check in (
            ("--mqtt", lambda: parse_url(mqtt)),
            ("--mqtt-root", lambda: check_root(mqtt_root)),
        ):
            try:
                check()
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint=hint) from None
    svc = _services()
    gateway = Gateway(svc, mqtt, client_id=f"anju-serve-{port}", root=mqtt_root) if mqtt is not None else None
    application = create_app(svc)
    settle_after_startup()
    # Silence timers, escalation and notifications run beside the API: the same process, own threads.
    with AlarmRuntime(svc):
        if gateway is not None:
            gateway.start()
        try:
            uvicorn.run(application, host=host, port=port, log_level="info")
        finally:
            if gateway is not None:
                gateway.stop()
    svc.close()


@app.command()
def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    estates: Annotated[int, typer.Option(help="模拟小区数 simulated estates")] = 2,
    households: Annotated[int, typer.Option(help="模拟总户数 simulated houses in all")] = 120,
    seed: Annotated[int, typer.Option(help="模拟社区的随机种子 seed of the simulated community")] = 1,
    rate: Annotated[float, typer.Option(min=0.1, max=10_000, help="每分钟记录数 records per minute")] = 30.0,
) -> None:
    """演示：生成模拟社区（全新 SQLite 数据库）、启动服务和实时事件流 · a simulated community in a fresh
    SQLite database, the server, and a live event stream with alarms."""
    import dataclasses
    import threading
    from datetime import timedelta

    import uvicorn

    from anju.alarms.runtime import AlarmRuntime
    from anju.sim.cli import community
    from anju.sim.load import install
    from anju.sim.runner import run
    from anju.sim.streams import EventStream
    from anju.sim.targets import InprocTarget
    from anju.web.app import create_app

    plan = community(estates, households, seed)
    settings = Settings.from_env()
    # The demo's own database file, recreated at each start: never the deployment's anju.db.
    db_file = settings.data_dir / "demo.db"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for stale in (db_file, db_file.with_name("demo.db-wal"), db_file.with_name("demo.db-shm")):
        stale.unlink(missing_ok=True)
    svc = open_services(dataclasses.replace(settings, database_url=f"sqlite:///{db_file}"))
    report = install(svc, plan)
    password = _demo_administrator(svc)
    out.print(
        f"模拟社区 simulated community {plan.community.name}: {len(plan.estates)} 个小区 estates · "
        f"{len(plan.houses())} 户 houses · {len(plan.people)} 人 people · {len(plan.devices())} 台设备 devices · "
        f"隔离 quarantined {report.rejected}"
    )
    runtime = AlarmRuntime(svc, interval=2.0).start()
    stop = threading.Event()
    start = datetime.now(UTC).replace(microsecond=0)
    stream = EventStream(plan, start=start, duration=timedelta(days=7), rate=rate, schedule="demo")

    def events() -> None:
        try:
            run(stream, InprocTarget(svc), start=start, speed=1.0, stop=stop)
        except Exception as exc:  # the server stays up; say why the stream stopped
            err.print(f"event stream stopped 事件流已停止: {exc!r}", markup=False)

    streamer = threading.Thread(target=events, name="anju-sim-stream", daemon=True)
    streamer.start()
    out.print(
        f"\n[bold green]Anju 安居[/bold green] serving on http://{host}:{port}  ·  API docs: "
        f"http://{host}:{port}/docs  ·  database: {db_file}\n"
        f"demo administrator 演示管理员: [bold]demo-admin[/bold] / [bold]{password}[/bold] "
        "(POST /api/v1/auth/token for a bearer token)\n"
        "实时告警 live alarms: GET /api/v1/alarms (first ones within a minute) · Ctrl-C 停止 stops."
    )
    application = create_app(svc)
    settle_after_startup()
    try:
        uvicorn.run(application, host=host, port=port, log_level="warning")
    finally:
        stop.set()
        streamer.join(timeout=10)
        runtime.stop()
        svc.close()
        out.print("已停止 stopped.")


def _demo_administrator(svc: Services) -> str:
    """A platform administrator who may also see personal data, with a fresh password each start:
    the demo's data is synthetic, and a fixed password would end up on real deployments."""
    import secrets

    from anju.security.identity import IdentityError

    password = secrets.token_urlsafe(12)
    try:
        svc.identity.create_user("demo-admin", password, "platform_admin", actor=cli_actor())
    except IdentityError:
        svc.identity.set_password("demo-admin", password, actor=cli_actor())
    for role in ("community_police", "auditor"):
        svc.identity.bind("demo-admin", role, None, actor=cli_actor())
    return password


def main() -> None:
    # typer reports its own parameter errors (exit 2, no traceback); Anju's own mistakes print one line.
    try:
        app()
    except (
        UsageError,
        SettingsError,
        UnknownRecordType,
        DictionaryError,
        EstateInvalid,
        KeyFileError,
        AdminError,
        NotifyConfigError,
        DutyConfigError,
    ) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
