"""`anju notices`: the command line of the notices module.

Every command goes through the same functions as the HTTP API (notices/publishing.py, views.py), audited
the same way; the CLI acts as `cli:<os user>` over the whole platform, like the other operator commands.
The four-eyes rule still holds: a policy notice drafted by one operating-system account is approved by
another. Every refusal is printed as one `error:` line naming the field, the value and what is expected
(English, then Chinese) with exit code 2, never a stack trace.

The helpers above the commands are shared with `anju patrols` (patrols/cli.py), whose errors have the same
shape (PatrolError is NoticeError).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from anju.config import Settings
from anju.notices import publishing, views
from anju.notices.catalog import NoticeError, catalog
from anju.notices.channels import load_config
from anju.security.admin_cli import AdminError, actor
from anju.services import Services, open_services
from anju.yamlfiles import load_yaml

notices_app = typer.Typer(help="信息发布 / notices: drafts, approval, publication", no_args_is_help=True)

# Piped output (scripts, cron mail, CI logs) must not be wrapped at 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


# ---- shared with patrols/cli.py ---------------------------------------------------------------------------
def fail(message: str) -> NoReturn:
    """One `error:` line and exit code 2. Printed here rather than left to `anju.cli.main`, so the commands
    behave the same under typer's test runner and when mounted elsewhere."""
    err.print(f"error: {' '.join(message.split())}", markup=False, highlight=False)
    raise typer.Exit(2)


def describe(exc: NoticeError) -> str:
    """English, then Chinese; a refusal whose text does not name its field (a state refusal such as
    approval_required) gets `field=value:` in front, so every line says what it is about."""
    en = exc.en if f"{exc.field}=" in exc.en else f"{exc.field}={exc.value!r}: {exc.en}"
    return f"{en} · {exc.zh}"


@contextmanager
def refusals() -> Iterator[None]:
    try:
        yield
    except NoticeError as exc:
        fail(describe(exc))
    except AdminError as exc:
        fail(str(exc))


