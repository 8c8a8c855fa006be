"""`anju users`, `anju keys`, `anju devices` and `anju regions`: administration from the command line."""

from __future__ import annotations

import getpass
import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from anju.config import Settings
from anju.registry.regions import LEVEL_ZH, LEVELS, RegionRefused
from anju.security.identity import IdentityError
from anju.services import Services, open_services

users_app = typer.Typer(help="Users and their roles · 用户与角色", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys · 密钥", no_args_is_help=True)
devices_app = typer.Typer(help="Device credentials · 设备凭证", no_args_is_help=True)
regions_app = typer.Typer(
    help="The region tree (district → street → community → estate)", no_args_is_help=True
)

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, soft_wrap=True)


class AdminError(Exception):
    """A refused administrative request; printed as one line, exit code 2."""


def actor() -> str:
    """Who acts from the command line, for the audit log: the operating-system account."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _services() -> Services:
    return open_services(Settings.from_env())


def _fail(exc: IdentityError) -> AdminError:
    return AdminError(f"{exc.en} · {exc.zh}")


# ---- users --------------------------------------------------------------------------------------------
@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option("--username", help="2-64 letters, digits or _ . @ -")],
    role: Annotated[str, typer.Option("--role", help="e.g. community_police; see `anju users roles`")],
    scope: Annotated[
        str | None, typer.Option("--scope", help="region or estate code; omit: platform")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    display_name: Annotated[str | None, typer.Option("--name", help="display name")] = None,
) -> None:
    """Create a user with a first role binding. The password comes from stdin or a prompt, never argv."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password 密码", hide_input=True, confirmation_prompt=True)
    svc = _services()
    try:
        user = svc.identity.create_user(
            username, password, role, scope, display_name=display_name, actor=actor()
        )
    except IdentityError as exc:
        raise _fail(exc) from None
    finally:
        svc.close()
    out.print(f"created user [bold]{user.username}[/bold] · {role} @ {scope or '全平台 platform'}")


@users_app.command("grant")
def users_grant(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option("--role")],
    scope: Annotated[str | None, typer.Option("--scope")] = None,
) -> None:
    """Give a user another role over a scope."""
    svc = _services()
    try:
        svc.identity.bind(username, role, scope, actor=actor())
    except IdentityError as exc:
        raise _fail(exc) from None
    finally:
        svc.close()
    out.print(f"{username}: + {role} @ {scope or '全平台 platform'}")


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every user with roles, scopes and state."""
    svc = _services()
    try:
        users = svc.identity.list_users()
    finally:
        svc.close()
    if as_json:
        out.print_json(json.dumps([u.to_json() for u in users], ensure_ascii=False))
        return
    table = Table("用户名 username", "角色@范围 roles", "状态 state", "创建 created")
    for u in users:
        state = "停用 disabled" if u.disabled else "锁定 locked" if u.locked_until else "正常 active"
        roles = ", ".join(f"{r}@{s or '*'}" for r, s in u.bindings)
        table.add_row(u.username, roles, state, u.created_at.strftime("%Y-%m-%d %H:%M"))
    out.print(table)


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable a user and revoke every token and session they hold."""
    svc = _services()
    try:
        svc.identity.disable(username, actor=actor())
    except IdentityError as exc:
        raise _fail(exc) from None
    finally:
        svc.close()
    out.print(f"disabled {username}; their tokens and sessions are revoked")


@users_app.command("roles")
def users_roles() -> None:
    """The roles and the permissions each grants."""
    from anju.security.roles import load_roles

    table = Table("role", "名称", "permissions")
    for role in load_roles().values():
        table.add_row(role.name, role.zh, ", ".join(sorted(role.permissions)) or "—")
    out.print(table)


# ---- keys ---------------------------------------------------------------------------------------------
@keys_app.command("rotate")
def keys_rotate(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Add a new SM4 key version and re-encrypt every sealed value under it, while the platform runs."""
    from anju.security.rotation import count_sealed_rows, rotate

    svc = _services()
    try:
        total = count_sealed_rows(svc)
        with Progress(
            TextColumn("重新加密 re-encrypting"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as progress:
            task = progress.add_task("rotate", total=total)
            report = rotate(svc, actor=actor(), progress=lambda n: progress.advance(task, n))
    finally:
        svc.close()
    if as_json:
        out.print_json(json.dumps(report.to_json()))
        return
    out.print(f"key version {report.version} is current; re-encrypted {report.total:,} rows")


@keys_app.command("status")
def keys_status() -> None:
    """Key versions in the key file (never the keys themselves)."""
    from anju.security.keys import load_or_create

    ring = load_or_create(Settings.from_env().keys_file)
    for version in sorted(ring.encryption):
        mark = " (current)" if version == ring.current else ""
        out.print(f"v{version}  created {ring.created.get(version, '?')}{mark}")


# ---- devices ------------------------------------------------------------------------------------------
@devices_app.command("credential")
def devices_credential(
    device_id: Annotated[str, typer.Argument(help="the device's code (SB_BH)")],
    estate: Annotated[str, typer.Option("--estate", help="the device's estate")],
) -> None:
    """Issue a device credential (replacing the old one). It is shown once; store it on the device."""
    svc = _services()
    try:
        token = svc.identity.create_device_credential(device_id, estate, actor=actor())
    except IdentityError as exc:
        raise _fail(exc) from None
    finally:
        svc.close()
    out.print(token, markup=False, highlight=False)


# ---- regions ------------------------------------------------------------------------------------------
@regions_app.command("add")
def regions_add(
    code: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option("--name")],
    level: Annotated[str, typer.Option("--level", help=" | ".join(LEVELS))],
    parent: Annotated[str | None, typer.Option("--parent")] = None,
) -> None:
    """Add a node to the region tree."""
    if level not in LEVELS:
        raise AdminError(f"--level {level!r}: expected one of {', '.join(LEVELS)}")
    svc = _services()
    try:
        svc.regions.add(svc.audit, code=code, name=name, level=level, parent=parent, actor=actor())
    except RegionRefused as exc:
        raise AdminError(f"{exc.en} · {exc.zh}") from None
    finally:
        svc.close()
    out.print(f"{LEVEL_ZH[level]} {code} {name}" + (f" ⊂ {parent}" if parent else ""))
