"""`anju notices`: the command line of the notices module."""

from __future__ import annotations

import typer

notices_app = typer.Typer(help="信息发布 / notices: drafts, approval, publication", no_args_is_help=True)
