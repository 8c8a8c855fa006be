"""Self-reported acceptance material, as read from a notice or a structured form, and the findings on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FindingKind(StrEnum):
    arithmetic = "arithmetic"
    below_threshold = "below_threshold"
    blank = "blank"
    template_remnant = "template_remnant"
    count_mismatch = "count_mismatch"
    copy_paste = "copy_paste"
    threshold_text_mismatch = "threshold_text_mismatch"


@dataclass(frozen=True)
class IndicatorClaim:
    """One row of a community's table: what the scheme asks and what the community says it did."""

    no: int
    name: str
    definition: str
    requirement: str
    status: str | None  # "达标", "未达标", or None where the row carries no verdict
    text: str  # the completion statement (本社区完成情况) without the verdict
    line: int  # where the row starts in the source (1-based; 0 for forms without lines)


@dataclass(frozen=True)
class CommunityClaim:
    name: str  # e.g. 湖滨社区
    street: str  # e.g. 宝都街道 ("" when not given)
    tier: str  # tier key: basic, growth, benchmark
    tier_label: str  # as written: 基础型, 成长型
    indicators: tuple[IndicatorClaim, ...]
    line: int = 0

    def indicator(self, no: int) -> IndicatorClaim | None:
        for ind in self.indicators:
            if ind.no == no:
                return ind
        return None


@dataclass(frozen=True)
class ClaimDocument:
    source: str
    communities: tuple[CommunityClaim, ...]


@dataclass(frozen=True)
class Finding:
    community: str
    tier: str
    indicator_no: int
    kind: FindingKind
    evidence: str  # the exact words of the material the finding rests on
    detail: str  # why it is a defect, in Chinese, with the arithmetic where there is some
    detail_en: str = ""
    related: tuple[str, ...] = field(default=())  # other communities (copy_paste) or indicators involved

    def to_dict(self) -> dict[str, Any]:
        return {
            "community": self.community,
            "tier": self.tier,
            "indicator_no": self.indicator_no,
            "kind": self.kind.value,
            "evidence": self.evidence,
            "detail": self.detail,
            "detail_en": self.detail_en,
            "related": list(self.related),
        }
