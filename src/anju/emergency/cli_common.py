"""What the emergency command lines share (emergency/cli.py, ops_cli.py): the console, services opened for
one command, and refusals turned into one `error:` line (exit code 2)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from anju.config import Settings
from anju.emergency.catalog import EmergencyError
from anju.security.admin_cli import AdminError
from anju.services import Services, open_services

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
T = TypeVar("T")
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


@contextmanager
def services() -> Iterator[Services]:
    svc = open_services(Settings.from_env())
    try:
        yield svc
    finally:
        svc.close()


def checked(call: Callable[[], T]) -> T:
    try:
        return call()
    except EmergencyError as exc:
        raise AdminError(f"{exc.en} · {exc.zh}") from None
