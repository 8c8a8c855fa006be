"""`anju evaluate …`: score communities, audit acceptance material, plan improvements.

`evaluate_app` is registered by the main command as `anju evaluate`. Every user mistake (a bad input file,
an unknown community, no facts at all) prints one line naming the field, the value and what is expected,
and exits with code 2 — never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from anju.evaluation import tables
from anju.evaluation.claims import check_document, read_claims
from anju.evaluation.errors import EvaluationError, parse_error_text
from anju.evaluation.evidence import ProviderRegistry, default_registry
from anju.evaluation.inputs import CommunityFacts, gather, read_input
from anju.evaluation.paper import Weighting, check_configured, evaluate_paper
from anju.evaluation.plans import Plan, paper_plan, shandong_plan, wuhan_plan
from anju.evaluation.report.build import (
    DEFAULT_PAPER_TARGET,
    community_report,
    district_report,
    evaluate_all,
    unknown_community,
)
from anju.evaluation.report.labels import Lang
from anju.evaluation.report.model import Report, safe_stem
from anju.evaluation.shandong import evaluate_shandong
from anju.evaluation.systems import paper_system, shandong_system, wuhan_system
from anju.evaluation.wuhan import evaluate_wuhan
from anju.yamlfiles import load_yaml

evaluate_app = typer.Typer(
    help="评价：论文指标体系（CRITIC-TOPSIS）、武汉验收、山东等级、材料核查、改进计划",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
systems_app = typer.Typer(help="指标体系：输入键及其含义", no_args_is_help=True)
evaluate_app.add_typer(systems_app, name="systems")

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


class SystemName(StrEnum):
    paper = "paper"
    wuhan = "wuhan"
    shandong = "shandong"


class Variant(StrEnum):
    demonstration = "demonstration"
    standard = "standard"


class TierName(StrEnum):
    basic = "basic"
    growth = "growth"


class FormatChoice(StrEnum):
    html = "html"
    pdf = "pdf"
    both = "both"


def registry(*, platform: bool = False) -> ProviderRegistry:
    """The providers the CLI consults: those of the process-wide registry (tests may register into it),
    copied, so that what one command installs does not outlive it.

    With `platform` (communities named by --community), the platform's own providers are installed over
    its database, when there is one: evaluating from an input file alone never creates a database."""
    providers = ProviderRegistry(default_registry().providers)
    if platform:
        _install_platform_providers(providers)
    return providers


def _install_platform_providers(providers: ProviderRegistry) -> None:
    from sqlalchemy.engine import make_url

    from anju.config import Settings

    settings = Settings.from_env()
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        return
    from anju.evaluation.platform import install_platform_providers
    from anju.services import open_services

    install_platform_providers(open_services(settings), providers)


def handled(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except EvaluationError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(2) from None

    return wrapper


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _as_of(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise EvaluationError.bad_value("--as-of", "date", value, "a date YYYY-MM-DD") from None


def _communities(
    input_file: Path | None, community: list[str] | None, as_of: str | None
) -> list[CommunityFacts]:
    file_communities = read_input(input_file) if input_file is not None else []
    return gather(file_communities, community or [], registry(platform=bool(community)), _as_of(as_of))


InputOpt = Annotated[
    Path | None,
    typer.Option("--input", "-i", help="YAML/JSON file: communities: [{code, name, facts: {KEY: value}}]"),
]
CommunityOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--community",
        "-c",
        help="community code (repeatable): with --input, picks communities of the file; without, takes "
        "their facts from the registered evidence providers",
    ),
]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="evaluation date YYYY-MM-DD (default: today)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _weights_file(path: Path) -> dict[str, float]:
    try:
        raw = load_yaml(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise EvaluationError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = parse_error_text(exc)
        raise EvaluationError(f"{path}: cannot read the weights ({first})") from None
    if isinstance(raw, dict) and isinstance(raw.get("weights"), dict):
        raw = raw["weights"]
    if not isinstance(raw, dict):
        raise EvaluationError.bad_value(
            str(path), "weights", raw, "a mapping of indicator code (SE11 …) to weight"
        )
    return check_configured(paper_system(), raw, str(path))


@evaluate_app.command("paper")
@handled
def paper_cmd(
    input_file: InputOpt = None,
    community: CommunityOpt = None,
    weights: Annotated[
        Path | None,
        typer.Option("--weights", help="YAML/JSON mapping SE11…SE72 → weight (configured weighting)"),
    ] = None,
    equal: Annotated[bool, typer.Option("--equal-weights", help="equal weights instead of CRITIC")] = False,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """论文指标体系：32 项指标得分、CRITIC 权重、TOPSIS 贴近度与排名。"""
    if weights is not None and equal:
        raise EvaluationError("give either --weights FILE or --equal-weights, not both")
    configured = _weights_file(weights) if weights is not None else None
    communities = _communities(input_file, community, as_of)
    result = evaluate_paper(
        paper_system(), communities, weighting=Weighting.equal if equal else None, configured=configured
    )
    if as_json:
        _json(result.to_dict())
    else:
        tables.paper_tables(out, result)


@evaluate_app.command("wuhan")
@handled
def wuhan_cmd(
    input_file: InputOpt = None,
    community: CommunityOpt = None,
    variant: Annotated[
        Variant, typer.Option("--variant", help="示范小区 demonstration / 标准小区 standard")
    ] = Variant.standard,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """武汉市智慧平安小区验收：智慧 70 分 + 平安 30 分，90 分以上通过。"""
    system = wuhan_system()
    results = [evaluate_wuhan(system, variant.value, c) for c in _communities(input_file, community, as_of)]
    if as_json:
        _json({"system": "wuhan", "variant": variant.value, "communities": [r.to_dict() for r in results]})
    else:
        tables.wuhan_tables(out, results, system.context)


@evaluate_app.command("shandong")
@handled
def shandong_cmd(
    input_file: InputOpt = None,
    community: CommunityOpt = None,
    tier: Annotated[
        TierName | None, typer.Option("--tier", help="only this tier (default: every tier)")
    ] = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """山东省智慧社区建设指标：基础型 22 项、成长型 28 项，逐项达标判定与所达等级。"""
    system = shandong_system()
    chosen = [tier.value] if tier else None
    results = [evaluate_shandong(system, c, chosen) for c in _communities(input_file, community, as_of)]
    if as_json:
        _json({"system": "shandong", "communities": [r.to_dict() for r in results]})
    else:
        tables.shandong_tables(out, results, system.context)


@evaluate_app.command("check-claims")
@handled
def check_claims_cmd(
    file: Annotated[
        Path, typer.Argument(help="the notice as published (.txt) or a structured form (.yaml/.json/.xlsx)")
    ],
    as_json: JsonOpt = False,
) -> None:
    """核查自报验收材料：计算不符、低于标准却标为达标、留空、模板残留、数量不符、复制、标准文本不符。"""
    doc = read_claims(file)
    findings = check_document(doc)
    if as_json:
        counts: dict[str, int] = {}
        for f in findings:
            counts[f.kind.value] = counts.get(f.kind.value, 0) + 1
        _json(
            {
                "source": doc.source,
                "communities": [
                    {"name": c.name, "street": c.street, "tier": c.tier} for c in doc.communities
                ],
                "counts": counts,
                "findings": [f.to_dict() for f in findings],
            }
        )
    else:
        tables.findings_table(out, doc.source, len(doc.communities), findings)


@evaluate_app.command("plan")
@handled
def plan_cmd(
    system: Annotated[SystemName, typer.Argument(help="paper, wuhan or shandong")],
    input_file: InputOpt = None,
    community: CommunityOpt = None,
    variant: Annotated[
        Variant, typer.Option("--variant", help="Wuhan: demonstration / standard")
    ] = Variant.standard,
    tier: Annotated[
        TierName | None, typer.Option("--tier", help="Shandong: target tier (default: the next one)")
    ] = None,
    target: Annotated[
        float | None, typer.Option("--target", help="paper: target weighted score 0-100")
    ] = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """改进计划：达到目标（武汉通过、山东下一等级、论文目标分）所需的最少改动及各自收益。"""
    communities = _communities(input_file, community, as_of)
    plans: list[Plan]
    if system is SystemName.wuhan:
        ws = wuhan_system()
        plans = [wuhan_plan(evaluate_wuhan(ws, variant.value, c)) for c in communities]
    elif system is SystemName.shandong:
        ss = shandong_system()
        goal = ss.tier(tier.value) if tier else None
        plans = [shandong_plan(evaluate_shandong(ss, c), goal) for c in communities]
    else:
        if target is None:
            raise EvaluationError.bad_value(
                "plan paper", "--target", None, "a target weighted score between 0 and 100"
            )
        if not 0 <= target <= 100:
            raise EvaluationError.bad_value("plan paper", "--target", target, "a score between 0 and 100")
        # the weights come from the whole set being compared, as in `evaluate paper`
        everyone = read_input(input_file) if input_file is not None else communities
        if input_file is not None:
            everyone = gather(everyone, [], registry(), _as_of(as_of))
        result = evaluate_paper(paper_system(), everyone)
        wanted = {c.code for c in communities}
        plans = [paper_plan(result, c, target) for c in result.communities if c.code in wanted]
    if as_json:
        _json({"system": system.value, "plans": [p.to_dict() for p in plans]})
    else:
        tables.plan_tables(out, plans)


@evaluate_app.command("report")
@handled
def report_cmd(
    input_file: InputOpt = None,
    community: CommunityOpt = None,
    district: Annotated[
        bool, typer.Option("--district", help="one report over every community of the input file")
    ] = False,
    fmt: Annotated[
        FormatChoice, typer.Option("--format", "-f", help="html, pdf or both")
    ] = FormatChoice.both,
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="folder for the reports (created when missing)")
    ] = Path("reports"),
    lang: Annotated[Lang, typer.Option("--lang", help="zh (default) or en")] = Lang.zh,
    variant: Annotated[
        Variant, typer.Option("--variant", help="Wuhan: demonstration / standard")
    ] = Variant.standard,
    paper_target: Annotated[
        float | None,
        typer.Option("--paper-target", help="weighted score the paper plan aims at (default 80)"),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="district report: the district's name (default: the file name)"),
    ] = None,
    equal: Annotated[bool, typer.Option("--equal-weights", help="equal weights instead of CRITIC")] = False,
    as_of: AsOfOpt = None,
) -> None:
    """评价报告：每个社区或整个区域的 HTML / PDF（维度雷达图、指标条形图、排名、未达标项、改进计划）。"""
    # imported here: drawing needs matplotlib, which no other `anju` command should pay for at start-up
    from anju.evaluation.report.output import ReportFormat, write_report

    if district == bool(community):
        raise EvaluationError("give --community CODE (repeatable) or --district, one of the two")
    if district and input_file is None:
        raise EvaluationError("--district reports on the communities of an input file: give --input FILE")
    target = DEFAULT_PAPER_TARGET if paper_target is None else paper_target
    if not 0 <= target <= 100:
        raise EvaluationError.bad_value("report", "--paper-target", target, "a score between 0 and 100")
    day = _as_of(as_of)
    if input_file is not None:
        everyone = gather(read_input(input_file), [], registry(), day)
    else:
        everyone = gather([], community or [], registry(platform=True), day)
    codes = list(dict.fromkeys(community or []))
    known = {c.code for c in everyone}
    for code in codes:
        if code not in known:
            raise unknown_community(code, everyone)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EvaluationError(f"{out_dir}: cannot create the folder ({exc.strerror})") from None
    formats = [ReportFormat.html, ReportFormat.pdf] if fmt is FormatChoice.both else [ReportFormat(fmt.value)]
    evaluation = evaluate_all(
        everyone, day, variant=variant.value, weighting=Weighting.equal if equal else None
    )
    written: list[Path] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        if district:
            task = progress.add_task("区域报告", total=1)
            title = name or (input_file.stem if input_file is not None else "")
            report: Report = district_report(evaluation, lang, title, target)
            written += write_report(report, out_dir, formats)
            progress.advance(task)
        else:
            task = progress.add_task("社区报告", total=len(codes))
            stems: set[str] = set()
            for code in codes:
                progress.update(task, description=f"社区报告 {code}")
                report = community_report(evaluation, code, lang, target)
                stem = safe_stem(code)
                while stem in stems:  # two codes that differ only in characters a file name cannot hold
                    stem += "_"
                stems.add(stem)
                written += write_report(report, out_dir, formats, stem)
                progress.advance(task)
    for path in written:
        out.print(str(path), markup=False, highlight=False)


@evaluate_app.command("attest")
@handled
def attest_cmd(
    community: Annotated[str, typer.Option("--community", "-c", help="community code")],
    key: Annotated[str, typer.Option("--key", "-k", help="fact key, e.g. WH.video_room or SE32.1")],
    value: Annotated[str, typer.Option("--value", help="the value as YAML: true, 3, 85.5, [a, b]")],
    note: Annotated[str, typer.Option("--note", help="what the value rests on")],
    file: Annotated[list[Path] | None, typer.Option("--file", help="attached evidence (repeatable)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """State a fact the platform's data cannot show, with files (audited) · 佐证声明"""
    from anju.evaluation.attestations import Attachment, open_attestations
    from anju.security.admin_cli import actor
    from anju.services import open_services

    attachments = []
    for path in file or []:
        try:
            attachments.append(Attachment(path.name, path.read_bytes()))
        except OSError as exc:
            raise EvaluationError(f"{path}: cannot read the file ({exc.strerror})") from None
    svc = open_services()
    try:
        made = open_attestations(svc).add(
            community, key, load_yaml(value), note=note, actor=actor(), files=attachments
        )
    finally:
        svc.close()
    if as_json:
        _json(made.to_json())
    else:
        out.print(f"attestation {made.id}: {community} {key} = {made.value!r} ({len(made.files)} files)")


