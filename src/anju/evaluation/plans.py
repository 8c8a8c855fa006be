"""Improvement plans: the shortest list of changes that takes a community to a target, each with its gain.

- Wuhan: items not yet met, largest points first, until the total reaches the pass mark; the last pick is
  the smallest item that still reaches it (same number of changes, less work).
- Shandong: every indicator of the target tier that fails (a tier is all or nothing), each with the
  fewest conditions that must change.
- Paper: sub-criteria below their maximum, largest weighted gain first, until the weighted score reaches
  the target. The weights are those of the evaluation the plan starts from, held fixed (under CRITIC they
  would move as the scores move). Deductions (accidents in the past year) are not actions and are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from anju.evaluation.conditions import (
    CompareLeaf,
    ConditionResult,
    FactCompareLeaf,
    FlagLeaf,
    RatioLeaf,
    fmt_num,
)
from anju.evaluation.criteria import amount, points_for
from anju.evaluation.model import CriterionKind, Tier
from anju.evaluation.paper import PaperCommunity, PaperResult
from anju.evaluation.shandong import ShandongResult
from anju.evaluation.systems import shandong_system, wuhan_system
from anju.evaluation.wuhan import WuhanResult

OP_NEED = {"at_least": "≥", "at_most": "≤", "above": ">", "below": "<"}


@dataclass(frozen=True)
class Change:
    ref: str
    title: str
    gain: float | None  # points gained (Wuhan item points, paper weighted score); None for a tier pass
    gain_text: str
    actions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "title": self.title,
            "gain": self.gain,
            "gain_text": self.gain_text,
            "actions": list(self.actions),
        }


@dataclass(frozen=True)
class Plan:
    system: str
    code: str
    name: str
    target: str
    current: str
    reached_already: bool
    reachable: bool
    changes: tuple[Change, ...]
    projected: str
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "code": self.code,
            "name": self.name,
            "target": self.target,
            "current": self.current,
            "reached_already": self.reached_already,
            "reachable": self.reachable,
            "changes": [c.to_dict() for c in self.changes],
            "projected": self.projected,
            "notes": list(self.notes),
        }


def describe_gap(leaf: ConditionResult) -> str:
    """What must change for one unmet condition, with its current value."""
    cond = leaf.condition
    if leaf.missing:
        return f"{cond.zh}：缺少事实 {'、'.join(leaf.missing)}，需提供证据并满足要求"
    now = f"现为 {leaf.shown}"
    if isinstance(cond, FlagLeaf):
        want = "是" if cond.expected else "否"
        return f"{cond.zh}：现为{'是' if leaf.value is True else '否'}，需为{want}（{cond.fact}）"
    if isinstance(cond, CompareLeaf):
        return f"{cond.zh}：现为 {fmt_num(float(leaf.value))}，需 {OP_NEED[cond.op]} {fmt_num(cond.bound)}（{cond.fact}）"
    if isinstance(cond, FactCompareLeaf):
        return f"{cond.zh}：{now}，需 {cond.fact} {OP_NEED[cond.op]} {cond.other}"
    if isinstance(cond, RatioLeaf):
        need = ""
        den = next((e for k, e in leaf.used if k == cond.denominator), None)
        if den is not None and float(den.value) > 0:  # type: ignore[arg-type]
            n = cond.needed_numerator(float(den.value))  # type: ignore[arg-type]
            need = f"，即 {cond.numerator} 需 {OP_NEED[cond.op]} {fmt_num(n or 0)}（分母 {fmt_num(float(den.value))}）"  # type: ignore[arg-type]
        return f"{cond.zh}：{now}，需 {OP_NEED[cond.op]} {fmt_num(cond.bound)}%{need}"
    return f"{cond.zh}：{now}"


def wuhan_plan(result: WuhanResult, context: frozenset[str] | None = None) -> Plan:
    target = f"通过验收（≥ {fmt_num(result.pass_mark)} 分）"
    current = f"{result.total} 分"
    if result.passed:
        return Plan("wuhan", result.code, result.name, target, current, True, True, (), current)
    context = wuhan_system().context if context is None else context
    needed = result.pass_mark - result.total
    failing = sorted(
        (i for i in result.items if not i.result.met),
        key=lambda i: (-i.item.points, len(i.result.gaps(context)), i.item.no),
    )
    chosen = []
    gained = 0
    for pos, item in enumerate(failing):
        if gained + item.item.points >= needed:
            # the last step: the smallest remaining item that still closes the gap
            rest = [c for c in failing[pos:] if gained + c.item.points >= needed]
            chosen.append(min(rest, key=lambda c: (c.item.points, len(c.result.gaps(context)), c.item.no)))
            gained += chosen[-1].item.points
            break
        chosen.append(item)
        gained += item.item.points
    reachable = gained >= needed
    changes = tuple(
        Change(
            ref=f"第{c.item.no}项",
            title=c.item.text,
            gain=float(c.item.points),
            gain_text=f"+{c.item.points} 分",
            actions=tuple(describe_gap(g) for g in c.result.gaps(context)),
        )
        for c in chosen
    )
    projected = f"{result.total + gained} 分"
    notes = (
        ()
        if reachable
        else (
            f"所有未得分项全部达成也只有 {result.total + gained} 分，达不到 {fmt_num(result.pass_mark)} 分",
        )
    )
    return Plan(
        "wuhan", result.code, result.name, target, current, False, reachable, changes, projected, notes
    )


def shandong_plan(result: ShandongResult, target: Tier | None, context: frozenset[str] | None = None) -> Plan:
    context = shandong_system().context if context is None else context
    reached = result.reached
    current = reached.zh if reached else "未达到任何等级"
    by_key = {t.tier.key: t for t in result.tiers}
    if target is None:
        order = [t.tier for t in result.tiers]
        above = order[order.index(reached) + 1 :] if reached in order else order
        if not above:
            return Plan(
                "shandong", result.code, result.name, "更高等级", current, True, True, (), current,
                ("已达到已定义的最高等级（标杆型指标未公布）",),
            )  # fmt: skip
        target = above[0]
    tier_result = by_key.get(target.key)
    if tier_result is None:
        raise KeyError(target.key)
    changes = tuple(
        Change(
            ref=f"{target.zh}第{i.indicator.no}项",
            title=i.indicator.zh,
            gain=None,
            gain_text="该项达标",
            actions=tuple(describe_gap(g) for g in i.result.gaps(context)),
        )
        for i in tier_result.failing
    )
    name = f"达到{target.zh}（{len(tier_result.indicators)} 项指标全部达标）"
    return Plan(
        "shandong",
        result.code,
        result.name,
        name,
        current,
        tier_result.passed,
        True,
        changes,
        f"达到{target.zh}",
    )


def paper_plan(result: PaperResult, community: PaperCommunity, target: float) -> Plan:
    target_text = f"加权得分 ≥ {fmt_num(target)}"
    current = f"{community.score:.2f}"
    notes = [f"权重沿用本次评价（{result.weighting.value}）并保持不变"]
    if community.score >= target - 1e-9:
        return Plan(
            "paper",
            community.code,
            community.name,
            target_text,
            current,
            True,
            True,
            (),
            current,
            tuple(notes),
        )
    options = []
    for key, s in community.criteria.items():
        c = s.criterion
        if c.kind is CriterionKind.deduction:
            continue
        gap = c.points - s.points
        w = result.weights[c.indicator]
        if gap <= 1e-9 or w <= 0:
            continue
        options.append((w * gap, key, s))
    options.sort(key=lambda o: (-o[0], o[1]))
    needed = target - community.score
    chosen: list[Change] = []
    gained = 0.0
    for pos, (gain, key, s) in enumerate(options):
        last = gained + gain >= needed - 1e-9
        if last:
            rest = [o for o in options[pos:] if gained + o[0] >= needed - 1e-9]
            gain, key, s = min(rest, key=lambda o: (o[0], o[1]))
        change, real_gain = _paper_change(result, s, needed - gained if last else None)
        chosen.append(change)
        gained += real_gain
        if last:
            break
    reachable = gained >= needed - 1e-9
    if not reachable:
        notes.append(f"所有可改进的子项全部满分也只能到 {community.score + gained:.2f}")
    projected = f"{community.score + gained:.2f}"
    return Plan(
        "paper",
        community.code,
        community.name,
        target_text,
        current,
        False,
        reachable,
        tuple(chosen),
        projected,
        tuple(notes),
    )


def _paper_change(result: PaperResult, s: Any, remaining: float | None) -> tuple[Change, float]:
    c = s.criterion
    w = result.weights[c.indicator]
    now_n = 0 if s.evidence is None else amount(c, s.evidence.value)
    target_pts = c.points
    if c.kind is CriterionKind.flag:
        action = f"{c.key} {c.zh}：需达成"
    elif c.kind is CriterionKind.threshold:
        action = f"{c.key} {c.zh}：现 {now_n} {c.unit_zh}，需达到 {fmt_num(c.minimum)}"
    else:
        # per item / per occurrence: the fewest more that reach the points needed (all of them if not last)
        more_max = math.ceil((c.points - s.points) / c.per - 1e-9)
        more = more_max
        if remaining is not None:
            more = min(more_max, max(1, math.ceil(remaining / (w * c.per) - 1e-9)))
        target_pts = points_for(c, now_n + more)
        unit = "项" if c.kind is CriterionKind.per_item else c.unit_zh
        names = ""
        if (
            c.kind is CriterionKind.per_item
            and s.evidence is not None
            and isinstance(s.evidence.value, tuple)
        ):
            have = set(s.evidence.value)
            todo = [i.zh for i in c.items if i.key not in have]
            names = f"（可选：{'、'.join(todo)}）" if todo else ""
        action = f"{c.key} {c.zh}：现 {now_n} {unit}，再增加 {more} {unit}{names}"
    pts = target_pts - s.points
    gain = w * pts
    return (
        Change(
            ref=c.key,
            title=c.zh,
            gain=gain,
            gain_text=f"+{fmt_num(round(pts, 2))} 分 × 权重 {w:.4f} = +{gain:.2f}",
            actions=(action,),
        ),
        gain,
    )
