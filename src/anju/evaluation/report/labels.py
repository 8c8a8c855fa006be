"""Report headings and phrases in Chinese (default) and English.

Only the report's own wording is translated. Texts quoted from the published systems (Wuhan items,
Shandong requirements, Table C-1 readings) and the improvement plans' actions exist in Chinese only and
are shown as published.
"""

from __future__ import annotations

from enum import StrEnum


class Lang(StrEnum):
    zh = "zh"
    en = "en"


_ZH: dict[str, str] = {
    "report_title": "智慧社区安全评价报告",
    "district_title": "区域智慧社区安全评价报告",
    "community": "社区",
    "code": "代码",
    "date": "评价日期",
    "communities_compared": "参评社区",
    "communities_count": "{n} 个",
    "overview": "总体结果",
    "paper_score": "论文指标体系加权得分",
    "closeness": "TOPSIS 贴近度",
    "rank": "排名",
    "rank_of": "第 {rank} 名（共 {n} 个社区）",
    "weighting": "权重",
    "wuhan": "武汉市智慧平安小区验收",
    "wuhan_total": "{total} 分（{parts}），{verdict}",
    "passed": "通过",
    "not_passed": "未通过",
    "shandong": "山东省智慧社区等级",
    "tier_none": "未达到任何等级",
    "tier_progress": "{tier} {passed}/{count} 项达标",
    "radar_title": "七个维度得分雷达图",
    "radar_this": "本社区",
    "radar_average": "参评社区平均",
    "radar_key": "实线：该社区；虚线：参评社区平均",
    "dimension": "维度",
    "dimensions": "维度得分",
    "score": "得分",
    "weight": "权重",
    "average": "平均",
    "indicator": "指标",
    "indicators_title": "32 项指标得分",
    "indicators_axis": "指标得分（0-100）",
    "ranking_title": "参评社区排名",
    "weighted_score": "加权得分",
    "wuhan_short": "武汉验收",
    "shandong_short": "山东等级",
    "ellipsis": "…",
    "failing_title": "未达标项",
    "wuhan_failing": "武汉验收未得分项（{variant}）",
    "shandong_failing": "山东指标未达标项（{tier}）",
    "item": "项目",
    "content": "内容",
    "lost": "失分",
    "category": "一级指标",
    "unmet": "未满足 / 缺少",
    "none_failing": "无：全部达标。",
    "plan_title": "改进计划",
    "plan_wuhan": "武汉验收：{target}",
    "plan_shandong": "山东等级：{target}",
    "plan_paper": "论文指标体系：{target}",
    "plan_current": "现状：{current}",
    "plan_reached": "已达到目标。",
    "plan_after": "完成以上 {n} 项改动后：{projected}，{verdict}",
    "plan_reachable": "可达到目标",
    "plan_unreachable": "无法达到目标",
    "change": "改动",
    "gain": "收益",
    "actions": "需要做的",
    "note": "注：{note}",
    "missing_title": "缺少的事实",
    "missing_note": "以下 {n} 项输入缺少证据，按 0 分计：{keys}",
    "page": "第 {page} 页",
    "district_overview": "区域概况",
    "wuhan_pass_count": "{passed}/{n} 个社区通过",
    "tier_count": "{tier} {count} 个",
    "average_score": "平均加权得分",
    "top_community": "排名第一",
    "and_more": " 等 {n} 个",
    "score_bars_title": "各社区加权得分",
    "small_multiples_title": "各社区七个维度得分",
    "common_failing_title": "常见未达标项",
    "communities_failing": "未达标社区数",
    "plan_summary_title": "各社区改进计划概要",
    "changes_to_pass_wuhan": "武汉通过需改动",
    "changes_to_next_tier": "山东下一等级需改动",
    "changes_to_paper_target": "论文目标分需改动",
    "changes_count": "{n} 项",
    "already": "已达到",
    "unreachable": "无法达到",
    "source_note": "数据来源：评价输入文件及已登记的证据提供者；每项得分的证据链见 `anju evaluate … --json`。",
}

