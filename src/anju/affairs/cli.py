"""`anju affairs`: the command line of the affairs module."""

from __future__ import annotations

import typer

affairs_app = typer.Typer(
    help="社区安全事务 / special populations, abnormal events, public health, education, archives",
    no_args_is_help=True,
)
