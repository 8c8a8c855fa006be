"""Report models from the evaluation engine's results: nothing is scored here, only gathered and worded.

`evaluate_all` runs the three systems once over every community of the input (the paper's CRITIC weights
and TOPSIS closeness depend on the whole set compared); `community_report` and `district_report` then
read from that one evaluation, so a district of many communities is scored once, not once per report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from statistics import fmean

from anju.evaluation.conditions import ConditionResult
from anju.evaluation.errors import EvaluationError
from anju.evaluation.inputs import CommunityFacts
from anju.evaluation.paper import PaperCommunity, PaperResult, Weighting, evaluate_paper
from anju.evaluation.plans import Plan, paper_plan, shandong_plan, wuhan_plan
from anju.evaluation.report.labels import Labels, Lang
from anju.evaluation.report.model import (
    CommonFailure,
    CommunityReport,
    DistrictReport,
    FailingGroup,
    FailingItem,
    Headline,
    PlanStep,
    PlanSummaryRow,
    PlanView,
    Profile,
    RankRow,
    Score,
)
from anju.evaluation.shandong import ShandongResult, evaluate_shandong
from anju.evaluation.systems import paper_system, shandong_system, wuhan_system
from anju.evaluation.wuhan import WuhanResult, evaluate_wuhan

DEFAULT_PAPER_TARGET = 80.0
# A community report lists the whole ranking up to this many communities; beyond it, the top rows and
# the rows around the community, so that a report in a district of hundreds stays a few pages long.
FULL_RANKING_UP_TO = 15
RANKING_TOP = 10
RANKING_AROUND = 2
COMMON_FAILURES_SHOWN = 10
NAMES_SHOWN = 6


@dataclass(frozen=True)
class Evaluation:
    as_of: date
    variant: str
    paper: PaperResult
    wuhan: dict[str, WuhanResult]
    shandong: dict[str, ShandongResult]

    @property
    def codes(self) -> list[str]:
        return [c.code for c in self.paper.communities]

    def community(self, code: str) -> PaperCommunity:
        for c in self.paper.communities:
            if c.code == code:
                return c
        raise unknown_community(code, self.paper.communities)


def unknown_community(code: str, known: Sequence[PaperCommunity | CommunityFacts]) -> EvaluationError:
    shown = ", ".join(f"{c.code} ({c.name})" if c.name != c.code else c.code for c in known[:20])
    if len(known) > 20:
        shown += f", … ({len(known) - 20} more)"
    return EvaluationError.bad_value("--community", "code", code, f"a community of the input: {shown}")


def evaluate_all(
    communities: Sequence[CommunityFacts],
    as_of: date,
    *,
    variant: str = "standard",
    weighting: Weighting | None = None,
) -> Evaluation:
    if not communities:
        raise EvaluationError("no communities to report on")
    ws, ss = wuhan_system(), shandong_system()
    return Evaluation(
        as_of=as_of,
        variant=variant,
        paper=evaluate_paper(paper_system(), communities, weighting=weighting),
        wuhan={c.code: evaluate_wuhan(ws, variant, c) for c in communities},
        shandong={c.code: evaluate_shandong(ss, c) for c in communities},
    )


def _f(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _wuhan_cell(r: WuhanResult, labels: Labels) -> str:
    return f"{r.total} {labels('passed') if r.passed else labels('not_passed')}"


def _tier_name(r: ShandongResult, labels: Labels) -> str:
    reached = r.reached
    return labels("tier_none") if reached is None else labels.pick(reached.zh, reached.en)


def _ranking(ev: Evaluation, labels: Labels, highlight: str | None) -> list[RankRow]:
    dims = ev.paper.system.dimensions
    return [
        RankRow(
            rank=c.rank,
            code=c.code,
            name=c.name,
            score=c.score,
            closeness=c.closeness,
            dimensions=tuple(c.dimensions[d.code] for d in dims),
            wuhan=_wuhan_cell(ev.wuhan[c.code], labels),
            tier=_tier_name(ev.shandong[c.code], labels),
            highlight=c.code == highlight,
        )
        for c in sorted(ev.paper.communities, key=lambda c: (c.rank, c.code))
    ]


def _trim(rows: list[RankRow]) -> tuple[RankRow | None, ...]:
    if len(rows) <= FULL_RANKING_UP_TO:
        return tuple(rows)
    mine = next((i for i, r in enumerate(rows) if r.highlight), 0)
    keep = set(range(RANKING_TOP)) | set(range(mine - RANKING_AROUND, mine + RANKING_AROUND + 1))
    out: list[RankRow | None] = []
    for i, r in enumerate(rows):
        if i in keep:
            out.append(r)
        elif out and out[-1] is not None:
            out.append(None)
    return tuple(out)


def _gap_text(g: ConditionResult, labels: Labels) -> str:
    if g.missing:
        missing = "、".join(g.missing) if labels.lang is Lang.zh else ", ".join(g.missing)
        return f"{g.condition.zh}：{'缺少' if labels.lang is Lang.zh else 'missing'} {missing}"
    return f"{g.condition.zh}：{g.shown}"


def _wuhan_failing(r: WuhanResult, labels: Labels) -> FailingGroup:
    context = wuhan_system().context
    items = tuple(
        FailingItem(
            ref=f"第{i.item.no}项" if labels.lang is Lang.zh else f"Item {i.item.no}",
            title=i.item.text,
            lost=str(i.item.points),
            detail="；".join(_gap_text(g, labels) for g in i.result.gaps(context)),
        )
        for i in r.items
        if not i.result.met
    )
    variant = labels.pick(r.variant.zh, r.variant.en)
    return FailingGroup(labels("wuhan_failing", variant=variant), labels("lost"), items)


def _shandong_failing(r: ShandongResult, labels: Labels) -> list[FailingGroup]:
    context = shandong_system().context
    groups = []
    for t in r.tiers:
        items = tuple(
            FailingItem(
                ref=str(i.indicator.no),
                title=labels.pick(i.indicator.zh, i.indicator.en),
                lost=i.indicator.category,
                detail="；".join(_gap_text(g, labels) for g in i.result.gaps(context)),
            )
            for i in t.failing
        )
        groups.append(
            FailingGroup(
                labels("shandong_failing", tier=labels.pick(t.tier.zh, t.tier.en)), labels("category"), items
            )
        )
    return groups


def _plan_view(plan: Plan, title_key: str, labels: Labels) -> PlanView:
    steps = tuple(PlanStep(c.ref, c.title, c.gain_text, c.actions) for c in plan.changes)
    if plan.reached_already:
        outcome = labels("plan_reached")
    else:
        verdict = labels("plan_reachable") if plan.reachable else labels("plan_unreachable")
        outcome = labels("plan_after", n=len(steps), projected=plan.projected, verdict=verdict)
    return PlanView(
        title=labels(title_key, target=plan.target),
        current=labels("plan_current", current=plan.current),
        reached_already=plan.reached_already,
        steps=steps,
        outcome=outcome,
        notes=tuple(labels("note", note=n) for n in plan.notes),
    )


def _wuhan_headline(r: WuhanResult, labels: Labels) -> str:
    parts_sep = "，" if labels.lang is Lang.zh else ", "
    parts = parts_sep.join(
        f"{labels.pick(c.zh, c.en)} {r.category_points(c.key)}/{c.points}" for c in wuhan_system().categories
    )
    verdict = labels("passed") if r.passed else labels("not_passed")
    return labels("wuhan_total", total=r.total, parts=parts, verdict=verdict)


def _shandong_headline(r: ShandongResult, labels: Labels) -> str:
    sep = "；" if labels.lang is Lang.zh else "; "
    progress = sep.join(
        labels(
            "tier_progress",
            tier=labels.pick(t.tier.zh, t.tier.en),
            passed=sum(i.passed for i in t.indicators),
            count=len(t.indicators),
        )
        for t in r.tiers
    )
    return (
        f"{_tier_name(r, labels)}（{progress}）"
        if labels.lang is Lang.zh
        else f"{_tier_name(r, labels)} ({progress})"
    )


def community_report(
    ev: Evaluation, code: str, lang: Lang = Lang.zh, paper_target: float = DEFAULT_PAPER_TARGET
) -> CommunityReport:
    labels = Labels(lang)
    pc = ev.community(code)
    paper = ev.paper
    system = paper.system
    everyone = paper.communities
    dimensions = tuple(
        Score(
            code=d.code,
            label=labels.pick(d.zh, d.en),
            value=pc.dimensions[d.code],
            average=fmean(c.dimensions[d.code] for c in everyone),
            weight=sum(paper.weights[i.code] for i in d.indicators),
        )
        for d in system.dimensions
    )
    indicators = tuple(
        Score(
            code=i.code,
            label=labels.pick(i.zh, i.en),
            value=pc.indicators[i.code],
            average=fmean(c.indicators[i.code] for c in everyone),
            weight=paper.weights[i.code],
            group=d.code,
        )
        for d in system.dimensions
        for i in d.indicators
    )
    wr, sr = ev.wuhan[code], ev.shandong[code]
    headlines = (
        Headline(labels("paper_score"), _f(pc.score)),
        Headline(labels("closeness"), _f(pc.closeness, 4)),
        Headline(labels("rank"), labels("rank_of", rank=pc.rank, n=len(everyone))),
        Headline(labels("weighting"), labels.weighting(paper.weighting.value)),
        Headline(labels("wuhan"), _wuhan_headline(wr, labels)),
        Headline(labels("shandong"), _shandong_headline(sr, labels)),
    )
    plans = (
        _plan_view(wuhan_plan(wr), "plan_wuhan", labels),
        _plan_view(shandong_plan(sr, None), "plan_shandong", labels),
        _plan_view(paper_plan(paper, pc, paper_target), "plan_paper", labels),
    )
    return CommunityReport(
        labels=labels,
        title=labels("report_title"),
        code=pc.code,
        name=pc.name,
        as_of=ev.as_of,
        headlines=headlines,
        weighting_note=paper.weighting_note,
        dimensions=dimensions,
        indicators=indicators,
        dimension_labels=tuple(s.label for s in dimensions),
        ranking=_trim(_ranking(ev, labels, code)),
        failing=(_wuhan_failing(wr, labels), *_shandong_failing(sr, labels)),
        plans=plans,
        missing=tuple(pc.missing),
    )


def _names(names: list[str], labels: Labels) -> str:
    sep = "、" if labels.lang is Lang.zh else ", "
    shown = sep.join(names[:NAMES_SHOWN])
    return shown + (labels("and_more", n=len(names)) if len(names) > NAMES_SHOWN else "")


def _common(ev: Evaluation, labels: Labels) -> tuple[tuple[str, tuple[CommonFailure, ...]], ...]:
    names = {c.code: c.name for c in ev.paper.communities}
    wuhan: dict[int, tuple[str, list[str]]] = {}
    for code, r in ev.wuhan.items():
        for item in r.items:
            if not item.result.met:
                wuhan.setdefault(item.item.no, (item.item.text, []))[1].append(names[code])
    groups: list[tuple[str, tuple[CommonFailure, ...]]] = []
    variant = wuhan_system().variant(ev.variant)
    rows = sorted(wuhan.items(), key=lambda kv: (-len(kv[1][1]), kv[0]))[:COMMON_FAILURES_SHOWN]
    groups.append(
        (
            labels("wuhan_failing", variant=labels.pick(variant.zh, variant.en)),
            tuple(
                CommonFailure(
                    f"第{no}项" if labels.lang is Lang.zh else f"Item {no}",
                    text,
                    len(who),
                    _names(who, labels),
                )
                for no, (text, who) in rows
            ),
        )
    )
    for tier in shandong_system().tiers:
        failing: dict[int, tuple[str, list[str]]] = {}
        for code, sr in ev.shandong.items():
            for t in sr.tiers:
                if t.tier.key != tier.key:
                    continue
                for ind in t.failing:
                    title = labels.pick(ind.indicator.zh, ind.indicator.en)
                    failing.setdefault(ind.indicator.no, (title, []))[1].append(names[code])
        rows = sorted(failing.items(), key=lambda kv: (-len(kv[1][1]), kv[0]))[:COMMON_FAILURES_SHOWN]
        groups.append(
            (
                labels("shandong_failing", tier=labels.pick(tier.zh, tier.en)),
                tuple(
                    CommonFailure(str(no), title, len(who), _names(who, labels)) for no, (title, who) in rows
                ),
            )
        )
    return tuple(groups)


def _plan_cell(plan: Plan, labels: Labels) -> str:
    if plan.reached_already:
        return labels("already")
    count = labels("changes_count", n=len(plan.changes))
    return count if plan.reachable else f"{labels('unreachable')} ({count})"


def district_report(
    ev: Evaluation,
    lang: Lang = Lang.zh,
    name: str = "",
    paper_target: float = DEFAULT_PAPER_TARGET,
) -> DistrictReport:
    labels = Labels(lang)
    paper = ev.paper
    dims = paper.system.dimensions
    everyone = paper.communities
    n = len(everyone)
    passed = sum(r.passed for r in ev.wuhan.values())
    tiers: dict[str, int] = {}
    for sr in ev.shandong.values():
        tier = _tier_name(sr, labels)
        tiers[tier] = tiers.get(tier, 0) + 1
    sep = "；" if lang is Lang.zh else "; "
    top = min(everyone, key=lambda c: (c.rank, c.code))
    headlines = (
        Headline(labels("communities_compared"), labels("communities_count", n=n)),
        Headline(labels("weighting"), labels.weighting(paper.weighting.value)),
        Headline(labels("average_score"), f"{fmean(c.score for c in everyone):.2f}"),
        Headline(
            labels("top_community"),
            f"{top.name}（{top.code}）" if lang is Lang.zh else f"{top.name} ({top.code})",
        ),
        Headline(labels("wuhan"), labels("wuhan_pass_count", passed=passed, n=n)),
        Headline(
            labels("shandong"), sep.join(labels("tier_count", tier=t, count=k) for t, k in tiers.items())
        ),
    )
    ss = shandong_system()
    summary = tuple(
        PlanSummaryRow(
            code=c.code,
            name=c.name,
            wuhan=_plan_cell(wuhan_plan(ev.wuhan[c.code]), labels),
            shandong=_plan_cell(shandong_plan(ev.shandong[c.code], None, ss.context), labels),
            paper=_plan_cell(paper_plan(paper, c, paper_target), labels),
        )
        for c in sorted(everyone, key=lambda c: (c.rank, c.code))
    )
    title_name = name or labels("communities_compared")
    return DistrictReport(
        labels=labels,
        title=labels("district_title"),
        name=title_name,
        as_of=ev.as_of,
        headlines=headlines,
        weighting_note=paper.weighting_note,
        dimension_codes=tuple(d.code for d in dims),
        dimension_labels=tuple(labels.pick(d.zh, d.en) for d in dims),
        dimension_averages=tuple(fmean(c.dimensions[d.code] for c in everyone) for d in dims),
        ranking=tuple(_ranking(ev, labels, None)),
        profiles=tuple(
            Profile(c.code, c.name, tuple(c.dimensions[d.code] for d in dims), c.score)
            for c in sorted(everyone, key=lambda c: (c.rank, c.code))
        ),
        common=_common(ev, labels),
        plan_summary=summary,
    )
