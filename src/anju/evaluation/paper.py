"""The paper's index over a set of communities: indicator scores, weights, weighted and dimension scores,
TOPSIS closeness and rank — each score with the evidence of the facts it used."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from anju.evaluation.criteria import CriterionScore, score_criterion
from anju.evaluation.critic_topsis import CriticUndefined, competition_ranks, critic_weights, topsis_closeness
from anju.evaluation.errors import EvaluationError
from anju.evaluation.inputs import CommunityFacts
from anju.evaluation.model import PaperSystem

MIN_FOR_CRITIC = 3


class Weighting(StrEnum):
    critic = "critic"
    equal = "equal"
    configured = "configured"


@dataclass(frozen=True)
class PaperCommunity:
    code: str
    name: str
    criteria: dict[str, CriterionScore]
    indicators: dict[str, float]  # 0-100
    dimensions: dict[str, float]  # 0-100, weighted within the dimension
    score: float  # 0-100, Σ weight x indicator
    closeness: float | None  # None where TOPSIS is undefined (all communities identical)
    rank: int

    @property
    def missing(self) -> list[str]:
        return [k for k, s in self.criteria.items() if s.missing]

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "indicators": self.indicators,
            "dimensions": self.dimensions,
            "score": self.score,
            "closeness": self.closeness,
            "rank": self.rank,
            "criteria": {k: s.to_dict() for k, s in self.criteria.items()},
            "missing": self.missing,
        }


@dataclass(frozen=True)
class PaperResult:
    system: PaperSystem
    weighting: Weighting
    weighting_note: str
    weights: dict[str, float]
    communities: tuple[PaperCommunity, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": "paper",
            "weighting": self.weighting.value,
            "weighting_note": self.weighting_note,
            "weights": self.weights,
            "dimension_weights": {
                d.code: sum(self.weights[i.code] for i in d.indicators) for d in self.system.dimensions
            },
            "communities": [c.to_dict() for c in self.communities],
        }


def indicator_scores(
    system: PaperSystem, community: CommunityFacts
) -> tuple[dict[str, CriterionScore], dict[str, float]]:
    criteria = {key: score_criterion(c, community.facts.get(key)) for key, c in system.criteria.items()}
    indicators = {
        ind.code: float(sum(criteria[c.key].points for c in ind.criteria)) for ind in system.indicators
    }
    return criteria, indicators


def check_configured(system: PaperSystem, raw: Mapping[str, Any], where: str) -> dict[str, float]:
    codes = [i.code for i in system.indicators]
    unknown = [k for k in raw if k not in codes]
    if unknown:
        raise EvaluationError.bad_value(where, "indicator", unknown[0], "an indicator code SE11 … SE72")
    weights = {}
    for code in codes:
        v = raw.get(code, 0)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
            raise EvaluationError.bad_value(where, code, v, "a weight ≥ 0")
        weights[code] = float(v)
    total = sum(weights.values())
    if total <= 0:
        raise EvaluationError.bad_value(where, "weights", total, "at least one weight above 0")
    return {k: v / total for k, v in weights.items()}


def evaluate_paper(
    system: PaperSystem,
    communities: Sequence[CommunityFacts],
    *,
    weighting: Weighting | None = None,
    configured: Mapping[str, float] | None = None,
) -> PaperResult:
    """Scores every community; `weighting` None means CRITIC when there are at least 3 communities."""
    codes = [i.code for i in system.indicators]
    scored = [indicator_scores(system, c) for c in communities]
    matrix = np.array([[ind[code] for code in codes] for _, ind in scored], dtype=np.float64).reshape(
        len(communities), len(codes)
    )
    if configured is not None:
        weighting = Weighting.configured
    chosen, note, w = _weights(matrix, weighting, configured, codes)
    closeness = topsis_closeness(matrix, w) if len(communities) else np.zeros(0)
    ranks = competition_ranks(closeness)
    weights = dict(zip(codes, (float(x) for x in w), strict=True))
    out = []
    for k, (c, (criteria, indicators)) in enumerate(zip(communities, scored, strict=True)):
        dims = {}
        for d in system.dimensions:
            dw = [weights[i.code] for i in d.indicators]
            ds = [indicators[i.code] for i in d.indicators]
            total = sum(dw)
            dims[d.code] = (
                float(sum(a * b for a, b in zip(dw, ds, strict=True)) / total)
                if total > 0
                else float(np.mean(ds))
            )
        score = float(sum(weights[code] * indicators[code] for code in codes))
        cl = float(closeness[k])
        out.append(
            PaperCommunity(
                code=c.code,
                name=c.name,
                criteria=criteria,
                indicators=indicators,
                dimensions=dims,
                score=score,
                closeness=None if math.isnan(cl) else cl,
                rank=ranks[k],
            )
        )
    return PaperResult(system, chosen, note, weights, tuple(out))


def _weights(
    matrix: np.ndarray[Any, np.dtype[np.float64]],
    weighting: Weighting | None,
    configured: Mapping[str, float] | None,
    codes: list[str],
) -> tuple[Weighting, str, np.ndarray[Any, np.dtype[np.float64]]]:
    n = len(codes)
    equal = np.full(n, 1.0 / n)
    if weighting is Weighting.configured:
        if configured is None:
            raise EvaluationError("configured weighting needs the weights (--weights FILE)")
        return weighting, "权重按配置文件给定（已归一化）", np.array([configured[c] for c in codes])
    if weighting is Weighting.equal:
        return weighting, "按要求采用等权重", equal
    m = matrix.shape[0]
    if m < MIN_FOR_CRITIC:
        return (
            Weighting.equal,
            f"参评社区只有 {m} 个，少于 {MIN_FOR_CRITIC} 个，CRITIC 无意义，采用等权重",
            equal,
        )
    try:
        w = critic_weights(matrix)
    except CriticUndefined as exc:
        return Weighting.equal, f"CRITIC 无法计算（{exc}），采用等权重", equal
    constant = int((np.ptp(matrix, axis=0) == 0).sum())
    note = f"CRITIC 权重，基于 {m} 个参评社区的得分矩阵"
    if constant:
        note += f"；{constant} 个指标在各社区得分相同，权重为 0"
    return Weighting.critic, note, w
