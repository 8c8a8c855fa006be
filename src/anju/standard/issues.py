"""Validation findings: what was wrong, where, and what is expected, in Chinese and English."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from anju.security.masking import mask, mask_embedded_identifiers
from anju.yamlfiles import load_yaml

Severity = Literal["error", "warning"]
_MAX_SHOWN = 80


@cache
def _templates() -> dict[str, dict[str, str]]:
    text = (resources.files("anju.standard") / "data" / "messages.yaml").read_text(encoding="utf-8")
    loaded: dict[str, dict[str, str]] = load_yaml(text)
    return loaded


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(code: str, **params: Any) -> tuple[str, str]:
    """(zh, en) detail text for a message code of messages.yaml."""
    t = _templates().get(code)
    if t is None:
        return code, code
    values = _Lenient(params)
    return t["zh"].format_map(values), t["en"].format_map(values)


def shown_value(value: object, personal: str | None) -> str | None:
    """The value as it may appear in a finding: masked if personal, shortened if long."""
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    # A phone or ID number can land in any field (a mistyped column); it is masked wherever it appears.
    text = mask(personal, text) if personal is not None else mask_embedded_identifiers(text)
    if len(text) > _MAX_SHOWN:
        return f"{text[:_MAX_SHOWN]}…（共 {len(text)} 字符）"
    return text


def describe_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


@dataclass(frozen=True, slots=True)
class Issue:
    code: str
    message_zh: str
    message_en: str
    field: str | None = None
    field_zh: str | None = None
    value: str | None = None
    severity: Severity = "error"

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "field_zh": self.field_zh,
            "value": self.value,
            "code": self.code,
            "severity": self.severity,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Issue:
        return cls(
            code=d["code"],
            message_zh=d["message_zh"],
            message_en=d["message_en"],
            field=d.get("field"),
            field_zh=d.get("field_zh"),
            value=d.get("value"),
            severity=d.get("severity", "error"),
        )


def make_issue(
    code: str,
    detail_zh: str,
    detail_en: str,
    *,
    field: str | None = None,
    field_zh: str | None = None,
    value: object = None,
    personal: str | None = None,
    severity: Severity = "error",
) -> Issue:
    shown = shown_value(value, personal)
    if field is None:
        zh, en = detail_zh, detail_en
    else:
        label = f"{field}（{field_zh}）" if field_zh else field
        if shown is None:
            zh, en = f"{label}：{detail_zh}", f"{field}: {detail_en}"
        else:
            zh, en = f"{label}={shown}：{detail_zh}", f"{field}={shown}: {detail_en}"
    return Issue(code, zh, en, field, field_zh, shown, severity)
