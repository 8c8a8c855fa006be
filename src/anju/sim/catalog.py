"""The simulator's data files (sim/data/*.yaml): name lists, everyday traffic, incident schedules."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from anju.yamlfiles import load_yaml


@cache
def load(name: str) -> dict[str, Any]:
    """One data file by its stem, e.g. load("names")."""
    text = resources.files("anju.sim.data").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    data = load_yaml(text)
    if not isinstance(data, dict):
        raise ValueError(f"simulator data file {name}.yaml is not a mapping")
    return data
