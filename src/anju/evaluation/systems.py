"""Loads the three indicator systems from the package's data files and checks them against the seeds.

`evaluation/data/paper.yaml`, `wuhan.yaml` and `shandong.yaml` are the single source of every code,
point, threshold and text; this module only turns them into typed objects and refuses inconsistent data
(points that do not add up, unknown fact keys), so that a wrong edit fails at load, not mid-evaluation.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from anju.evaluation.conditions import parse_condition
from anju.evaluation.errors import SystemDataError
from anju.evaluation.model import (
    Category,
    Criterion,
    CriterionKind,
    Dimension,
    FactKind,
    FactSpec,
    Indicator,
    NamedItem,
    PaperSystem,
    ShandongSystem,
    Tier,
    TierIndicator,
    WuhanItem,
    WuhanSystem,
    WuhanVariant,
)
from anju.yamlfiles import load_yaml

SYSTEMS = ("paper", "wuhan", "shandong")
FACT_KINDS: tuple[FactKind, ...] = ("flag", "count", "number", "percent")


def _read(name: str) -> dict[str, Any]:
    text = (resources.files("anju.evaluation") / "data" / f"{name}.yaml").read_text(encoding="utf-8")
    data = load_yaml(text)
    if not isinstance(data, dict) or data.get("system") != name:
        raise SystemDataError(f"{name}.yaml: expected a mapping with system: {name}")
    return data


def _close(a: float, b: float) -> bool:
    return abs(a - b) < 1e-9


def _criterion(raw: dict[str, Any], indicator: str, position: int) -> Criterion:
    key = f"{indicator}.{position}"
    if raw.get("key") != key:
        raise SystemDataError(f"paper.yaml: criterion {position} of {indicator} must have key {key}")
    kind = CriterionKind(raw["kind"])
    items = tuple(NamedItem(str(i["key"]), str(i["zh"]), str(i["en"])) for i in raw.get("items", ()))
    crit = Criterion(
        key=key,
        indicator=indicator,
        kind=kind,
        points=float(raw["points"]),
        text=str(raw["text"]),
        zh=str(raw["zh"]),
        per=float(raw.get("per", 0)),
        penalty=float(raw.get("penalty", 0)),
        minimum=float(raw.get("minimum", 0)),
        items=items,
        open=bool(raw.get("open", False)),
        unit_zh=str(raw.get("unit_zh", "")),
        unit_en=str(raw.get("unit_en", "")),
        reading=str(raw.get("reading", "")),
    )
    if kind in (CriterionKind.per_item, CriterionKind.per_occurrence) and crit.per <= 0:
        raise SystemDataError(f"paper.yaml: {key} needs per > 0")
    if kind is CriterionKind.per_item:
        if not items:
            raise SystemDataError(f"paper.yaml: {key} needs its items")
        if len({i.key for i in items}) != len(items):
            raise SystemDataError(f"paper.yaml: {key} repeats an item")
        # a closed list must be able to reach the points exactly (SE32.2: 6 x 8 = 48)
        if not crit.open and not _close(len(items) * crit.per, crit.points):
            raise SystemDataError(f"paper.yaml: {key}: {len(items)} items x {crit.per} != {crit.points}")
    if kind is CriterionKind.deduction and crit.penalty <= 0:
        raise SystemDataError(f"paper.yaml: {key} needs penalty > 0")
    if kind is CriterionKind.threshold and crit.minimum <= 0:
        raise SystemDataError(f"paper.yaml: {key} needs minimum > 0")
    return crit


@cache
def paper_system() -> PaperSystem:
    data = _read("paper")
    dims = []
    for d in data["dimensions"]:
        inds = []
        for i in d["indicators"]:
            code = str(i["code"])
            crits = tuple(_criterion(c, code, n) for n, c in enumerate(i["criteria"], start=1))
            total = sum(c.points for c in crits)
            if not _close(total, 100):
                raise SystemDataError(f"paper.yaml: the criteria of {code} add up to {total}, not 100")
            inds.append(Indicator(code, str(d["code"]), str(i["zh"]), str(i["en"]), crits))
        dims.append(Dimension(str(d["code"]), str(d["zh"]), str(d["en"]), tuple(inds)))
    system = PaperSystem(str(data["title_zh"]), str(data["title_en"]), str(data["source"]), tuple(dims))
    if len(system.dimensions) != 7 or len(system.indicators) != 32:
        raise SystemDataError("paper.yaml: the paper has 7 dimensions and 32 indicators")
    return system


def _facts(data: dict[str, Any], name: str, prefix: str) -> tuple[FactSpec, ...]:
    specs = []
    for raw in data["facts"]:
        key, kind = str(raw["key"]), raw["kind"]
        if not key.startswith(prefix) or kind not in FACT_KINDS:
            raise SystemDataError(
                f"{name}.yaml: fact {key!r}: key must start with {prefix}, kind in {FACT_KINDS}"
            )
        specs.append(FactSpec(key, kind, str(raw["zh"]), str(raw["en"]), bool(raw.get("context", False))))
    if len({s.key for s in specs}) != len(specs):
        raise SystemDataError(f"{name}.yaml: a fact key is listed twice")
    return tuple(specs)


@cache
def wuhan_system() -> WuhanSystem:
    data = _read("wuhan")
    facts = _facts(data, "wuhan", "WH.")
    keys = frozenset(f.key for f in facts)
    categories = tuple(
        Category(str(c["key"]), str(c["zh"]), str(c["en"]), int(c["points"])) for c in data["categories"]
    )

    def item(raw: dict[str, Any], where: str) -> WuhanItem:
        return WuhanItem(
            no=int(raw["number"]),
            category=str(raw["category"]),
            points=int(raw["points"]),
            text=str(raw["text"]),
            condition=parse_condition(raw["require"], f"wuhan.yaml {where}", keys),
            reading=str(raw.get("reading", "")),
        )

    shared = [item(r, f"shared item {r['number']}") for r in data["shared_items"]]
    variants = []
    for v in data["variants"]:
        items = tuple([item(r, f"{v['key']} item {r['number']}") for r in v["items"]] + shared)
        for cat in categories:
            total = sum(i.points for i in items if i.category == cat.key)
            if total != cat.points:
                raise SystemDataError(
                    f"wuhan.yaml: {v['key']} {cat.key} items add up to {total}, not {cat.points}"
                )
        if [i.no for i in items] != sorted({i.no for i in items}):
            raise SystemDataError(f"wuhan.yaml: {v['key']} item numbers out of order or repeated")
        variants.append(WuhanVariant(str(v["key"]), str(v["zh"]), str(v["en"]), items))
    used = {k for v in variants for i in v.items for k in i.condition.fact_keys()}
    if unused := keys - used:
        raise SystemDataError(f"wuhan.yaml: facts no item uses: {sorted(unused)}")
    return WuhanSystem(
        title_zh=str(data["title_zh"]),
        title_en=str(data["title_en"]),
        source=str(data["source"]),
        pass_mark=float(data["pass_mark"]),
        pass_text=str(data["pass_text"]),
        categories=categories,
        facts=facts,
        variants=tuple(variants),
    )


@cache
def shandong_system() -> ShandongSystem:
    data = _read("shandong")
    facts = _facts(data, "shandong", "SD.")
    keys = frozenset(f.key for f in facts)
    per_tier: dict[str, list[TierIndicator]] = {str(t["key"]): [] for t in data["tiers"]}
    for raw in data["indicators"]:
        for tier_key, spec in raw["tiers"].items():
            if tier_key not in per_tier:
                raise SystemDataError(f"shandong.yaml: {raw['id']}: unknown tier {tier_key!r}")
            per_tier[tier_key].append(
                TierIndicator(
                    id=str(raw["id"]),
                    no=int(spec["number"]),
                    category=str(raw["category"]),
                    zh=str(raw["zh"]),
                    en=str(raw["en"]),
                    definition=str(spec.get("definition", raw["definition"])),
                    requirement=str(spec["requirement"]),
                    condition=parse_condition(spec["require"], f"shandong.yaml {raw['id']}/{tier_key}", keys),
                    reading=str(spec.get("reading", "")),
                )
            )
    tiers = []
    for t in data["tiers"]:
        inds = sorted(per_tier[str(t["key"])], key=lambda i: i.no)
        if [i.no for i in inds] != list(range(1, len(inds) + 1)):
            raise SystemDataError(f"shandong.yaml: tier {t['key']} numbers are not 1..{len(inds)}")
        tiers.append(Tier(str(t["key"]), str(t["zh"]), str(t["en"]), tuple(inds)))
    system = ShandongSystem(
        str(data["title_zh"]), str(data["title_en"]), str(data["source"]), facts, tuple(tiers)
    )
    counts = {t.key: len(t.indicators) for t in system.tiers}
    if counts.get("basic") != 22 or counts.get("growth") != 28:
        raise SystemDataError(f"shandong.yaml: 基础型 has 22 indicators and 成长型 28, got {counts}")
    return system


def fact_kinds() -> dict[str, FactKind | str]:
    """Every input key of the three systems and its kind (paper keys carry their criterion kind)."""
    kinds: dict[str, FactKind | str] = {k: c.kind.value for k, c in paper_system().criteria.items()}
    kinds.update({f.key: f.kind for f in wuhan_system().facts})
    kinds.update({f.key: f.kind for f in shandong_system().facts})
    return kinds