@contextmanager
def services() -> Iterator[Services]:
    with refusals():
        svc = open_services(Settings.from_env())
        try:
            yield svc
        finally:
            svc.close()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def read_yaml(path: Path) -> Any:
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: cannot be read ({exc.strerror}) · 无法读取文件")
    try:
        return load_yaml(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        fail(f"{path}: not valid YAML{at} · 不是有效的 YAML 文件")


def yaml_mapping(value: Any, where: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        fail(f"{where}: expected a mapping ({what}) · 应为映射（{what}）")
    return value


def yaml_time(value: Any) -> Any:
    """YAML reads an unquoted time as a datetime (or a date): back to ISO text, so that the module's own
    check names the field when the offset is missing."""
    return value.isoformat() if isinstance(value, date) else value


def checked_keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in set(raw) - allowed)
    if unknown:
        fail(
            f"{where}: {unknown[0]}: unknown key; expected one of {', '.join(sorted(allowed))}"
            f" · 未知的键，应为 {'、'.join(sorted(allowed))} 之一"
        )


def number(field: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NoticeError.bad(field, value, "数值", "a number")
    return float(value)


# ---- catalog ----------------------------------------------------------------------------------------------
@notices_app.command("catalog")
def show_catalog(as_json: JsonOpt = False) -> None:
    """Content types, categories, audiences and channels with the adapter this deployment uses."""
    cat = catalog()
    with refusals():
        config = load_config(Settings.from_env().data_dir)
    channels = [
        {**c.to_json(), "default_adapter": c.extra["adapter"], "adapter": config.channels[c.key].adapter}
        for c in cat.channels.values()
    ]
    if as_json:
        print_json(
            {
                "content_types": [c.to_json() for c in cat.content_types.values()],
                "categories": [c.to_json() for c in cat.categories.values()],
                "audiences": [c.to_json() for c in cat.audiences.values()],
                "channels": channels,
            }
        )
        return
    kinds = Table("key", "中文", "English", "需审核 approval", title="内容类型 content types")
    for c in cat.content_types.values():
        kinds.add_row(c.key, c.zh, c.en, "yes 是" if c.extra.get("approval") else "no 否")
    out.print(kinds)
    cats = Table("key", "中文", "English", "内容类型 content type", title="类别 categories")
    for c in cat.categories.values():
        cats.add_row(c.key, c.zh, c.en, str(c.extra["content_type"]))
    out.print(cats)
    audiences = Table("key", "中文", "English", title="受众 audiences")
    for c in cat.audiences.values():
        audiences.add_row(c.key, c.zh, c.en)
    out.print(audiences)
    table = Table(
        "key", "代码 code", "中文", "English", "适配器 adapter", "回执 receipts", title="发布渠道 channels"
    )
    for ch in channels:
        adapter = ch["adapter"]
        if adapter != ch["default_adapter"]:
            adapter += f" (default {ch['default_adapter']})"
        table.add_row(
            ch["key"], str(ch["code"]), ch["zh"], ch["en"], adapter, "yes 是" if ch["receipts"] else "no 否"
        )
    out.print(table)


# ---- lists and one notice ---------------------------------------------------------------------------------
@notices_app.command("list")
def notices_list(
    region: Annotated[
        str | None, typer.Option(help="community or estate code (and the nodes under it)")
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="draft, approved, scheduled, published, withdrawn, expired")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Notices, newest first."""
    with services() as svc:
        regions = None if region is None else svc.regions.descendants([region])
        found = views.list_notices(svc, regions, status=status)
    if as_json:
        print_json(found)
        return
    table = Table(
        "ID", "区划 region", "标题 title", "类别 category", "渠道 channels", "状态 status", "发布 published"
    )
    for n in found:
        table.add_row(
            str(n["id"]),
            n["region"],
            escape(n["title"]),
            f"{n['category']['zh']} ({n['content_type']['key']})",
            ", ".join(n["channels"]),
            f"{n['status_zh']} {n['status']}",
            n["published_at"] or n["publish_at"] or "—",
        )
    out.print(table)


def _print_notice(view: Mapping[str, Any]) -> None:
    out.print(
        f"[bold]notice {view['id']}: {escape(view['title'])}[/bold]  {view['region']} · "
        f"{view['category']['zh']} · {view['audience']['zh']} · {view['status_zh']} {view['status']}",
        markup=True,
        highlight=False,
    )
    out.print(view["body"], markup=False, highlight=False)
    for label, key in (
        ("起草 drafted", "created"),
        ("审核 approved", "approved"),
        ("发布 published", "published"),
    ):
        if view[f"{key}_at"]:
            out.print(f"  {label}: {view[f'{key}_at']} by {view[f'{key}_by']}", markup=False)
    if view["publish_at"]:
        out.print(f"  定时 scheduled for: {view['publish_at']}", markup=False)
    if view["expires_at"]:
        out.print(f"  过期 expires: {view['expires_at']}", markup=False)
    if view["withdrawn_at"]:
        out.print(f"  撤回 withdrawn: {view['withdrawn_at']} {view['withdraw_reason'] or ''}", markup=False)
    if view["deliveries"]:
        table = Table(
            "渠道 channel", "适配器 adapter", "状态 status", "详情 detail", "记录 record", "已读 reads"
        )
        for d in view["deliveries"]:
            table.add_row(
                d["channel"], d["adapter"], d["status"], d["detail"] or "", d["record_id"], str(d["reads"])
            )
        out.print(table)


@notices_app.command("show")
def notices_show(notice_id: Annotated[int, typer.Argument(metavar="ID")], as_json: JsonOpt = False) -> None:
    """One notice with its deliveries and read counts."""
    with services() as svc:
        view = views.notice_view(svc, notice_id)
    if as_json:
        print_json(view)
        return
    _print_notice(view)


# ---- the lifecycle ----------------------------------------------------------------------------------------
_FILE_KEYS = {
    "region",
    "title",
    "body",
    "category",
    "audience",
    "channels",
    "content_type",
    "expires_at",
    "lon",
    "lat",
}


@notices_app.command("create")
def notices_create(
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help=f"YAML with any of: {', '.join(sorted(_FILE_KEYS))}"),
    ] = None,
    region: Annotated[str | None, typer.Option(help="community or estate code")] = None,
    title: Annotated[str | None, typer.Option()] = None,
    body: Annotated[str | None, typer.Option()] = None,
    category: Annotated[str | None, typer.Option(help="see `anju notices catalog`")] = None,
    audience: Annotated[str | None, typer.Option(help="default all_residents")] = None,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", "-c", help="a channel key (repeatable)")
    ] = None,
    content_type: Annotated[
        str | None, typer.Option(help="general or policy; default the category's")
    ] = None,
    expires_at: Annotated[str | None, typer.Option(help="ISO 8601 with offset")] = None,
    lon: Annotated[float | None, typer.Option()] = None,
    lat: Annotated[float | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Draft a notice from options or a YAML file (options override the file's values)."""
    given: dict[str, Any] = {}
    if file is not None:
        given.update(yaml_mapping(read_yaml(file), str(file), "一条通知 / one notice"))
        checked_keys(given, _FILE_KEYS, str(file))
    options = {
        "region": region,
        "title": title,
        "body": body,
        "category": category,
        "audience": audience,
        "channels": channel or None,
        "content_type": content_type,
        "expires_at": expires_at,
        "lon": lon,
        "lat": lat,
    }
    given.update({k: v for k, v in options.items() if v is not None})
    with services() as svc:
        channels = given.get("channels")
        notice_id = publishing.create_notice(
            svc,
            region=given.get("region"),  # type: ignore[arg-type]  # checked by the module
            title=given.get("title"),  # type: ignore[arg-type]
            body=given.get("body"),  # type: ignore[arg-type]
            category=given.get("category"),  # type: ignore[arg-type]
            audience=given.get("audience", "all_residents"),
            channels=[channels] if isinstance(channels, str) else channels,  # type: ignore[arg-type]
            actor=actor(),
            content_type=given.get("content_type"),
            expires_at=yaml_time(given.get("expires_at")),
            lon=number("lon", given.get("lon")),
            lat=number("lat", given.get("lat")),
            source="cli",
        )
        view = views.notice_view(svc, notice_id)
    if as_json:
        print_json(view)
        return
    needs = (
        "; policy content: approve it (another account) before publishing · 政策性内容：须由他人审核后发布"
        if catalog().approval_needed(view["content_type"]["key"])
        else ""
    )
    out.print(f"notice {notice_id} drafted · 已起草{needs}", markup=False, highlight=False)


@notices_app.command("approve")
def notices_approve(
    notice_id: Annotated[int, typer.Argument(metavar="ID")], as_json: JsonOpt = False
) -> None:
    """Approve a policy notice (not by the account that drafted it)."""
    with services() as svc:
        publishing.approve(svc, notice_id, actor=actor())
        view = views.notice_view(svc, notice_id)
    if as_json:
        print_json(view)
        return
    out.print(f"notice {notice_id} approved · 已审核", markup=False, highlight=False)


@notices_app.command("publish")
def notices_publish(
    notice_id: Annotated[int, typer.Argument(metavar="ID")],
    at: Annotated[
        str | None, typer.Option("--at", help="ISO 8601 with offset; later: scheduled, else now")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish now on every channel, or schedule it (`publish-due` publishes it when due)."""
    with services() as svc:
        status = publishing.publish(svc, notice_id, actor=actor(), publish_at=at)
        view = views.notice_view(svc, notice_id)
    if as_json:
        print_json(view)
        return
    if status == "scheduled":
        out.print(f"notice {notice_id} scheduled for {view['publish_at']} · 已定时", markup=False)
        return
    out.print(f"notice {notice_id} published · 已发布", markup=False, highlight=False)
    for d in view["deliveries"]:
        out.print(f"  {d['channel']}: {d['status']} {d['detail'] or ''}".rstrip(), markup=False)


@notices_app.command("withdraw")
def notices_withdraw(
    notice_id: Annotated[int, typer.Argument(metavar="ID")],
    reason: Annotated[str | None, typer.Option(help="kept with the notice")] = None,
) -> None:
    """Withdraw a draft, approved, scheduled or published notice."""
    with services() as svc:
        publishing.withdraw(svc, notice_id, actor=actor(), reason=reason)
    out.print(f"notice {notice_id} withdrawn · 已撤回", markup=False, highlight=False)


@notices_app.command("confirm")
def notices_confirm(
    notice_id: Annotated[int, typer.Argument(metavar="ID")],
    channel: Annotated[str, typer.Argument(help="the manual channel posted on, e.g. bulletin_board")],
) -> None:
    """Confirm that a manual channel's posting (radio announcement, bulletin board) was made."""
    with services() as svc:
        publishing.confirm_delivery(svc, notice_id, channel, actor=actor())
    out.print(f"notice {notice_id}: {channel} confirmed · 已确认张贴/播报", markup=False, highlight=False)


@notices_app.command("publish-due")
def notices_publish_due(as_json: JsonOpt = False) -> None:
    """Publish scheduled notices whose time has come and expire those past their expiry, as the alarm
    clock does (for cron where `anju serve` does not run). Quiet when nothing was due, for cron mail."""
    with services() as svc:
        # The module answers only what it published; the expired ones are the notices live before the
        # call and no longer after it.
        live = {n["id"] for n in views.list_notices(svc, None, status="published", limit=100_000)}
        published = publishing.publish_due(svc)
        still = {n["id"] for n in views.list_notices(svc, None, status="published", limit=100_000)}
    expired = sorted(live - still)
    if as_json:
        print_json({"published": published, "expired": expired})
        return
    for notice_id in published:
        out.print(f"notice {notice_id} published · 已发布", markup=False, highlight=False)
    for notice_id in expired:
        out.print(f"notice {notice_id} expired · 已过期", markup=False, highlight=False)
