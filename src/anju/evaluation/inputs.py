"""Input files of facts (`communities: [{code, name, facts: {KEY: value}}]`) and the check of every value.

A value is checked against the kind of its key, wherever it comes from (file or provider): a criterion's
flag is true/false, a per-item fact a list of item keys (or names) or their count, occurrences and
accidents are counts; Wuhan and Shandong facts are flags, counts, numbers or percentages. A fact may also
be written as a mapping `{value: …, note: …, by: …, at: …, files: […]}`; with `by` it is an attestation.
Every error names the field, the value and what is expected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from anju.evaluation.errors import EvaluationError, NoFactsError, parse_error_text
from anju.evaluation.evidence import Evidence, FactValue, ProviderRegistry, SourceKind, merge_facts
from anju.evaluation.model import Criterion, CriterionKind
from anju.evaluation.systems import paper_system, shandong_system, wuhan_system
from anju.yamlfiles import load_yaml

ATTESTATION_FIELDS = ("value", "note", "by", "at", "files", "references")


@dataclass(frozen=True)
class CommunityFacts:
    code: str
    name: str
    facts: dict[str, Evidence] = field(default_factory=dict)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@cache
def _checklist_kinds() -> dict[str, str]:
    return {f.key: f.kind for f in (*wuhan_system().facts, *shandong_system().facts)}


def check_value(key: str, value: Any, where: str) -> FactValue:
    """The value in canonical form, or an error naming `where`, the key, the value and what is expected."""
    criteria = paper_system().criteria
    if key in criteria:
        return _check_criterion(criteria[key], value, where)
    kind = _checklist_kinds().get(key)
    if kind is None:
        raise EvaluationError.bad_value(
            where,
            "fact key",
            key,
            "a key of the paper (SE11.1 … SE72.3), Wuhan (WH.…) or Shandong (SD.…) systems; "
            "`anju evaluate systems show SYSTEM` lists them",
        )
    field_name = f"facts.{key}"
    if kind == "flag":
        if not isinstance(value, bool):
            raise EvaluationError.bad_value(where, field_name, value, "true or false")
        return value
    if kind == "count":
        if not _is_int(value) or value < 0:
            raise EvaluationError.bad_value(where, field_name, value, "a whole number ≥ 0")
        return int(value)
    if not _is_number(value) or value < 0:
        raise EvaluationError.bad_value(where, field_name, value, "a number ≥ 0")
    if kind == "percent" and value > 100:
        raise EvaluationError.bad_value(where, field_name, value, "a percentage between 0 and 100")
    return float(value) if isinstance(value, float) else int(value)


def _check_criterion(c: Criterion, value: Any, where: str) -> FactValue:
    field_name = f"facts.{c.key}"
    if c.kind is CriterionKind.flag:
        if not isinstance(value, bool):
            raise EvaluationError.bad_value(where, field_name, value, "true or false")
        return value
    if c.kind is CriterionKind.per_item:
        limit = None if c.open else len(c.items)
        if _is_int(value):
            if value < 0 or (limit is not None and value > limit):
                bound = f"between 0 and {limit}" if limit is not None else "≥ 0"
                raise EvaluationError.bad_value(where, field_name, value, f"a count of items {bound}")
            return int(value)
        if isinstance(value, list):
            return _items(c, value, where)
        raise EvaluationError.bad_value(
            where, field_name, value, f"a list of items ({', '.join(i.key for i in c.items)}) or their count"
        )
    if not _is_int(value) or value < 0:
        unit = c.unit_en or "occurrences"
        raise EvaluationError.bad_value(where, field_name, value, f"a whole number ≥ 0 ({unit})")
    return int(value)


def _items(c: Criterion, values: list[Any], where: str) -> tuple[str, ...]:
    lookup: dict[str, str] = {}
    for item in c.items:
        for name in (item.key, item.zh, item.en):
            lookup[name.casefold()] = item.key
    seen: dict[str, None] = {}
    for i, raw in enumerate(values):
        if not isinstance(raw, str) or not raw.strip():
            raise EvaluationError.bad_value(where, f"facts.{c.key}[{i}]", raw, "an item name (text)")
        key = lookup.get(raw.strip().casefold())
        if key is None:
            if not c.open:
                expected = "one of " + ", ".join(f"{it.key} ({it.zh})" for it in c.items)
                raise EvaluationError.bad_value(where, f"facts.{c.key}[{i}]", raw, expected)
            key = raw.strip()  # the list is open ("and so on"): another item of the kind counts too
        seen[key] = None
    return tuple(seen)


def _evidence(raw: Any, key: str, where: str, path: Path, loc: str) -> Evidence:
    ref = f"{path.name}#{loc}.facts.{key}"
    if isinstance(raw, dict):
        unknown = set(raw) - set(ATTESTATION_FIELDS)
        if "value" not in raw or unknown:
            raise EvaluationError.bad_value(
                where,
                f"facts.{key}",
                raw,
                "a value, or a mapping with value and optional note, by, at, files, references",
            )
        value = check_value(key, raw["value"], where)
        files = raw.get("files", [])
        refs = raw.get("references", [])
        if not isinstance(files, list) or not isinstance(refs, list):
            raise EvaluationError.bad_value(where, f"facts.{key}.files", files, "a list of file names")
        note = str(raw.get("note", "") or "")
        if raw.get("by"):
            when = raw.get("at")
            when_s = when.isoformat() if isinstance(when, date | datetime) else str(when or "")
            desc = (
                f"由 {raw['by']} 声明" + (f"（{when_s}）" if when_s else "") + (f"：{note}" if note else "")
            )
            return Evidence(value, SourceKind.attestation, desc, (ref, *map(str, files), *map(str, refs)))
        return Evidence(value, SourceKind.input_file, note or f"输入文件 {path.name}", (ref, *map(str, refs)))
    value = check_value(key, raw, where)
    return Evidence(value, SourceKind.input_file, f"输入文件 {path.name}", (ref,))


def parse_communities(data: Any, path: Path) -> list[CommunityFacts]:
    if not isinstance(data, dict) or "communities" not in data:
        raise EvaluationError.bad_value(
            str(path), "top level", type(data).__name__, "a mapping with 'communities'"
        )
    raw_list = data["communities"]
    if not isinstance(raw_list, list) or not raw_list:
        raise EvaluationError.bad_value(str(path), "communities", raw_list, "a non-empty list of communities")
    out: list[CommunityFacts] = []
    codes: set[str] = set()
    for i, raw in enumerate(raw_list):
        where = f"communities[{i}]"
        if not isinstance(raw, dict):
            raise EvaluationError.bad_value(f"{path}", where, raw, "a mapping with code, name and facts")
        unknown = set(raw) - {"code", "name", "facts"}
        if unknown:
            raise EvaluationError.bad_value(
                f"{path}: {where}", "field", sorted(unknown)[0], "code, name or facts"
            )
        code = raw.get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            code = str(code)
        if not isinstance(code, str) or not code.strip():
            raise EvaluationError.bad_value(f"{path}: {where}", "code", code, "a non-empty community code")
        if code in codes:
            raise EvaluationError.bad_value(
                f"{path}: {where}", "code", code, "a code not used by another community"
            )
        codes.add(code)
        name = raw.get("name", code)
        if not isinstance(name, str):
            raise EvaluationError.bad_value(f"{path}: {where}", "name", name, "text")
        facts_raw = raw.get("facts", {}) or {}
        if not isinstance(facts_raw, dict):
            raise EvaluationError.bad_value(f"{path}: {where}", "facts", facts_raw, "a mapping KEY: value")
        facts = {str(k): _evidence(v, str(k), f"{path}: {where}", path, where) for k, v in facts_raw.items()}
        out.append(CommunityFacts(code.strip(), name, facts))
    return out


def read_input(path: Path) -> list[CommunityFacts]:
    """Communities and their facts from a YAML or JSON file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise EvaluationError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationError(f"{path}: cannot read the file ({exc})") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else load_yaml(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = parse_error_text(exc)
        raise EvaluationError(
            f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {first}"
        ) from None
    return parse_communities(data, path)


def _checked(provider_facts: Mapping[str, Evidence], code: str) -> dict[str, Evidence]:
    out = {}
    for key, ev in provider_facts.items():
        where = f"evidence provider {ev.provider!r} for community {code}"
        value = ev.value if not isinstance(ev.value, tuple) else list(ev.value)
        out[key] = Evidence(
            check_value(key, value, where),
            ev.source,
            ev.description,
            ev.references,
            ev.provider,
            ev.as_of,
            ev.superseded,
        )
    return out


def gather(
    file_communities: Sequence[CommunityFacts],
    selected: Sequence[str],
    registry: ProviderRegistry,
    as_of: date,
) -> list[CommunityFacts]:
    """Merges the input file (if any) with the providers: provider facts first, the file overrides them.

    With a file, `selected` picks communities of the file (all when empty); without one, `selected` names
    the communities to take from the providers alone.
    """
    if file_communities:
        by_code = {c.code: c for c in file_communities}
        missing = [code for code in selected if code not in by_code]
        if missing:
            raise EvaluationError.bad_value(
                "--community", "code", missing[0], f"a community of the input file ({', '.join(by_code)})"
            )
        chosen = [by_code[c] for c in selected] if selected else list(file_communities)
    else:
        if not selected:
            raise EvaluationError("give --input FILE or at least one --community CODE")
        if not registry:
            raise NoFactsError(
                f"no facts available for community {selected[0]}: no evidence provider is registered "
                "(platform data providers come with the modules that own the data); give --input FILE"
            )
        chosen = [CommunityFacts(code, code, {}) for code in selected]
    out = []
    for c in chosen:
        provided = _checked(registry.gather(c.code, as_of), c.code) if registry else {}
        merged = merge_facts(provided, c.facts)
        if not merged and not file_communities:
            raise NoFactsError(
                f"no facts available for community {c.code}: the registered evidence providers "
                f"({', '.join(p.name for p in registry.providers)}) know nothing about it"
            )
        out.append(CommunityFacts(c.code, c.name, merged))
    return out
