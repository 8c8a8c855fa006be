"""The data files of emergency operations (`emergency/data/risk.yaml`, `resources.yaml`) and the helpers
the operations modules share (the platform clock, a writing connection, scope checks of a region)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from anju.db.engine import WRITE_OPTIONS
from anju.emergency.catalog import DATA, EmergencyError, Entry, text
from anju.yamlfiles import load_yaml

if TYPE_CHECKING:
    from anju.services import Services


def _entries(raw: Any, origin: str) -> dict[str, Entry]:
    if not isinstance(raw, dict) or not raw:
        raise RuntimeError(f"emergency/data/{origin}: expected a non-empty mapping")
    out: dict[str, Entry] = {}
    for key, spec in raw.items():
        if not isinstance(spec, dict) or not spec.get("zh") or not spec.get("en"):
            raise RuntimeError(f"emergency/data/{origin}: {key!r} needs zh and en")
        out[str(key)] = Entry(
            str(key),
            str(spec["zh"]),
            str(spec["en"]),
            {k: v for k, v in spec.items() if k not in ("zh", "en")},
        )
    return out


def _load(name: str) -> dict[str, Any]:
    data = load_yaml((DATA / name).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise RuntimeError(f"emergency/data/{name}: expected a mapping")
    return data


@dataclass(frozen=True)
class OpsCatalog:
    risk_hazards: dict[str, Entry]
    risk_levels: dict[str, Entry]
    special_population_k: int
    review_days: int
    resource_kinds: dict[str, Entry]
    outcomes: dict[str, Entry]

    def pick(self, kind: str, field: str, value: Any) -> str:
        """`value` if it is a key of the list `kind` (or its Chinese or English name), else an error
        listing the keys."""
        table: dict[str, Entry] = getattr(self, kind)
        if isinstance(value, str):
            if value in table:
                return value
            for e in table.values():
                if value.strip().casefold() in (e.zh.casefold(), e.en.casefold()):
                    return e.key
        keys = "、".join(e.label for e in table.values())
        raise EmergencyError.bad(field, value, f"以下之一：{keys}", f"one of {keys}")

    def natural(self, hazard: str) -> bool:
        return bool(self.risk_hazards[hazard].extra.get("natural"))

    def department(self, kind: str) -> str | None:
        found = self.resource_kinds[kind].extra.get("department")
        return None if found is None else str(found)

    def first_aid_kinds(self) -> list[str]:
        return [k for k, e in self.resource_kinds.items() if e.extra.get("first_aid")]


def _whole(raw: Any, name: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise RuntimeError(f"emergency/data/{name}: expected a whole number ≥ 1")
    return raw


@cache
def ops_catalog() -> OpsCatalog:
    risk, res = _load("risk.yaml"), _load("resources.yaml")
    return OpsCatalog(
        risk_hazards=_entries(risk.get("hazards"), "risk.yaml hazards"),
        risk_levels=_entries(risk.get("levels"), "risk.yaml levels"),
        special_population_k=_whole(risk.get("special_population_k"), "risk.yaml special_population_k"),
        review_days=_whole(risk.get("review_days"), "risk.yaml review_days"),
        resource_kinds=_entries(res.get("kinds"), "resources.yaml kinds"),
        outcomes=_entries(res.get("outcomes"), "resources.yaml outcomes"),
    )


# ---- shared helpers ------------------------------------------------------------------------------------
def now(svc: Services) -> datetime:
    """The platform clock's time, naive UTC as stored."""
    return svc.pipeline.clock().astimezone(UTC).replace(tzinfo=None)


def writing(svc: Services) -> Any:
    return svc.db.engine.connect().execution_options(**WRITE_OPTIONS)


def known_region(conn: Connection, svc: Services, field: str, value: Any, *, estate: bool) -> str:
    """A region-tree code that exists (an estate when `estate`), else an error naming the field."""
    code = text(field, value, max_len=40) or ""
    region = svc.db.table("region")
    query = select(region.c.code).where(region.c.code == code)
    if estate:
        query = query.where(region.c.level == "estate")
    if conn.execute(query).first() is None:
        raise EmergencyError.unknown(
            field, code, "小区" if estate else "区域", "estate" if estate else "region"
        )
    return code


def phone(field: str, value: Any) -> str | None:
    found = text(field, value, max_len=20, required=False)
    if found is not None and not found.replace("-", "").replace("+", "").isdigit():
        raise EmergencyError.bad(
            field, "***", "电话号码（数字，可含连字符）", "a phone number (digits, hyphens allowed)"
        )
    return found


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(tzinfo=UTC).isoformat()
