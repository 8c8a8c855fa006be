"""Wuhan acceptance (seed 003 §五): 70 smart + 30 safe points, item by item, pass at 90."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anju.evaluation.conditions import ConditionResult
from anju.evaluation.inputs import CommunityFacts
from anju.evaluation.model import WuhanItem, WuhanSystem, WuhanVariant


@dataclass(frozen=True)
class WuhanItemResult:
    item: WuhanItem
    result: ConditionResult

    @property
    def points(self) -> int:
        # the seed gives no partial marks: an item scores its points when all it asks holds
        return self.item.points if self.result.met else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "no": self.item.no,
            "category": self.item.category,
            "text": self.item.text,
            "points": self.points,
            "max": self.item.points,
            "met": self.result.met,
            "missing": self.result.missing_facts(),
            "conditions": self.result.to_dict(),
        }


@dataclass(frozen=True)
class WuhanResult:
    code: str
    name: str
    variant: WuhanVariant
    pass_mark: float
    items: tuple[WuhanItemResult, ...]

    def category_points(self, key: str) -> int:
        return sum(i.points for i in self.items if i.item.category == key)

    @property
    def total(self) -> int:
        return sum(i.points for i in self.items)

    @property
    def passed(self) -> bool:
        return self.total >= self.pass_mark

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "variant": self.variant.key,
            "smart": self.category_points("smart"),
            "safe": self.category_points("safe"),
            "total": self.total,
            "pass_mark": self.pass_mark,
            "passed": self.passed,
            "items": [i.to_dict() for i in self.items],
        }


def evaluate_wuhan(system: WuhanSystem, variant: str, community: CommunityFacts) -> WuhanResult:
    v = system.variant(variant)
    items = tuple(WuhanItemResult(item, item.condition.evaluate(community.facts)) for item in v.items)
    return WuhanResult(community.code, community.name, v, system.pass_mark, items)
