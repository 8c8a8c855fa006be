"""The affairs module's data files (`affairs/data/*.yaml`), its error type and its small input checks.

Every refusal names the field, the value and what is expected, in Chinese first and English alongside;
the checks are the emergency module's (`text`, `whole`, `instant`, `day`), which raise the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from anju.emergency.catalog import EmergencyError, Entry, day, instant, text, whole
from anju.evaluation.evidence import twelve_months
from anju.registry import catalog as registry_catalog
from anju.yamlfiles import load_yaml

if TYPE_CHECKING:
    from anju.services import Services

__all__ = ["AffairsError", "Catalog", "catalog", "day", "instant", "now", "text", "whole", "window"]


class AffairsError(EmergencyError):
    """Bad input to the affairs module (same shape as the emergency module's: code, field, value, zh, en)."""


def _load(name: str) -> dict[str, Any]:
    raw = resources.files("anju.affairs.data").joinpath(name).read_text(encoding="utf-8")
    data = load_yaml(raw)
    if not isinstance(data, dict):
        raise RuntimeError(f"affairs/data/{name}: expected a mapping")
    return data


def _entries(raw: dict[str, Any], origin: str) -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for key, spec in raw.items():
        if not isinstance(spec, dict) or not spec.get("zh") or not spec.get("en"):
            raise RuntimeError(f"affairs/data/{origin}: {key!r} needs zh and en")
        rest = {k: v for k, v in spec.items() if k not in ("zh", "en")}
        out[str(key)] = Entry(str(key), str(spec["zh"]), str(spec["en"]), rest)
    return out


@dataclass(frozen=True)
class Catalog:
    special_categories: dict[str, Entry]
    paper_items: dict[str, str]  # registry category -> SE42.2 item key
    wuhan_special_categories: tuple[str, ...]
    risk_levels: dict[str, Entry]
    visit_methods: dict[str, Entry]
    equipment: dict[str, Entry]
    disposal_kinds: dict[str, Entry]
    event_types: dict[str, Entry]
    event_statuses: dict[str, Entry]
    event_roles: dict[str, Entry]
    upload_results: dict[str, Entry]
    health_kinds: dict[str, Entry]
    health_levels: dict[str, Entry]
    health_statuses: dict[str, Entry]
    health_lists: dict[str, Entry]
    subject_statuses: dict[str, Entry]
    upload_within_hours: int
    channels: dict[str, Entry]
    modes: dict[str, Entry]
    groups: dict[str, Entry]
    material_kinds: dict[str, Entry]
    audiences: dict[str, Entry]
    topics: dict[str, Entry]
    small_places: dict[str, Entry]
    update_within_days: int
    archive_kinds: dict[str, Entry]
    timely_days: int

    def check(self, kind: str, field: str, value: Any) -> str:
        """`value` if it is a key of the list `kind` (or its Chinese or English name), else an error
        listing the keys."""
        table: dict[str, Entry] = getattr(self, kind)
        if isinstance(value, str) and value in table:
            return value
        if isinstance(value, str):
            for e in table.values():
                if value.strip().casefold() in (e.zh.casefold(), e.en.casefold()):
                    return e.key
        keys = "、".join(e.label for e in table.values())
        raise AffairsError.bad(field, value, f"以下之一：{keys}", f"one of {keys}")

    def check_many(self, kind: str, field: str, values: Any, *, required: bool = True) -> list[str]:
        if not isinstance(values, list | tuple) or (required and not values):
            raise AffairsError.bad(field, values, "非空列表", "a non-empty list")
        out: list[str] = []
        for i, v in enumerate(values):
            key = self.check(kind, f"{field}[{i}]", v)
            if key not in out:
                out.append(key)
        return out

    def label(self, kind: str, key: str | None) -> dict[str, str | None]:
        entry = getattr(self, kind).get(key or "")
        return {"key": key, "zh": entry.zh if entry else None, "en": entry.en if entry else None}


def _positive(doc: dict[str, Any], key: str, origin: str) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise RuntimeError(f"affairs/data/{origin}: {key} must be a whole number ≥ 1")
    return value


@cache
def catalog() -> Catalog:
    special, events, health = _load("special.yaml"), _load("events.yaml"), _load("health.yaml")
    edu, archives = _load("education.yaml"), _load("archives.yaml")
    categories = {
        k: Entry(k, str(v["zh"]), str(v["en"]), {}) for k, v in registry_catalog.special_categories().items()
    }
    items = {str(k): str(v) for k, v in dict(special["paper_items"]).items()}
    if set(items) != set(categories):
        raise RuntimeError("affairs/data/special.yaml: paper_items must map every registry special category")
    small = {
        k: Entry(k, str(v["zh"]), str(v["en"]), {})
        for k, v in registry_catalog.org_kinds().items()
        if v.get("small_place")
    }
    return Catalog(
        special_categories=categories,
        paper_items=items,
        wuhan_special_categories=tuple(special["wuhan_special_categories"]),
        risk_levels=_entries(special["risk_levels"], "special.yaml risk_levels"),
        visit_methods=_entries(special["visit_methods"], "special.yaml visit_methods"),
        equipment=_entries(special["equipment"], "special.yaml equipment"),
        disposal_kinds=_entries(special["disposal_kinds"], "special.yaml disposal_kinds"),
        event_types=_entries(events["types"], "events.yaml types"),
        event_statuses=_entries(events["statuses"], "events.yaml statuses"),
        event_roles=_entries(events["roles"], "events.yaml roles"),
        upload_results=_entries(events["upload_results"], "events.yaml upload_results"),
        health_kinds=_entries(health["kinds"], "health.yaml kinds"),
        health_levels=_entries(health["levels"], "health.yaml levels"),
        health_statuses=_entries(health["statuses"], "health.yaml statuses"),
        health_lists=_entries(health["lists"], "health.yaml lists"),
        subject_statuses=_entries(health["subject_statuses"], "health.yaml subject_statuses"),
        upload_within_hours=_positive(health, "upload_within_hours", "health.yaml"),
        channels=_entries(edu["channels"], "education.yaml channels"),
        modes=_entries(edu["modes"], "education.yaml modes"),
        groups=_entries(edu["groups"], "education.yaml groups"),
        material_kinds=_entries(edu["material_kinds"], "education.yaml material_kinds"),
        audiences=_entries(edu["audiences"], "education.yaml audiences"),
        topics=_entries(edu["topics"], "education.yaml topics"),
        small_places=small,
        update_within_days=_positive(edu, "update_within_days", "education.yaml"),
        archive_kinds=_entries(archives["kinds"], "archives.yaml kinds"),
        timely_days=_positive(archives, "timely_days", "archives.yaml"),
    )


# ---- shared helpers -------------------------------------------------------------------------------------
def now(svc: Services) -> datetime:
    """The platform clock as naive UTC (how times are stored)."""
    return svc.pipeline.clock().astimezone(UTC).replace(tzinfo=None)


def window(svc: Services, as_of: date) -> tuple[datetime, datetime]:
    """The twelve months that end with `as_of` (local days), as naive-UTC bounds [start, end)."""
    return twelve_months(as_of, svc.settings.timezone)


def optional_instant(field: str, value: Any) -> datetime | None:
    return None if value is None else instant(field, value)


def iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).isoformat()
    return value.isoformat()
