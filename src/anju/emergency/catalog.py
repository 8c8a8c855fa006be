"""The emergency module's data files (`emergency/data/*.yaml`) and its one error type.

Every refusal names the field, the value and what is expected, in Chinese first and English alongside.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Self

from anju.yamlfiles import load_yaml

DATA = resources.files("anju.emergency") / "data"


class EmergencyError(ValueError):
    """Bad input: `code` is machine-readable, `field` and `value` say where, zh/en what is expected."""

    def __init__(self, code: str, field: str, value: Any, zh: str, en: str) -> None:
        shown = value if isinstance(value, str | int | float | bool) or value is None else repr(value)
        super().__init__(en)
        self.code, self.field, self.value, self.zh, self.en = code, field, shown, zh, en

    @classmethod
    def bad(cls, field: str, value: Any, zh: str, en: str, code: str = "invalid") -> Self:
        return cls(
            code, field, value, f"{field}（{value!r}）无效：应为{zh}", f"{field}={value!r}: expected {en}"
        )

    @classmethod
    def unknown(cls, field: str, value: Any, what_zh: str, what_en: str) -> Self:
        return cls(
            "not_found",
            field,
            value,
            f"{field}（{value!r}）：{what_zh}不存在；应为已登记的{what_zh}",
            f"{field}={value!r}: no such {what_en}; expected one that exists",
        )


@dataclass(frozen=True)
class Entry:
    key: str
    zh: str
    en: str
    extra: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.key} ({self.zh} / {self.en})"


def _load(name: str) -> dict[str, Any]:
    data = load_yaml((DATA / name).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise RuntimeError(f"emergency/data/{name}: expected a mapping")
    return data


def _entries(raw: dict[str, Any], origin: str) -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for key, spec in raw.items():
        if not isinstance(spec, dict) or not spec.get("zh") or not spec.get("en"):
            raise RuntimeError(f"{origin}: {key!r} needs zh and en")
        rest = {k: v for k, v in spec.items() if k not in ("zh", "en")}
        out[str(key)] = Entry(str(key), str(spec["zh"]), str(spec["en"]), rest)
    return out


@dataclass(frozen=True)
class Catalog:
    participants: dict[str, Entry]
    plan_contents: dict[str, Entry]
    hazards: dict[str, Entry]
    shelter_types: dict[str, Entry]
    facilities: dict[str, Entry]
    shelter_statuses: dict[str, Entry]
    movement_reasons: dict[str, Entry]
    near_expiry_days: int
    tools: tuple[str, ...]  # words naming SE65.3's emergency tools (supplies.yaml tools)

    def check(self, kind: str, field: str, value: Any) -> str:
        """`value` if it is a key of the list `kind`, else an error listing the keys."""
        table: dict[str, Entry] = getattr(self, kind)
        if isinstance(value, str) and value in table:
            return value
        if isinstance(value, str):  # a Chinese or English name is accepted too
            for e in table.values():
                if value.strip().casefold() in (e.zh.casefold(), e.en.casefold()):
                    return e.key
        keys = "、".join(e.label for e in table.values())
        raise EmergencyError.bad(field, value, f"以下之一：{keys}", f"one of {keys}")


def _hazards(data_dir: Path | None) -> dict[str, Entry]:
    found = _entries(_load("hazards.yaml")["hazards"], "hazards.yaml")
    if data_dir is not None:
        extra = data_dir / "emergency" / "hazards.yaml"
        if extra.is_file():
            doc = load_yaml(extra.read_text(encoding="utf-8")) or {}
            found.update(_entries(dict(doc.get("hazards") or {}), str(extra)))
    return found


@cache
def catalog(data_dir: Path | None = None) -> Catalog:
    cats = _load("categories.yaml")
    shelters = _load("shelters.yaml")
    supplies = _load("supplies.yaml")
    days = supplies.get("near_expiry_days")
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise RuntimeError("emergency/data/supplies.yaml: near_expiry_days must be a whole number ≥ 0")
    return Catalog(
        participants=_entries(cats["participants"], "categories.yaml participants"),
        plan_contents=_entries(cats["plan_contents"], "categories.yaml plan_contents"),
        hazards=_hazards(data_dir),
        shelter_types=_entries(shelters["types"], "shelters.yaml types"),
        facilities=_entries(shelters["facilities"], "shelters.yaml facilities"),
        shelter_statuses=_entries(shelters["statuses"], "shelters.yaml statuses"),
        movement_reasons=_entries(supplies["movement_reasons"], "supplies.yaml movement_reasons"),
        near_expiry_days=days,
        tools=tuple(str(t) for t in supplies.get("tools") or ()),
    )


# ---- small checks shared by the modules ---------------------------------------------------------------
def text(field: str, value: Any, *, max_len: int, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise EmergencyError.bad(field, value, "非空文本", "a non-empty text")
        return None
    if not isinstance(value, str):
        raise EmergencyError.bad(field, value, "文本", "a text")
    out: str = value.strip()
    if len(out) > max_len:
        raise EmergencyError.bad(
            field,
            out[:40] + "…",
            f"不超过 {max_len} 个字符的文本",
            f"a text of at most {max_len} characters",
        )
    return out


def whole(field: str, value: Any, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise EmergencyError.bad(field, value, f"不小于 {minimum} 的整数", f"a whole number ≥ {minimum}")
    return value


def coordinate(field: str, value: Any, *, lon: bool) -> float:
    low, high = (-180.0, 180.0) if lon else (-90.0, 90.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= float(value) <= high:
        what = "经度" if lon else "纬度"
        raise EmergencyError.bad(
            field,
            value,
            f"{low:g} 到 {high:g} 之间的{what}（WGS-84）",
            f"a WGS-84 {'longitude' if lon else 'latitude'} between {low:g} and {high:g}",
        )
    return float(value)


def instant(field: str, value: Any) -> datetime:
    """A timezone-aware time (ISO 8601 with an offset, or a datetime), returned naive UTC for storage."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise EmergencyError.bad(
            field,
            value if not isinstance(value, datetime) else value.isoformat(),
            "带时区的 ISO 8601 时间，如 2026-11-01T09:00:00+08:00",
            "an ISO 8601 time with an offset, e.g. 2026-11-01T09:00:00+08:00",
        )
    return value.astimezone(UTC).replace(tzinfo=None)


def day(field: str, value: Any) -> date:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = date.fromisoformat(value)
    if isinstance(value, datetime) or not isinstance(value, date):
        raise EmergencyError.bad(field, value, "日期 YYYY-MM-DD", "a date YYYY-MM-DD")
    return value


def aware(value: datetime) -> datetime:
    """A stored naive-UTC time as an aware one."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
