"""The record types of the Wuhan data standard, loaded from the package's data files.

Each record type is one YAML file in `anju/standard/data/records/`. Everything else — validators, tables,
exports, API schemas, docs — is derived from these objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from anju.yamlfiles import load_yaml

FieldType = Literal["VARCHAR2", "NUMBER", "DATE", "BLOB"]
FIELD_TYPES: tuple[str, ...] = ("VARCHAR2", "NUMBER", "DATE", "BLOB")
PERSONAL_KINDS = ("name", "id_number", "phone", "plate", "address", "photo", "biometric", "card")
CHECKS = ("id_number", "phone", "plate", "longitude", "latitude", "image")
CROSS_KINDS = ("id_number_when", "id_sex", "id_birth", "plate_type", "not_before")

_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")


class SpecError(ValueError):
    """A record-type data file is inconsistent."""


def _alias_key(name: str) -> str:
    """Header/key normal form: case, spaces, underscores and full-width brackets do not matter."""
    return re.sub(r"[\s_（）()]", "", name).upper()


@dataclass(frozen=True, slots=True)
class FieldSpec:
    seq: int
    code: str
    zh: str
    en: str
    type: FieldType
    required: bool
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    dictionary: str | None = None
    personal: str | None = None
    check: str | None = None
    future: bool = False
    seed_code: str | None = None
    seed_type: str | None = None
    seed_length: str | None = None
    resolution: str | None = None
    reading: str | None = None

    @property
    def column(self) -> str:
        return self.code.lower()

    def aliases(self) -> tuple[str, ...]:
        names = [self.code, self.zh, self.en]
        if self.seed_code and self.seed_code != self.code:
            names.append(self.seed_code)
        return tuple(dict.fromkeys(n for n in names if n))

    def type_text(self) -> str:
        if self.type == "VARCHAR2":
            return f"VARCHAR2({self.length})"
        if self.type == "NUMBER":
            if self.precision is None:
                return "NUMBER"
            return f"NUMBER({self.precision},{self.scale})" if self.scale else f"NUMBER({self.precision})"
        return self.type


@dataclass(frozen=True, slots=True)
class CrossRule:
    kind: str
    params: dict[str, Any]

    def fields(self) -> tuple[str, ...]:
        out: list[str] = []
        for key, value in self.params.items():
            if key == "when" and isinstance(value, dict):
                out.append(str(value["field"]))
            elif isinstance(value, str) and _CODE.match(value):
                out.append(value)
        return tuple(out)


@dataclass(frozen=True)
class RecordType:
    slug: str
    section: str
    title_zh: str
    title_en: str
    time_field: str | None
    device_field: str | None
    estate_field: str | None
    fields: tuple[FieldSpec, ...]
    cross: tuple[CrossRule, ...] = ()
    resolution: str | None = None

    @property
    def table_name(self) -> str:
        return f"rec_{self.slug}"

    def field(self, code: str) -> FieldSpec:
        for f in self.fields:
            if f.code == code:
                return f
        raise KeyError(code)

    def alias_map(self) -> dict[str, str]:
        """Maps every accepted input name (normal form) to its field code."""
        out: dict[str, str] = {}
        for f in self.fields:
            for name in f.aliases():
                out.setdefault(_alias_key(name), f.code)
        return out

    def resolve_name(self, name: str) -> str | None:
        return _alias_maps(self.slug).get(_alias_key(name))


@cache
def _alias_maps(slug: str) -> dict[str, str]:
    return load_standard()[slug].alias_map()


def _field(slug: str, raw: dict[str, Any]) -> FieldSpec:
    where = f"{slug}.{raw.get('code')}"
    code = raw.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise SpecError(f"{where}: code must match {_CODE.pattern}")
    if raw.get("type") not in FIELD_TYPES:
        raise SpecError(f"{where}: type must be one of {FIELD_TYPES}, not {raw.get('type')!r}")
    if raw["type"] == "VARCHAR2" and not isinstance(raw.get("length"), int):
        raise SpecError(f"{where}: VARCHAR2 needs an integer length")
    if raw.get("personal") not in (None, *PERSONAL_KINDS):
        raise SpecError(f"{where}: personal must be one of {PERSONAL_KINDS}")
    if raw.get("check") not in (None, *CHECKS):
        raise SpecError(f"{where}: check must be one of {CHECKS}")
    known = set(FieldSpec.__slots__)
    unknown = set(raw) - known
    if unknown:
        raise SpecError(f"{where}: unknown keys {sorted(unknown)}")
    return FieldSpec(**raw)


def _record_type(raw: dict[str, Any]) -> RecordType:
    slug = raw["slug"]
    fields = tuple(_field(slug, f) for f in raw["fields"])
    codes = [f.code for f in fields]
    if len(set(codes)) != len(codes):
        raise SpecError(f"{slug}: duplicate field codes {sorted({c for c in codes if codes.count(c) > 1})}")
    if "ID" not in codes:
        raise SpecError(f"{slug}: every record type needs an ID field")
    cross = tuple(
        CrossRule(kind=c["kind"], params={k: v for k, v in c.items() if k != "kind"})
        for c in raw.get("cross") or ()
    )
    for rule in cross:
        if rule.kind not in CROSS_KINDS:
            raise SpecError(f"{slug}: cross rule kind must be one of {CROSS_KINDS}, not {rule.kind!r}")
        for code in rule.fields():
            if code not in codes:
                raise SpecError(f"{slug}: cross rule {rule.kind} names unknown field {code}")
    for role in ("time_field", "device_field", "estate_field"):
        if raw.get(role) is not None and raw[role] not in codes:
            raise SpecError(f"{slug}: {role} {raw[role]} is not a field")
    return RecordType(
        slug=slug,
        section=raw["section"],
        title_zh=raw["title_zh"],
        title_en=raw["title_en"],
        time_field=raw.get("time_field"),
        device_field=raw.get("device_field"),
        estate_field=raw.get("estate_field"),
        fields=fields,
        cross=cross,
        resolution=raw.get("resolution"),
    )


@cache
def load_standard() -> dict[str, RecordType]:
    """All record types, in the seed's order. Package data never changes at run time, so it is cached."""
    folder = resources.files("anju.standard") / "data" / "records"
    types = [
        _record_type(load_yaml(entry.read_text(encoding="utf-8")))
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    ]
    types.sort(key=lambda t: _SECTION_ORDER.get(t.section, 99))
    return {t.slug: t for t in types}


_SECTION_ORDER = {
    f"三（{n}）": i
    for i, n in enumerate(["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"])
}


class UnknownRecordType(KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown record type {self.name!r}; expected one of: {', '.join(load_standard())}"


def record_type(slug: str) -> RecordType:
    try:
        return load_standard()[slug]
    except KeyError:
        raise UnknownRecordType(slug) from None
