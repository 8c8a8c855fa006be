"""Findings on self-reported acceptance material. Every rule is written to be right when it fires: where
the material leaves room for an honest reading (rounded areas, restated requirements), it stays silent.

- arithmetic: a stated rate outside what its own numerator and denominator allow, each taken at the
  precision it is written with (counts are exact; "1.6平方公里" is 1.55-1.65); and a share of estates
  ("社区内80%小区…") that no whole number of the community's stated estates gives.
- below_threshold: a row marked 达标 whose own figures fail the tier's condition (the conditions of
  shandong.yaml, judged on the figures read from the text; figures the text does not give are unknown,
  not failures).
- blank: a slot of the completion template left empty ("提供种", "住宅  栋", "形成  项", a list item of
  spaces, a missing number before a unit), or a row without its verdict.
- template_remnant: alternatives of the template left side by side ("是/否", "均达到X%或者关键位置的…").
- count_mismatch: "提供N种…分别为A、B、C" with N not the number of items; more closed estates than the
  community has estates; estates with and without a facility not adding up to the estates stated.
- copy_paste: communities whose completion text for an indicator carries the same community-specific
  figures (households, areas, devices, population shares, estates, buildings, survey results — not
  compliance rates) where chance cannot explain it: the whole text identical character for character and
  a figure that rarely coincides (a count of 100 or more, a measurement or share with a decimal), or the
  same figures with the same list of three or more free-text items, spacing included.
- threshold_text_mismatch: a requirement text (标准要求) that differs from the tier's published text
  (compared without whitespace).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable

from anju.evaluation.claims.extract import Figure, figures, listed_services
from anju.evaluation.claims.model import ClaimDocument, CommunityClaim, Finding, FindingKind, IndicatorClaim
from anju.evaluation.conditions import AnyOf, ConditionResult, RatioLeaf, fmt_num
from anju.evaluation.evidence import Evidence, SourceKind
from anju.evaluation.model import ShandongSystem, Tier, TierIndicator
from anju.evaluation.systems import shandong_system

K = FindingKind

BLANKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"提供[ \t\u3000]*种"), "“提供…种”缺少种数"),
    (re.compile(r"住宅[ \t\u3000\n]*栋"), "“…住宅…栋”缺少栋数"),
    (re.compile(r"形成[ \t\u3000]*项"), "“形成…项”缺少项数"),
    (re.compile(r"打造[ \t\u3000]{2,}创新应用场景"), "“打造…创新应用场景”留有空白，缺少项数"),
    (re.compile(r"(?:包括|分别为|为|、)[ \t\u3000\u00a0]+(?=、)"), "列举项留空（只有空格）"),
    (re.compile(r"(?:家庭数|总数|面积是|数量|设备数)[ \t\u3000]*(?:户|个|平方公里)"), "数字留空"),
    (re.compile(r"(?:达到|占比)[ \t\u3000]*%"), "百分比留空"),
    (re.compile(r"开展[ \t\u3000]*次"), "“开展…次”缺少次数"),
    (re.compile(r"(?:共|小区)[ \t\u3000]*个小区|封闭式小区[ \t\u3000]*个"), "小区数留空"),
)

REMNANTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?:是|有)[ \t]*[/／][ \t]*(?:否|无)"), "模板中的“是/否”选项未删除"),
    (
        re.compile(r"均达到[^；;。\n]*?或者[ \t]*关键位置"),
        "模板给出的两种填写方式（“均达到X%”或“关键位置的覆盖率X%，联网率X%，摄像机完好率X%”）同时保留",
    ),
)

# figures that describe the community itself (not a compliance rate): the ones copy-paste is judged on
SPECIFIC = {
    "SD.households",
    "SD.gigabit_households",
    "SD.tv_households",
    "SD.remote_meters",
    "SD.area_km2",
    "SD.area_5g_km2",
    "SD.smart_lights",
    "SD.public_lights",
    "rate:SD.residents_60_plus",
    "SD.estates",
    "SD.ebike_estates",
    "SD.closed_estates",
    "SD.highrise_12f",
    "SD.highrise_19f",
    "SD.book_corners",
    "SD.sports_venues_15min",
    "SD.satisfaction_pct",
}
ESTATE_SHARES = (
    "rate:SD.estates_smart_garbage",
    "rate:SD.estates_fire_hazard_detection",
    "rate:SD.estates_ebike_elevator_detection",
)


def _norm(text: str) -> str:
    return "".join(text.split())


def _g(x: float) -> str:
    return fmt_num(round(x, 4))


def check_document(doc: ClaimDocument, system: ShandongSystem | None = None) -> list[Finding]:
    system = system or shandong_system()
    findings: list[Finding] = []
    for community in doc.communities:
        try:
            tier = system.tier(community.tier)
        except KeyError:
            continue  # a tier whose indicators are not published (标杆型): nothing to compare with
        findings.extend(_community(community, tier))
    findings.extend(_copy_paste(doc, system))
    order = list(K)
    findings.sort(
        key=lambda f: (_position(doc, f.community), f.indicator_no, order.index(f.kind), f.evidence)
    )
    return findings


def _position(doc: ClaimDocument, name: str) -> int:
    for i, c in enumerate(doc.communities):
        if c.name == name:
            return i
    return len(doc.communities)


def _finding(
    c: CommunityClaim,
    row: IndicatorClaim,
    kind: FindingKind,
    evidence: str,
    detail: str,
    detail_en: str = "",
    related: tuple[str, ...] = (),
) -> Finding:
    return Finding(c.name, c.tier, row.no, kind, evidence.strip(), detail, detail_en, related)


def _community(c: CommunityClaim, tier: Tier) -> Iterable[Finding]:
    estates = _total_estates(c, tier)
    for row in c.indicators:
        ind = tier.indicator(row.no)
        if ind is None:
            continue
        yield from _text_mismatch(c, row, ind)
        yield from _blanks(c, row)
        yield from _remnants(c, row)
        figs = figures(ind.id, row.text)
        yield from _arithmetic(c, row, figs)
        yield from _estate_shares(c, row, figs, estates)
        yield from _counts(c, row, ind, figs, estates)
        if row.status == "达标":
            yield from _below(c, row, ind, figs)


def _text_mismatch(c: CommunityClaim, row: IndicatorClaim, ind: TierIndicator) -> Iterable[Finding]:
    if row.requirement and _norm(row.requirement) != _norm(ind.requirement):
        extra = ""
        if row.definition and _norm(row.definition) != _norm(ind.definition):
            extra = f"；指标释义也不同：“{row.definition}”，{c.tier_label}为“{ind.definition}”"
        yield _finding(
            c,
            row,
            K.threshold_text_mismatch,
            row.requirement,
            f"标准要求与{c.tier_label}公布的不同：{c.tier_label}第{ind.no}项为“{ind.requirement}”{extra}",
            detail_en=f"the requirement differs from the {c.tier} tier's published text",
        )


def _blanks(c: CommunityClaim, row: IndicatorClaim) -> Iterable[Finding]:
    if row.status is None:
        yield _finding(
            c, row, K.blank, row.text[:60], "本社区完成情况缺少“达标/未达标”结论", detail_en="no verdict"
        )
    for pattern, what in BLANKS:
        # one finding per kind of slot and row: "包括    、    、" is one unfilled list, not two defects
        matches = list(pattern.finditer(row.text))
        if not matches:
            continue
        start, end = max(0, matches[0].start() - 12), min(len(row.text), matches[-1].end() + 12)
        yield _finding(
            c,
            row,
            K.blank,
            row.text[start:end].replace("\n", ""),
            f"未填写的占位：{what}（“{row.text[matches[0].start() : matches[-1].end()]}”）",
            detail_en="an unfilled placeholder",
        )


def _remnants(c: CommunityClaim, row: IndicatorClaim) -> Iterable[Finding]:
    for pattern, what in REMNANTS:
        for m in pattern.finditer(row.text):
            yield _finding(
                c, row, K.template_remnant, m.group(0), what, detail_en="template alternatives left in"
            )


def _arithmetic(c: CommunityClaim, row: IndicatorClaim, figs: dict[str, list[Figure]]) -> Iterable[Finding]:
    for key, rates in figs.items():
        if not key.startswith("rate:"):
            continue
        num_key = key[len("rate:") :]
        den_key = _denominator(num_key, shandong_system())
        if num_key not in figs or den_key is None or den_key not in figs:
            continue
        rate, num, den = rates[0], figs[num_key][0], figs[den_key][0]
        n_lo, n_hi = num.bounds()
        d_lo, d_hi = den.bounds()
        if d_lo <= 0:
            continue
        lo, hi = n_lo / d_hi * 100, n_hi / d_lo * 100
        # the stated rate may be rounded or truncated to its last digit
        r_lo, r_hi = rate.value - rate.unit, rate.value + rate.unit
        if hi < r_lo or lo > r_hi:
            exact = num.value / den.value * 100
            span = "" if num.exact and den.exact else f"（按所写精度，分子分母可得 {_g(lo)}%–{_g(hi)}%）"
            yield _finding(
                c,
                row,
                K.arithmetic,
                f"{rate.text}；{num.text}；{den.text}",
                f"所报比率 {_g(rate.value)}% 与其分子分母不符：{_g(num.value)}/{_g(den.value)} = {_g(exact)}%{span}",
                detail_en=f"stated {_g(rate.value)}% but {_g(num.value)}/{_g(den.value)} = {_g(exact)}%",
            )


def _denominator(num_key: str, system: ShandongSystem) -> str | None:
    for tier in system.tiers:
        for ind in tier.indicators:
            for leaf in ind.condition.leaves():
                if isinstance(leaf, RatioLeaf) and leaf.numerator == num_key:
                    return leaf.denominator
    return None


def _total_estates(c: CommunityClaim, tier: Tier) -> Figure | None:
    """The community's number of estates, where its table states it ("社区内共N个小区", 智能充电设施)."""
    ind = tier.by_id("smart_charging")
    row = c.indicator(ind.no) if ind else None
    if row is None or ind is None:
        return None
    found = figures(ind.id, row.text).get("SD.estates")
    return found[0] if found else None


