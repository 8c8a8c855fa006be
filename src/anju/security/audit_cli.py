"""`anju audit`: verify the audit chain, show its newest entries, anchor its head."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from anju.config import Settings, SettingsError
from anju.db.database import Database
from anju.security.audit import ANCHOR_FILE, Anchor, AnchorError, AuditLog, VerifyReport, format_time
from anju.security.keys import KeyFileError, load_or_create

audit_app = typer.Typer(
    help="The tamper-evident audit log: verify the chain, show entries, anchor the head",
    no_args_is_help=True,
)

# Piped output (scripts, grep, CI logs) must not be wrapped or folded at 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, soft_wrap=True)
# Below this many entries a verification takes well under a second and a progress bar would only flicker.
PROGRESS_ABOVE = 5000


class _Failure(Exception):
    """A problem to report in one line with exit code 2 (configuration, key file, anchor, database)."""


@dataclass
class _Context:
    settings: Settings
    db: Database
    log: AuditLog
    key_existed: bool


@contextmanager
def _open() -> Iterator[_Context]:
    try:
        settings = Settings.from_env()
        key_existed = settings.keys_file.exists()
        keyring = load_or_create(settings.keys_file)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.database_url)
    except (SettingsError, KeyFileError, OSError) as exc:
        raise _Failure(str(exc)) from None
    except SQLAlchemyError as exc:
        raise _Failure(f"ANJU_DATABASE_URL: {exc}") from None
    try:
        db.upgrade()
        yield _Context(settings, db, AuditLog(db.engine, keyring.audit_key), key_existed)
    except SQLAlchemyError as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise _Failure(f"database {db.engine.url.render_as_string(hide_password=True)}: {first}") from None
    finally:
        db.dispose()


def _run(body: Callable[[], None]) -> None:
    """Run a command body; Anju's own errors become one `error:` line and exit code 2, no traceback."""
    try:
        body()
    except _Failure as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@audit_app.command("verify")
def verify(
    anchor_file: Annotated[
        Path | None,
        typer.Option(
            "--anchor",
            dir_okay=False,
            help=f"anchor written by `anju audit anchor` (default: {ANCHOR_FILE} in the data directory, if any)",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as one JSON object")] = False,
) -> None:
    """Walk the whole chain; exit 1 naming the first edited, deleted or reordered entry."""

    def body() -> None:
        with _open() as ctx:
            path = anchor_file
            if path is None and (ctx.settings.data_dir / ANCHOR_FILE).exists():
                path = ctx.settings.data_dir / ANCHOR_FILE
            try:
                anchor = ctx.log.load_anchor(path) if path is not None else None
            except AnchorError as exc:
                raise _Failure(str(exc)) from None
            total = ctx.log.count()
            if total and not ctx.key_existed:
                raise _Failure(
                    f"no key file at {ctx.settings.keys_file}: the audit chain can only be verified with "
                    "the audit key that wrote it (set ANJU_KEYS_FILE)"
                )
            report = _verify(ctx.log, anchor, total)
        if as_json:
            _print_json({**report.to_json(), "anchor_file": str(path) if path else None})
        else:
            _print_report(report, path)
        if not report.ok:
            raise typer.Exit(1)

    _run(body)


def _verify(log: AuditLog, anchor: Anchor | None, total: int) -> VerifyReport:
    if total <= PROGRESS_ABOVE:
        return log.verify(anchor)
    columns = [
        TextColumn("[bold]校验审计链 verifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
        task = progress.add_task("verify", total=total)
        return log.verify(anchor, progress=lambda checked: progress.update(task, completed=checked))


def _print_report(report: VerifyReport, anchor_path: Path | None) -> None:
    anchored = ""
    if report.anchor is not None:
        anchored = (
            f" · anchor {anchor_path} (seq {report.anchor.seq}, {format_time(report.anchor.written_at)})"
        )
    if report.ok:
        out.print(
            f"[bold green]✓ 审计链完好 audit chain intact[/bold green]: {report.checked:,} entries, "
            f"head seq {report.head_seq}, hash {report.head_hash[:16]}…{anchored}",
            highlight=False,
        )
        return
    broken = report.broken
    assert broken is not None
    out.print(
        f"[bold red]✗ 审计链断裂 audit chain broken[/bold red] at seq {broken.seq} ({broken.kind}); "
        f"{report.checked:,} entries intact before it{anchored}",
        highlight=False,
    )
    out.print(f"  {broken.message_zh}", markup=False, highlight=False)
    out.print(f"  {broken.message_en}", markup=False, highlight=False)


@audit_app.command("tail")
def tail(
    n: Annotated[int, typer.Option("-n", "--lines", min=1, max=10_000, help="how many entries")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="print the entries as a JSON array")] = False,
) -> None:
    """The newest entries, oldest first."""

    def body() -> None:
        with _open() as ctx:
            entries = ctx.log.tail(n)
            tz = ctx.settings.timezone
        if as_json:
            _print_json([e.to_json() for e in entries])
            return
        if not entries:
            out.print("审计日志为空 the audit log is empty")
            return
        table = Table("seq", f"time ({tz.key})", "actor", "action", "target")
        for e in entries:
            table.add_row(
                str(e.seq), e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action, e.target
            )
        out.print(table)

    _run(body)


@audit_app.command("anchor")
def anchor(
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out", dir_okay=False, help=f"where to write it (default: {ANCHOR_FILE} in the data directory)"
        ),
    ] = None,
) -> None:
    """Record the chain head in an anchor file; keep a copy outside this machine (WORM store, another system).

    `anju audit verify` then also fails when entries after the anchor's head were deleted."""

    def body() -> None:
        with _open() as ctx:
            path = out_file or ctx.settings.data_dir / ANCHOR_FILE
            head = ctx.log.anchor()
            try:
                head.save(path)
            except OSError as exc:
                raise _Failure(f"{path}: cannot write the anchor ({exc.strerror or exc})") from None
        out.print(
            f"[green]锚点已写入 anchor written[/green]: {path} · seq {head.seq}, hash {head.hash[:16]}…",
            highlight=False,
        )

    _run(body)
