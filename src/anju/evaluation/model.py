"""The three indicator systems as typed objects (built from the data files by `systems`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from anju.evaluation.conditions import Condition


class CriterionKind(StrEnum):
    flag = "flag"
    per_item = "per_item"
    per_occurrence = "per_occurrence"
    deduction = "deduction"
    threshold = "threshold"


KIND_ZH = {
    CriterionKind.flag: "达成即得分",
    CriterionKind.per_item: "按项计分",
    CriterionKind.per_occurrence: "按次计分",
    CriterionKind.deduction: "按次扣分",
    CriterionKind.threshold: "达到数量即得分",
}


@dataclass(frozen=True)
class NamedItem:
    key: str
    zh: str
    en: str


@dataclass(frozen=True)
class Criterion:
    """One sub-criterion of Table C-1; its key (SE32.2) is also its input fact key."""

    key: str
    indicator: str
    kind: CriterionKind
    points: float
    text: str  # Table C-1, verbatim (English)
    zh: str
    per: float = 0.0  # per_item, per_occurrence
    penalty: float = 0.0  # deduction
    minimum: float = 0.0  # threshold
    items: tuple[NamedItem, ...] = ()
    open: bool = False  # per_item list ends with "and so on": other items count too
    unit_zh: str = ""
    unit_en: str = ""
    reading: str = ""

    def input_zh(self) -> str:
        if self.kind is CriterionKind.flag:
            return "是否达成（true/false）"
        if self.kind is CriterionKind.per_item:
            names = "、".join(i.zh for i in self.items)
            more = "（及其他同类项）" if self.open else ""
            return f"项目列表或项数：{names}{more}"
        if self.kind is CriterionKind.threshold:
            return f"数量（{self.unit_zh}），达到 {self.minimum:g} 得分"
        return f"次数（{self.unit_zh}）"

    def input_en(self) -> str:
        if self.kind is CriterionKind.flag:
            return "met (true/false)"
        if self.kind is CriterionKind.per_item:
            keys = ", ".join(i.key for i in self.items)
            more = " (and others of the kind)" if self.open else ""
            return f"list of items or their count: {keys}{more}"
        if self.kind is CriterionKind.threshold:
            return f"count ({self.unit_en}); scores at {self.minimum:g}"
        return f"count ({self.unit_en})"


@dataclass(frozen=True)
class Indicator:
    code: str
    dimension: str
    zh: str
    en: str
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class Dimension:
    code: str
    zh: str
    en: str
    indicators: tuple[Indicator, ...]


@dataclass(frozen=True)
class PaperSystem:
    title_zh: str
    title_en: str
    source: str
    dimensions: tuple[Dimension, ...]

    @property
    def indicators(self) -> tuple[Indicator, ...]:
        return tuple(i for d in self.dimensions for i in d.indicators)

    @property
    def criteria(self) -> dict[str, Criterion]:
        return {c.key: c for i in self.indicators for c in i.criteria}


FactKind = Literal["flag", "count", "number", "percent"]


@dataclass(frozen=True)
class FactSpec:
    key: str
    kind: FactKind
    zh: str
    en: str
    context: bool = False  # what the community is (estate type, population), not something to change


@dataclass(frozen=True)
class WuhanItem:
    no: int
    category: str  # smart | safe
    points: int
    text: str
    condition: Condition
    reading: str = ""


@dataclass(frozen=True)
class WuhanVariant:
    key: str
    zh: str
    en: str
    items: tuple[WuhanItem, ...]


@dataclass(frozen=True)
class Category:
    key: str
    zh: str
    en: str
    points: int


@dataclass(frozen=True)
class WuhanSystem:
    title_zh: str
    title_en: str
    source: str
    pass_mark: float
    pass_text: str
    categories: tuple[Category, ...]
    facts: tuple[FactSpec, ...]
    variants: tuple[WuhanVariant, ...]

    @property
    def context(self) -> frozenset[str]:
        return frozenset(f.key for f in self.facts if f.context)

    def variant(self, key: str) -> WuhanVariant:
        for v in self.variants:
            if v.key == key:
                return v
        raise KeyError(key)


@dataclass(frozen=True)
class TierIndicator:
    """One indicator as one tier asks it: its number in the tier, requirement text and conditions."""

    id: str
    no: int
    category: str
    zh: str
    en: str
    definition: str
    requirement: str
    condition: Condition
    reading: str = ""


@dataclass(frozen=True)
class Tier:
    key: str
    zh: str
    en: str
    indicators: tuple[TierIndicator, ...]

    def indicator(self, no: int) -> TierIndicator | None:
        for ind in self.indicators:
            if ind.no == no:
                return ind
        return None

    def by_id(self, indicator_id: str) -> TierIndicator | None:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        return None


@dataclass(frozen=True)
class ShandongSystem:
    title_zh: str
    title_en: str
    source: str
    facts: tuple[FactSpec, ...]
    tiers: tuple[Tier, ...]  # lowest first

    @property
    def context(self) -> frozenset[str]:
        return frozenset(f.key for f in self.facts if f.context)

    def tier(self, key: str) -> Tier:
        for t in self.tiers:
            if key in (t.key, t.zh):
                return t
        raise KeyError(key)