def _estate_shares(
    c: CommunityClaim, row: IndicatorClaim, figs: dict[str, list[Figure]], estates: Figure | None
) -> Iterable[Finding]:
    if estates is None or estates.value <= 0:
        return
    n = int(estates.value)
    for key in ESTATE_SHARES:
        for share in figs.get(key, ()):
            lo, hi = share.value - share.unit, share.value + share.unit
            if any(lo <= k / n * 100 <= hi for k in range(n + 1)):
                continue
            below = math.floor(share.value * n / 100)
            options = "、".join(f"{k}/{n} = {_g(k / n * 100)}%" for k in (below, below + 1) if 0 <= k <= n)
            yield _finding(
                c,
                row,
                K.arithmetic,
                f"{share.text}；{estates.text}",
                f"社区共 {n} 个小区（见“{estates.text}”），{_g(share.value)}% 不是其中整数个小区所占的比例"
                f"（{options}）",
                detail_en=f"{_g(share.value)}% is not a whole number of the {n} estates stated",
            )


def _counts(
    c: CommunityClaim,
    row: IndicatorClaim,
    ind: TierIndicator,
    figs: dict[str, list[Figure]],
    estates: Figure | None,
) -> Iterable[Finding]:
    listed = listed_services(row.text)
    stated = figs.get("SD.elderly_services")
    if listed and stated:
        items = listed.items
        if int(stated[0].value) != len(items):
            yield _finding(
                c,
                row,
                K.count_mismatch,
                listed.words,
                f"称提供 {_g(stated[0].value)} 种社区养老服务，所列却是 {len(items)} 种：{'、'.join(items)}",
                detail_en=f"states {_g(stated[0].value)} services but lists {len(items)}",
            )
    closed = figs.get("SD.closed_estates")
    if closed and estates and closed[0].value > estates.value:
        yield _finding(
            c,
            row,
            K.count_mismatch,
            f"{closed[0].text}；{estates.text}",
            f"封闭式小区 {_g(closed[0].value)} 个，多于本表智能充电设施一项所报社区内小区总数 {_g(estates.value)} 个",
            detail_en=f"{_g(closed[0].value)} closed estates but {_g(estates.value)} estates in all",
        )
    equipped = figs.get("SD.closed_estates_access") or figs.get("SD.closed_estates_perimeter")
    unequipped = figs.get("unequipped")
    if closed and equipped and unequipped and equipped[0].value + unequipped[0].value != closed[0].value:
        yield _finding(
            c,
            row,
            K.count_mismatch,
            f"{closed[0].text}；{equipped[0].text}；{unequipped[0].text}",
            f"{_g(equipped[0].value)} + {_g(unequipped[0].value)} ≠ {_g(closed[0].value)}",
            detail_en="the parts do not add up to the whole",
        )


