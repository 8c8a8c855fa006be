"""The registry's data files (registry/data/*.yaml), loaded once and typed loosely as plain mappings.

Residence categories, SE42's special-population categories, org-unit kinds (the nine small places),
device kinds and subsystems, verification sources and occupancy thresholds are data, not code.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from anju.yamlfiles import load_yaml


@cache
def load(name: str) -> dict[str, Any]:
    """One data file by its stem, e.g. load("device_kinds")."""
    text = resources.files("anju.registry.data").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    data = load_yaml(text)
    if not isinstance(data, dict):
        raise ValueError(f"registry data file {name}.yaml is not a mapping")
    return data


def residence_categories() -> dict[str, dict[str, Any]]:
    return dict(load("residence_categories")["categories"])


def special_categories() -> dict[str, dict[str, Any]]:
    return dict(load("special_populations")["categories"])


def org_kinds() -> dict[str, dict[str, Any]]:
    return dict(load("org_kinds")["kinds"])


def device_kinds() -> dict[str, dict[str, Any]]:
    return dict(load("device_kinds")["kinds"])


def device_subsystems() -> dict[str, dict[str, Any]]:
    return dict(load("device_kinds")["subsystems"])


def device_statuses() -> dict[str, dict[str, Any]]:
    return dict(load("device_kinds")["statuses"])


def authoritative_sources() -> dict[str, list[str]]:
    return dict(load("verification").get("authoritative_sources") or {})


def occupancy_rules() -> dict[str, Any]:
    return load("occupancy")
