"""Points of one Table C-1 sub-criterion from its fact, by kind (flag, per item, per occurrence, …)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anju.evaluation.evidence import Evidence
from anju.evaluation.model import Criterion, CriterionKind


@dataclass(frozen=True)
class CriterionScore:
    criterion: Criterion
    points: float
    evidence: Evidence | None  # None: no fact, no points
    detail: str  # the arithmetic, in Chinese

    @property
    def missing(self) -> bool:
        return self.evidence is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "max": self.criterion.points,
            "kind": self.criterion.kind.value,
            "value": None
            if self.evidence is None
            else (
                list(self.evidence.value) if isinstance(self.evidence.value, tuple) else self.evidence.value
            ),
            "detail": self.detail,
            "evidence": None if self.evidence is None else self.evidence.to_dict(),
        }


def _g(x: float) -> str:
    return f"{x:g}"


def amount(c: Criterion, value: Any) -> int:
    """How many items / occurrences / accidents a value stands for (a flag: 1 when met)."""
    if c.kind is CriterionKind.flag:
        return 1 if value is True else 0
    if isinstance(value, tuple | list):
        return len(value)
    return int(value)


def points_for(c: Criterion, n: int) -> float:
    """The points of `n` items / occurrences / accidents (a flag: n is 1 when met)."""
    if c.kind is CriterionKind.flag:
        return c.points if n >= 1 else 0.0
    if c.kind in (CriterionKind.per_item, CriterionKind.per_occurrence):
        return min(c.points, n * c.per)
    if c.kind is CriterionKind.deduction:
        return max(0.0, c.points - n * c.penalty)
    return c.points if n >= c.minimum else 0.0


def score_criterion(c: Criterion, ev: Evidence | None) -> CriterionScore:
    if ev is None:
        return CriterionScore(c, 0.0, None, "缺少事实，不得分")
    n = amount(c, ev.value)
    pts = points_for(c, n)
    if c.kind is CriterionKind.flag:
        detail = f"已达成，得 {_g(pts)} 分" if n else "未达成，0 分"
    elif c.kind is CriterionKind.per_item:
        detail = f"{n} 项 × {_g(c.per)} = {_g(n * c.per)}，上限 {_g(c.points)}，得 {_g(pts)} 分"
    elif c.kind is CriterionKind.per_occurrence:
        detail = f"{n} {c.unit_zh} × {_g(c.per)} = {_g(n * c.per)}，上限 {_g(c.points)}，得 {_g(pts)} 分"
    elif c.kind is CriterionKind.deduction:
        detail = f"{_g(c.points)} − {n} {c.unit_zh} × {_g(c.penalty)}，不低于 0，得 {_g(pts)} 分"
    else:
        reached = "达到" if n >= c.minimum else "未达到"
        detail = f"{n} {c.unit_zh}，{reached} {_g(c.minimum)}，得 {_g(pts)} 分"
    return CriterionScore(c, pts, ev, detail)
