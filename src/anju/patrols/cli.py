"""`anju patrols`: the command line of the patrols module."""

from __future__ import annotations

import typer

patrols_app = typer.Typer(help="电子巡更 / patrols: routes, checkpoints, check-ins", no_args_is_help=True)