@evaluate_app.command("attestations")
@handled
def attestations_cmd(
    community: Annotated[str, typer.Option("--community", "-c", help="community code")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Attestations of a community, revoked ones included · 佐证列表"""
    from anju.evaluation.attestations import open_attestations
    from anju.services import open_services

    svc = open_services()
    try:
        listed = open_attestations(svc).list(community)
    finally:
        svc.close()
    if as_json:
        _json([a.to_json() for a in listed])
        return
    table = Table("id", "key", "value", "by", "at", "files", "revoked", title=f"{community} 佐证")
    for a in listed:
        table.add_row(
            str(a.id),
            a.key,
            repr(a.value),
            a.attested_by,
            f"{a.attested_at:%Y-%m-%d %H:%M}",
            str(len(a.files)),
            "yes" if a.revoked_at else "",
        )
    out.print(table)


@systems_app.command("list")
def systems_list() -> None:
    """三个指标体系。"""
    p, w, s = paper_system(), wuhan_system(), shandong_system()
    out.print(
        f"paper     {p.title_zh}（{len(p.dimensions)} 个维度，{len(p.indicators)} 项指标，{len(p.criteria)} 个子项）"
    )
    out.print(f"wuhan     {w.title_zh}（{'、'.join(v.zh for v in w.variants)}；{len(w.facts)} 个输入键）")
    out.print(
        f"shandong  {s.title_zh}（{'、'.join(f'{t.zh} {len(t.indicators)} 项' for t in s.tiers)}；{len(s.facts)} 个输入键）"
    )


@systems_app.command("show")
@handled
def systems_show(
    system: Annotated[SystemName, typer.Argument(help="paper, wuhan or shandong")],
    as_json: JsonOpt = False,
) -> None:
    """列出一个指标体系的全部输入键及其含义。"""
    if system is SystemName.paper:
        ps = paper_system()
        if as_json:
            _json(
                {
                    "system": "paper",
                    "keys": [
                        {
                            "key": c.key,
                            "indicator": c.indicator,
                            "kind": c.kind.value,
                            "points": c.points,
                            "zh": c.zh,
                            "text": c.text,
                            "input_zh": c.input_zh(),
                            "input_en": c.input_en(),
                            "items": [{"key": i.key, "zh": i.zh, "en": i.en} for i in c.items],
                            "open": c.open,
                            "reading": c.reading,
                        }
                        for c in ps.criteria.values()
                    ],
                }
            )
        else:
            tables.paper_system_table(out, ps)
        return
    facts = wuhan_system().facts if system is SystemName.wuhan else shandong_system().facts
    if as_json:
        _json(
            {
                "system": system.value,
                "keys": [{"key": f.key, "kind": f.kind, "zh": f.zh, "en": f.en} for f in facts],
            }
        )
    elif system is SystemName.wuhan:
        tables.wuhan_system_table(out, wuhan_system())
    else:
        tables.shandong_system_table(out, shandong_system())
