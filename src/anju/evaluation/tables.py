"""Rich tables of evaluation results for the terminal, with Chinese labels."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from anju.evaluation.claims.model import Finding, FindingKind
from anju.evaluation.model import KIND_ZH, PaperSystem, ShandongSystem, WuhanSystem
from anju.evaluation.paper import PaperResult
from anju.evaluation.plans import Plan
from anju.evaluation.shandong import ShandongResult
from anju.evaluation.wuhan import WuhanResult

WEIGHTING_ZH = {"critic": "CRITIC 客观赋权", "equal": "等权重", "configured": "配置权重"}
FINDING_ZH = {
    FindingKind.arithmetic: "计算不符",
    FindingKind.below_threshold: "未达标却标为达标",
    FindingKind.blank: "留空未填",
    FindingKind.template_remnant: "模板残留",
    FindingKind.count_mismatch: "数量不符",
    FindingKind.copy_paste: "疑似复制",
    FindingKind.threshold_text_mismatch: "标准文本不符",
}
MAX_COLUMNS = 8


def _f(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def paper_tables(out: Console, result: PaperResult) -> None:
    system = result.system
    out.print(
        f"[bold]{system.title_zh}[/bold]  权重：{WEIGHTING_ZH[result.weighting.value]}（{result.weighting_note}）"
    )
    table = Table(title="社区排名")
    for col in ("排名", "社区", "代码", "加权得分", "贴近度", *(d.zh for d in system.dimensions)):
        table.add_column(col, justify="right" if col not in ("社区", "代码") else "left")
    for c in sorted(result.communities, key=lambda c: (c.rank, c.code)):
        table.add_row(
            str(c.rank),
            c.name,
            c.code,
            _f(c.score),
            _f(c.closeness, 4),
            *(_f(c.dimensions[d.code], 1) for d in system.dimensions),
        )
    out.print(table)
    communities = result.communities[:MAX_COLUMNS]
    ind = Table(title="指标得分（0-100）与权重")
    for col in ("维度", "指标", "名称", "权重", *(c.name for c in communities)):
        ind.add_column(col)
    for d in system.dimensions:
        for i in d.indicators:
            ind.add_row(
                d.zh,
                i.code,
                i.zh,
                f"{result.weights[i.code]:.4f}",
                *(_f(c.indicators[i.code], 1) for c in communities),
            )
    out.print(ind)
    if len(result.communities) > MAX_COLUMNS:
        out.print(f"（只列出前 {MAX_COLUMNS} 个社区的指标得分；全部结果请用 --json）")
    for c in result.communities:
        if c.missing:
            out.print(
                f"[yellow]{c.name}[/yellow] 缺少 {len(c.missing)} 项事实，按 0 分计：{'、'.join(c.missing)}"
            )


def wuhan_tables(out: Console, results: Sequence[WuhanResult], context: frozenset[str] = frozenset()) -> None:
    for r in results:
        table = Table(title=f"{r.name}（{r.code}）— 武汉市智慧平安小区验收（{r.variant.zh}）")
        for col in ("项", "类别", "验收内容", "得分", "满分", "未满足 / 缺少"):
            table.add_column(col, overflow="fold")
        for i in r.items:
            gaps = "；".join(
                g.condition.zh + ("（缺少）" if g.missing else "") for g in i.result.gaps(context)
            )
            table.add_row(
                str(i.item.no),
                "智慧" if i.item.category == "smart" else "平安",
                i.item.text,
                str(i.points),
                str(i.item.points),
                gaps,
            )
        out.print(table)
        verdict = "[green]通过验收[/green]" if r.passed else "[red]未通过验收[/red]"
        out.print(
            f"智慧标准 {r.category_points('smart')}/70，平安标准 {r.category_points('safe')}/30，"
            f"总分 {r.total}（{r.pass_mark:g} 分以上通过）：{verdict}"
        )


def shandong_tables(
    out: Console, results: Sequence[ShandongResult], context: frozenset[str] = frozenset()
) -> None:
    for r in results:
        for t in r.tiers:
            table = Table(title=f"{r.name}（{r.code}）— 山东省智慧社区建设指标（{t.tier.zh}）")
            for col in ("序号", "一级指标", "二级指标", "达标", "说明"):
                table.add_column(col, overflow="fold")
            for i in t.indicators:
                gaps = "；".join(
                    f"{g.condition.zh}：{g.shown}"
                    if not g.missing
                    else f"{g.condition.zh}：缺少 {'、'.join(g.missing)}"
                    for g in i.result.gaps(context)
                )
                table.add_row(
                    str(i.indicator.no), i.indicator.category, i.indicator.zh, "✓" if i.passed else "✗", gaps
                )
            out.print(table)
            out.print(f"{t.tier.zh}：{sum(i.passed for i in t.indicators)}/{len(t.indicators)} 项达标")
        reached = r.reached
        out.print(f"[bold]{r.name} 达到等级：{reached.zh if reached else '未达到任何等级'}[/bold]")


def findings_table(out: Console, source: str, communities: int, findings: Sequence[Finding]) -> None:
    table = Table(title=f"材料核查：{source}（{communities} 个社区，{len(findings)} 项发现）")
    for col in ("社区", "等级", "序号", "类型", "依据（原文）", "说明"):
        table.add_column(col, overflow="fold")
    for f in findings:
        table.add_row(f.community, f.tier, str(f.indicator_no), FINDING_ZH[f.kind], f.evidence, f.detail)
    out.print(table)


def plan_tables(out: Console, plans: Sequence[Plan]) -> None:
    for p in plans:
        head = f"{p.name}（{p.code}）改进计划：目标 {p.target}，现状 {p.current}"
        if p.reached_already:
            out.print(f"[green]{head}：已达到目标[/green]")
            continue
        table = Table(title=head)
        for col in ("#", "改动", "收益", "需要做的"):
            table.add_column(col, overflow="fold")
        for n, c in enumerate(p.changes, start=1):
            table.add_row(str(n), f"{c.ref} {c.title}", c.gain_text, "\n".join(c.actions))
        out.print(table)
        verdict = "可达到目标" if p.reachable else "[red]无法达到目标[/red]"
        out.print(f"完成以上 {len(p.changes)} 项改动后：{p.projected}，{verdict}")
        for note in p.notes:
            out.print(f"注：{note}")


def paper_system_table(out: Console, system: PaperSystem) -> None:
    out.print(f"[bold]{system.title_zh}[/bold] / {system.title_en} — {system.source}")
    table = Table(title="输入键（子项）及含义")
    for col in ("键", "指标", "类型", "分值", "评分标准", "输入", "解读"):
        table.add_column(col, overflow="fold")
    for d in system.dimensions:
        for i in d.indicators:
            for c in i.criteria:
                table.add_row(
                    c.key,
                    f"{i.zh} {i.en}",
                    KIND_ZH[c.kind],
                    f"{c.points:g}",
                    f"{c.zh}\n{c.text}",
                    f"{c.input_zh()}\n{c.input_en()}",
                    c.reading,
                )
    out.print(table)


def wuhan_system_table(out: Console, system: WuhanSystem) -> None:
    out.print(f"[bold]{system.title_zh}[/bold] — {system.source}；{system.pass_text}")
    facts = Table(title="输入键及含义")
    for col in ("键", "类型", "含义", "meaning"):
        facts.add_column(col, overflow="fold")
    for f in system.facts:
        facts.add_row(f.key, f.kind, f.zh, f.en)
    out.print(facts)
    for v in system.variants:
        items = Table(title=f"{v.zh}（{v.key}）验收项")
        for col in ("项", "类别", "分值", "验收内容", "所用输入键"):
            items.add_column(col, overflow="fold")
        for i in v.items:
            keys = "\n".join(dict.fromkeys(i.condition.fact_keys()))
            items.add_row(str(i.no), "智慧" if i.category == "smart" else "平安", str(i.points), i.text, keys)
        out.print(items)


def shandong_system_table(out: Console, system: ShandongSystem) -> None:
    out.print(f"[bold]{system.title_zh}[/bold] — {system.source}")
    facts = Table(title="输入键及含义")
    for col in ("键", "类型", "含义", "meaning"):
        facts.add_column(col, overflow="fold")
    for f in system.facts:
        facts.add_row(f.key, f.kind, f.zh, f.en)
    out.print(facts)
    for t in system.tiers:
        table = Table(title=f"{t.zh}（{t.key}，{len(t.indicators)} 项）")
        for col in ("序号", "一级指标", "二级指标", "标准要求", "所用输入键"):
            table.add_column(col, overflow="fold")
        for i in t.indicators:
            keys = "\n".join(dict.fromkeys(i.condition.fact_keys()))
            table.add_row(str(i.no), i.category, i.zh, i.requirement, keys)
        out.print(table)
