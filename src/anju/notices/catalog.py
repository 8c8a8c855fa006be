"""The notices module's data files (`notices/data/*.yaml`) and its one error type.

Every refusal names the field, the value and what is expected, in Chinese first and English alongside;
`status` says how the API answers it (422 bad input, 404 no such object, 409 not in this state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, Self

from anju.emergency.catalog import EmergencyError
from anju.yamlfiles import load_yaml

DATA = resources.files("anju.notices") / "data"


class NoticeError(EmergencyError):
    """The platform's bilingual field error (emergency/catalog.py), with the API status it answers with."""

    def __init__(self, code: str, field: str, value: Any, zh: str, en: str, status: int = 422) -> None:
        super().__init__(code, field, value, zh, en)
        self.status = status

    @classmethod
    def unknown(cls, field: str, value: Any, what_zh: str, what_en: str) -> Self:
        return cls(
            "not_found",
            field,
            value,
            f"{field}（{value!r}）：{what_zh}不存在",
            f"{field}={value!r}: no such {what_en}",
            status=404,
        )

    @classmethod
    def state(cls, code: str, field: str, value: Any, zh: str, en: str) -> Self:
        return cls(code, field, value, zh, en, status=409)


@dataclass(frozen=True)
class Entry:
    key: str
    zh: str
    en: str
    extra: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "zh": self.zh, "en": self.en, **self.extra}


def _entries(raw: Any, origin: str) -> dict[str, Entry]:
    if not isinstance(raw, dict):
        raise RuntimeError(f"{origin}: expected a mapping")
    out: dict[str, Entry] = {}
    for key, spec in raw.items():
        if not isinstance(spec, dict) or not spec.get("zh") or not spec.get("en"):
            raise RuntimeError(f"{origin}: {key!r} needs zh and en")
        out[str(key)] = Entry(
            str(key),
            str(spec["zh"]),
            str(spec["en"]),
            {k: v for k, v in spec.items() if k not in ("zh", "en")},
        )
    return out


@dataclass(frozen=True)
class Catalog:
    content_types: dict[str, Entry]
    categories: dict[str, Entry]
    audiences: dict[str, Entry]
    channels: dict[str, Entry]

    def check(self, kind: str, field: str, value: Any) -> Entry:
        table: dict[str, Entry] = getattr(self, kind)
        if isinstance(value, str):
            if value in table:
                return table[value]
            for entry in table.values():  # the Chinese name is accepted too
                if value == entry.zh:
                    return entry
        keys = "、".join(table)
        raise NoticeError.bad(field, value, f"以下之一：{keys}", f"one of {', '.join(table)}")

    def approval_needed(self, content_type: str) -> bool:
        return bool(self.content_types[content_type].extra.get("approval"))


@cache
def catalog() -> Catalog:
    notices = load_yaml((DATA / "notices.yaml").read_text(encoding="utf-8"))
    channels = load_yaml((DATA / "channels.yaml").read_text(encoding="utf-8"))
    made = Catalog(
        _entries(notices["content_types"], "notices.yaml content_types"),
        _entries(notices["categories"], "notices.yaml categories"),
        _entries(notices["audiences"], "notices.yaml audiences"),
        _entries(channels["channels"], "channels.yaml channels"),
    )
    for c in made.categories.values():
        if c.extra.get("content_type") not in made.content_types:
            raise RuntimeError(f"notices.yaml: category {c.key!r} names no known content_type")
    for ch in made.channels.values():
        if ch.extra.get("adapter") not in ("webhook", "screen", "manual"):
            raise RuntimeError(f"channels.yaml: channel {ch.key!r} has no adapter webhook/screen/manual")
    return made


def text(field: str, value: Any, *, max_len: int, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise NoticeError.bad(field, value, "非空文字", "non-empty text")
        return None
    if not isinstance(value, str):
        raise NoticeError.bad(field, value, "文字", "text")
    cleaned: str = value.strip()
    if len(cleaned) > max_len:
        raise NoticeError.bad(
            field, cleaned[:40] + "…", f"不超过 {max_len} 个字", f"at most {max_len} characters"
        )
    return cleaned


def instant(field: str, value: datetime | str | None) -> datetime | None:
    """An aware time or ISO 8601 text with an offset → naive UTC (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise NoticeError.bad(
                field,
                value,
                "带时区的 ISO 8601 时间，如 2026-12-01T08:00:00+08:00",
                "an ISO 8601 time with an offset, e.g. 2026-12-01T08:00:00+08:00",
            ) from None
    if value.tzinfo is None:
        raise NoticeError.bad(field, value.isoformat(), "带时区的时间", "a time with a UTC offset")
    return value.astimezone(UTC).replace(tzinfo=None)


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.replace(tzinfo=UTC).isoformat()