def _facts_for(figs: dict[str, list[Figure]], ind: TierIndicator) -> dict[str, Evidence]:
    """The figures as facts for the tier's conditions. A stated rate stands in for its ratio when the text
    gives no numerator; where a figure appears twice (two ways of filling one slot) the lower one counts,
    since the text claims it too."""
    facts: dict[str, Evidence] = {}
    for key, found in figs.items():
        if key.startswith("rate:") or not key.startswith("SD."):
            continue
        low = min(found, key=lambda f: f.value)
        facts[key] = Evidence(low.value, SourceKind.input_file, low.text)
    if "SD.book_corners" in figs:
        total = sum(f.value for f in figs["SD.book_corners"])
        text = "；".join(f.text for f in figs["SD.book_corners"])
        facts["SD.book_corners"] = Evidence(total, SourceKind.input_file, text)
    for leaf in ind.condition.leaves():
        if isinstance(leaf, RatioLeaf) and leaf.numerator not in facts:
            stated = figs.get("rate:" + leaf.numerator)
            if stated:
                low = min(stated, key=lambda f: f.value)
                facts[leaf.numerator] = Evidence(low.value, SourceKind.input_file, low.text)
                facts[leaf.denominator] = Evidence(100, SourceKind.input_file, "（所报百分比）")
    return facts


