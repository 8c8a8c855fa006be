"""Shandong tiers (数字强省办发〔2022〕4号): each indicator passes or fails; the tier reached is the highest
whose every indicator passes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from anju.evaluation.conditions import ConditionResult
from anju.evaluation.inputs import CommunityFacts
from anju.evaluation.model import ShandongSystem, Tier, TierIndicator


@dataclass(frozen=True)
class IndicatorResult:
    indicator: TierIndicator
    result: ConditionResult

    @property
    def passed(self) -> bool:
        return self.result.met

    def to_dict(self) -> dict[str, Any]:
        return {
            "no": self.indicator.no,
            "id": self.indicator.id,
            "name": self.indicator.zh,
            "category": self.indicator.category,
            "requirement": self.indicator.requirement,
            "passed": self.passed,
            "missing": self.result.missing_facts(),
            "conditions": self.result.to_dict(),
        }


@dataclass(frozen=True)
class TierResult:
    tier: Tier
    indicators: tuple[IndicatorResult, ...]

    @property
    def passed(self) -> bool:
        return all(i.passed for i in self.indicators)

    @property
    def failing(self) -> list[IndicatorResult]:
        return [i for i in self.indicators if not i.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier.key,
            "tier_zh": self.tier.zh,
            "passed": self.passed,
            "passed_count": sum(i.passed for i in self.indicators),
            "count": len(self.indicators),
            "indicators": [i.to_dict() for i in self.indicators],
        }


@dataclass(frozen=True)
class ShandongResult:
    code: str
    name: str
    tiers: tuple[TierResult, ...]  # lowest first, only those evaluated

    @property
    def reached(self) -> Tier | None:
        best = None
        for t in self.tiers:
            if t.passed:
                best = t.tier
        return best

    def to_dict(self) -> dict[str, Any]:
        reached = self.reached
        return {
            "code": self.code,
            "name": self.name,
            "reached": None if reached is None else reached.key,
            "reached_zh": None if reached is None else reached.zh,
            "tiers": {t.tier.key: t.to_dict() for t in self.tiers},
        }


def evaluate_tier(tier: Tier, community: CommunityFacts) -> TierResult:
    return TierResult(
        tier, tuple(IndicatorResult(i, i.condition.evaluate(community.facts)) for i in tier.indicators)
    )


def evaluate_shandong(
    system: ShandongSystem, community: CommunityFacts, tiers: Sequence[str] | None = None
) -> ShandongResult:
    chosen = [t for t in system.tiers if tiers is None or t.key in tiers]
    return ShandongResult(community.code, community.name, tuple(evaluate_tier(t, community) for t in chosen))
