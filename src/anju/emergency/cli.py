"""`anju emergency`: the command line of the emergency module."""

from __future__ import annotations

import typer

emergency_app = typer.Typer(
    help="应急管理：预案、演练、物资、避难场所、预警 / emergency plans, drills, supplies, shelters, warnings",
    no_args_is_help=True,
)