def _definitely_fails(result: ConditionResult) -> bool:
    """Fails on the figures given; a part whose figures are absent is unknown, not failed."""
    if not result.children:
        return not result.met and not result.missing
    if isinstance(result.condition, AnyOf):
        return all(_definitely_fails(ch) for ch in result.children)
    return any(_definitely_fails(ch) for ch in result.children)


def _failing_leaves(result: ConditionResult) -> list[ConditionResult]:
    if not result.children:
        return [result] if _definitely_fails(result) else []
    return [leaf for ch in result.children if _definitely_fails(ch) for leaf in _failing_leaves(ch)]


def _below(
    c: CommunityClaim, row: IndicatorClaim, ind: TierIndicator, figs: dict[str, list[Figure]]
) -> Iterable[Finding]:
    facts = _facts_for(figs, ind)
    if not facts:
        return
    result = ind.condition.evaluate(facts)
    if not _definitely_fails(result):
        return
    leaves = _failing_leaves(result)
    words = "；".join(
        dict.fromkeys(e.description for leaf in leaves for _, e in leaf.used if "所报" not in e.description)
    )
    why = "；".join(f"{leaf.condition.zh}：{leaf.shown}" for leaf in leaves)
    yield _finding(
        c,
        row,
        K.below_threshold,
        words,
        f"标为达标，但按其自报数字未达到要求：{why}",
        detail_en="marked 达标 but its own figures fall short of the requirement",
    )


def _distinctive(f: Figure) -> bool:
    # a coincidence between two communities is implausible for large counts and for decimal figures
    if f.key.startswith("rate:") or f.key == "SD.satisfaction_pct":
        return f.decimals > 0
    if f.exact:
        return f.value >= 100
    return f.decimals > 0


def _copy_paste(doc: ClaimDocument, system: ShandongSystem) -> list[Finding]:
    # group rows by indicator (tier indicator id, so that basic and growth rows compare)
    rows: dict[str, list[tuple[CommunityClaim, IndicatorClaim, dict[str, list[Figure]]]]] = defaultdict(list)
    for c in doc.communities:
        try:
            tier = system.tier(c.tier)
        except KeyError:
            continue
        for row in c.indicators:
            ind = tier.indicator(row.no)
            if ind is None:
                continue
            figs = {k: v for k, v in figures(ind.id, row.text).items() if k in SPECIFIC}
            if figs:
                rows[ind.id].append((c, row, figs))
    out: list[Finding] = []
    for group in rows.values():
        linked: dict[int, set[int]] = defaultdict(set)
        reason: dict[tuple[int, int], str] = {}
        for i in range(len(group)):
            for j in range(i + 1, len(group)):
                why = _same(group[i], group[j])
                if why:
                    linked[i].add(j)
                    linked[j].add(i)
                    reason[(i, j)] = reason[(j, i)] = why
        for i, others in linked.items():
            c, row, figs = group[i]
            names = [group[j][0].name for j in sorted(others)]
            values = "、".join(f.text for fl in figs.values() for f in fl)
            why = reason[(i, min(others))]
            out.append(
                _finding(
                    c,
                    row,
                    K.copy_paste,
                    values,
                    f"与{'、'.join(names)}的同一指标{why}",
                    detail_en="community-specific figures identical to another community's",
                    related=tuple(names),
                )
            )
    return out


def _same(
    a: tuple[CommunityClaim, IndicatorClaim, dict[str, list[Figure]]],
    b: tuple[CommunityClaim, IndicatorClaim, dict[str, list[Figure]]],
) -> str:
    _, row_a, fa = a
    _, row_b, fb = b
    values_a = {k: [f.value for f in v] for k, v in fa.items()}
    values_b = {k: [f.value for f in v] for k, v in fb.items()}
    if values_a != values_b:
        return ""
    shown = "、".join(f.text for fl in fa.values() for f in fl)
    if row_a.text.strip() == row_b.text.strip() and any(_distinctive(f) for fl in fa.values() for f in fl):
        return f"完成情况全文逐字相同，社区特有数字相同：{shown}"
    la, lb = listed_services(row_a.text), listed_services(row_b.text)
    if la and lb and len(la.items) >= 3 and la.raw == lb.raw:
        return f"社区特有数字相同（{shown}），所列 {len(la.items)} 项服务及其空格也逐字相同：{la.raw}"
    return ""
