"""Acceptance material in a structured form: YAML/JSON, or an XLSX sheet with one row per indicator.

YAML / JSON::

    communities:
      - name: 湖滨社区
        street: 宝都街道          # optional
        tier: growth              # basic | growth (or 基础型 | 成长型)
        indicators:
          - number: 1             # the tier's 序号 ("no" would be read by YAML as false)
            name: 有线宽带网络
            requirement: 家庭千兆光纤网络覆盖率达到80%   # optional: compared with the tier's text
            status: 达标           # optional; else read from the start of `text`
            text: 家庭千兆光纤网络覆盖率达到100%，其中…

XLSX: the first sheet, a heading row and one row per indicator; columns (Chinese or English headings):
社区/community, 街道/street, 等级/tier, 序号/number, 二级指标/name, 指标释义/definition, 标准要求/requirement,
结论/status, 本社区完成情况/text. Only community, tier, number and text are required.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import yaml

from anju.evaluation.claims.model import ClaimDocument, CommunityClaim, IndicatorClaim
from anju.evaluation.claims.notice import TIER_LABELS, VERDICT
from anju.evaluation.errors import EvaluationError, parse_error_text
from anju.yamlfiles import load_yaml

TIER_KEYS = {**TIER_LABELS, **{v: v for v in TIER_LABELS.values()}}
TIER_ZH = {v: k for k, v in TIER_LABELS.items()}
COLUMNS = {
    "community": ("社区", "社区名称", "community"),
    "street": ("街道", "street"),
    "tier": ("等级", "类型", "tier"),
    "number": ("序号", "number", "no"),
    "name": ("二级指标", "name"),
    "definition": ("指标释义", "definition"),
    "requirement": ("标准要求", "requirement"),
    "status": ("结论", "是否达标", "status"),
    "text": ("本社区完成情况", "完成情况", "text"),
}
FIELD_ALIASES = {alias: key for key, aliases in COLUMNS.items() for alias in aliases}


def _tier(value: Any, where: str) -> str:
    key = TIER_KEYS.get(str(value).strip()) if value is not None else None
    if key is None:
        raise EvaluationError.bad_value(
            where, "tier", value, "basic, growth, benchmark (基础型, 成长型, 标杆型)"
        )
    return key


def _status_and_text(status: Any, text: str, where: str) -> tuple[str | None, str]:
    if status is None or str(status).strip() == "":
        m = VERDICT.match(text)
        if m:
            return ("达标" if m.group("status") == "达标" else "未达标"), text[m.end() :].strip()
        return None, text.strip()
    s = str(status).strip().rstrip("。.")
    if s not in ("达标", "未达标", "不达标"):
        raise EvaluationError.bad_value(where, "status", status, "达标 or 未达标")
    return ("达标" if s == "达标" else "未达标"), text.strip()


def _number(value: Any, where: str) -> int:
    expected = "the indicator's 序号 (a whole number ≥ 1)"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise EvaluationError.bad_value(where, "number", value, expected)
    try:
        f = float(value.strip()) if isinstance(value, str) else float(value)
    except ValueError:
        raise EvaluationError.bad_value(where, "number", value, expected) from None
    if not f.is_integer() or f < 1:
        raise EvaluationError.bad_value(where, "number", value, expected)
    return int(f)


def _text(value: Any, field: str, where: str, required: bool = False) -> str:
    if value is None:
        if required:
            raise EvaluationError.bad_value(where, field, value, "text")
        return ""
    if not isinstance(value, str | int | float):
        raise EvaluationError.bad_value(where, field, value, "text")
    return str(value)


def parse_structured(data: Any, source: str) -> ClaimDocument:
    if not isinstance(data, dict) or not isinstance(data.get("communities"), list) or not data["communities"]:
        raise EvaluationError.bad_value(source, "communities", None, "a non-empty list of communities")
    out = []
    for i, raw in enumerate(data["communities"]):
        where = f"{source}: communities[{i}]"
        if not isinstance(raw, dict):
            raise EvaluationError.bad_value(
                where, "community", raw, "a mapping with name, tier and indicators"
            )
        name = _text(raw.get("name"), "name", where, required=True).strip()
        tier = _tier(raw.get("tier"), where)
        rows_raw = raw.get("indicators")
        if not isinstance(rows_raw, list) or not rows_raw:
            raise EvaluationError.bad_value(
                where, "indicators", rows_raw, "a non-empty list of indicator rows"
            )
        rows = []
        for j, r in enumerate(rows_raw):
            w = f"{where}.indicators[{j}]"
            if not isinstance(r, dict):
                raise EvaluationError.bad_value(w, "row", r, "a mapping with number and text")
            r = {FIELD_ALIASES.get(str(k), str(k)): v for k, v in r.items()}
            if "number" not in r:
                raise EvaluationError.bad_value(w, "number", None, "the indicator's 序号")
            status, text = _status_and_text(r.get("status"), _text(r.get("text"), "text", w, True), w)
            rows.append(
                IndicatorClaim(
                    no=_number(r["number"], w),
                    name=_text(r.get("name"), "name", w),
                    definition=_text(r.get("definition"), "definition", w),
                    requirement=_text(r.get("requirement"), "requirement", w),
                    status=status,
                    text=text,
                    line=0,
                )
            )
        out.append(
            CommunityClaim(
                name=name,
                street=_text(raw.get("street"), "street", where),
                tier=tier,
                tier_label=TIER_ZH[tier],
                indicators=tuple(rows),
            )
        )
    return ClaimDocument(source, tuple(out))


def read_structured(path: Path) -> ClaimDocument:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationError(f"{path}: cannot read the file ({exc})") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else load_yaml(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = parse_error_text(exc)
        raise EvaluationError(f"{path}: not valid YAML/JSON: {first}") from None
    return parse_structured(data, str(path))


def read_xlsx(path: Path) -> ClaimDocument:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise EvaluationError(f"{path}: not a readable XLSX workbook ({type(exc).__name__})") from None
    try:
        rows = list(wb.worksheets[0].iter_rows(values_only=True))
    finally:
        wb.close()
    if not rows:
        raise EvaluationError(f"{path}: the first sheet is empty")
    header = [FIELD_ALIASES.get(str(h).strip(), "") if h is not None else "" for h in rows[0]]
    for needed in ("community", "tier", "number", "text"):
        if needed not in header:
            names = "/".join(COLUMNS[needed])
            raise EvaluationError.bad_value(f"{path}: row 1", "column", needed, f"a heading {names}")
    communities: dict[str, dict[str, Any]] = {}
    for n, values in enumerate(rows[1:], start=2):
        row = {h: v for h, v in zip(header, values, strict=False) if h}
        if all(v is None or str(v).strip() == "" for v in row.values()):
            continue
        name = str(row.get("community") or "").strip()
        if not name:
            raise EvaluationError.bad_value(
                f"{path}: row {n}", "community", row.get("community"), "a community name"
            )
        entry = communities.setdefault(
            name, {"name": name, "street": row.get("street") or "", "tier": row.get("tier"), "indicators": []}
        )
        if _tier(row.get("tier"), f"{path}: row {n}") != _tier(entry["tier"], f"{path}: row {n}"):
            raise EvaluationError.bad_value(
                f"{path}: row {n}", "tier", row.get("tier"), f"{entry['tier']} like the rows above"
            )
        entry["indicators"].append(
            {k: row.get(k) for k in COLUMNS if k not in ("community", "street", "tier")}
        )
    return parse_structured({"communities": list(communities.values())}, str(path))


def read_claims(path: Path) -> ClaimDocument:
    """Any supported form, by the file's suffix: .txt (the published notice), .yaml/.yml/.json, .xlsx."""
    from anju.evaluation.claims.notice import read_notice

    if not path.is_file():
        raise EvaluationError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml", ".json"):
        return read_structured(path)
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path)
    return read_notice(path)