_EN: dict[str, str] = {
    "report_title": "Smart community safety evaluation report",
    "district_title": "District smart community safety evaluation report",
    "community": "Community",
    "code": "Code",
    "date": "Evaluation date",
    "communities_compared": "Communities compared",
    "communities_count": "{n}",
    "overview": "Overview",
    "paper_score": "Weighted score (paper's index)",
    "closeness": "TOPSIS closeness",
    "rank": "Rank",
    "rank_of": "{rank} of {n}",
    "weighting": "Weighting",
    "wuhan": "Wuhan smart and safe estate acceptance",
    "wuhan_total": "{total} points ({parts}), {verdict}",
    "passed": "passed",
    "not_passed": "not passed",
    "shandong": "Shandong smart community tier",
    "tier_none": "no tier reached",
    "tier_progress": "{tier}: {passed}/{count} indicators met",
    "radar_title": "Radar chart of the seven dimensions",
    "radar_this": "This community",
    "radar_average": "Average of the compared communities",
    "radar_key": "Solid: the community; dashed: average of the compared communities",
    "dimension": "Dimension",
    "dimensions": "Dimension scores",
    "score": "Score",
    "weight": "Weight",
    "average": "Average",
    "indicator": "Indicator",
    "indicators_title": "Scores of the 32 indicators",
    "indicators_axis": "Indicator score (0-100)",
    "ranking_title": "Ranking of the compared communities",
    "weighted_score": "Weighted score",
    "wuhan_short": "Wuhan",
    "shandong_short": "Shandong tier",
    "ellipsis": "…",
    "failing_title": "Failing items",
    "wuhan_failing": "Wuhan acceptance items not scored ({variant})",
    "shandong_failing": "Shandong indicators not met ({tier})",
    "item": "Item",
    "content": "Content",
    "lost": "Points lost",
    "category": "Category",
    "unmet": "Unmet / missing",
    "none_failing": "None: everything is met.",
    "plan_title": "Improvement plan",
    "plan_wuhan": "Wuhan acceptance: {target}",
    "plan_shandong": "Shandong tier: {target}",
    "plan_paper": "Paper's index: {target}",
    "plan_current": "Now: {current}",
    "plan_reached": "Target already reached.",
    "plan_after": "After these {n} changes: {projected}, {verdict}",
    "plan_reachable": "target reached",
    "plan_unreachable": "target out of reach",
    "change": "Change",
    "gain": "Gain",
    "actions": "What to do",
    "note": "Note: {note}",
    "missing_title": "Missing facts",
    "missing_note": "{n} inputs have no evidence and score 0: {keys}",
    "page": "Page {page}",
    "district_overview": "District overview",
    "wuhan_pass_count": "{passed} of {n} communities passed",
    "tier_count": "{tier}: {count}",
    "average_score": "Average weighted score",
    "top_community": "Ranked first",
    "and_more": " and others ({n} in all)",
    "score_bars_title": "Weighted score per community",
    "small_multiples_title": "Seven dimension scores per community",
    "common_failing_title": "Most common failing items",
    "communities_failing": "Communities failing",
    "plan_summary_title": "Improvement plans at a glance",
    "changes_to_pass_wuhan": "Changes to pass Wuhan",
    "changes_to_next_tier": "Changes to next Shandong tier",
    "changes_to_paper_target": "Changes to paper target",
    "changes_count": "{n}",
    "already": "reached",
    "unreachable": "out of reach",
    "source_note": "Sources: the evaluation input file and the registered evidence providers; "
    "`anju evaluate … --json` shows the evidence chain of every score.",
}

WEIGHTING = {
    Lang.zh: {"critic": "CRITIC 客观赋权", "equal": "等权重", "configured": "配置权重"},
    Lang.en: {"critic": "CRITIC", "equal": "equal weights", "configured": "configured weights"},
}


class Labels:
    """The phrases of one language; `labels("rank_of", rank=1, n=3)` fills the placeholders."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self._texts = _ZH if lang is Lang.zh else _EN

    def __call__(self, key: str, **values: object) -> str:
        text = self._texts[key]
        return text.format(**values) if values else text

    def pick(self, zh: str, en: str) -> str:
        """The name in the report's language (English names exist for dimensions, indicators, tiers)."""
        return zh if self.lang is Lang.zh or not en else en

    def texts(self) -> list[str]:
        """Every phrase of the language, for the font subset of a report."""
        return [*self._texts.values(), *WEIGHTING[self.lang].values()]

    def kv(self, label: str, value: object) -> str:
        """`label：value` with the colon of the language."""
        return f"{label}：{value}" if self.lang is Lang.zh else f"{label}: {value}"

    def weighting(self, key: str) -> str:
        return WEIGHTING[self.lang][key]
