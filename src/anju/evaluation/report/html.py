"""Self-contained HTML reports: one file, charts as inline SVG, the font embedded as a WOFF subset.

Nothing is fetched when the page opens (no CDN, no web font service, no script): reports are read on
machines without internet access and archived, and a Content-Security-Policy in the page forbids any
fetch should something external slip in later.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import jinja2
import matplotlib
from markupsafe import Markup
from matplotlib.figure import Figure

from anju.evaluation.report import charts, fonts
from anju.evaluation.report.fonts import text_width
from anju.evaluation.report.labels import Lang
from anju.evaluation.report.model import CommunityReport, DistrictReport, RankRow, Report, report_texts

FONT_PLACEHOLDER = "/*anju:font-face*/"


@dataclass(frozen=True)
class _Charts:
    radar: Markup
    indicators: Markup
    scores: Markup
    profiles: tuple[Markup, ...]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("anju.evaluation.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
    )


def _svg(fig: Figure) -> Markup:
    # the SVG comes from matplotlib, which escapes the text it writes into it
    return Markup(charts.to_svg(fig, tight=True))


def _community_charts(r: CommunityReport) -> _Charts:
    labels = r.labels
    fig = Figure(figsize=(7.2, 6.2))
    charts.radar(
        charts.polar_axes(fig, (0.16, 0.14, 0.68, 0.74)),
        r.dimension_labels,
        [d.value for d in r.dimensions],
        [d.average for d in r.dimensions],
        (labels("radar_this"), labels("radar_average")),
        fontsize=10,
    )
    radar = _svg(fig)
    width_in = 8.5
    label_w = (max(text_width(f"{i.code} {i.label}", 7.5) for i in r.indicators) + 10) / 72 / width_in
    fig = Figure(figsize=(width_in, 9.5))
    ax = fig.add_axes((label_w, 0.12, 0.96 - label_w, 0.86))
    charts.indicator_bars(
        ax, r.indicators, r.dimensions, axis_label=labels("indicators_axis"), average_label=labels("average")
    )
    indicators = _svg(fig)
    scores = _score_svg([x for x in r.ranking if x is not None], labels("weighted_score"))
    return _Charts(radar, indicators, scores, ())


def _score_svg(rows: list[RankRow], axis_label: str) -> Markup:
    fig = Figure(figsize=(7.5, 0.8 + 0.3 * len(rows)))
    charts.score_bars(fig.add_subplot(), rows, axis_label=axis_label)
    return _svg(fig)


def _district_charts(r: DistrictReport) -> _Charts:
    profiles = []
    for p in r.profiles:
        fig = Figure(figsize=(3.6, 3.4))
        charts.radar(
            charts.polar_axes(fig, (0.2, 0.16, 0.6, 0.64)),
            r.dimension_labels,
            p.dimensions,
            r.dimension_averages,
            fontsize=7.5,
            title=f"{p.name}  {p.score:.1f}",
        )
        profiles.append(_svg(fig))
    scores = _score_svg(list(r.ranking), r.labels("weighted_score"))
    return _Charts(Markup(""), Markup(""), scores, tuple(profiles))


def render_html(report: Report) -> str:
    """The report as one HTML document that needs nothing else to display."""
    labels = report.labels
    family = fonts.report_font(report_texts(report))
    with matplotlib.rc_context(fonts.matplotlib_rc(family)):
        if isinstance(report, CommunityReport):
            kind = "community"
            svgs = _community_charts(report)
            meta = [
                labels.kv(labels("code"), report.code),
                labels.kv(labels("date"), report.as_of.isoformat()),
            ]
            codes = [d.code for d in report.dimensions]
        else:
            kind = "district"
            svgs = _district_charts(report)
            meta = [
                labels.kv(labels("date"), report.as_of.isoformat()),
                labels.kv(labels("communities_compared"), labels("communities_count", n=len(report.ranking))),
            ]
            codes = list(report.dimension_codes)
    stack = ", ".join([f"'{family}'", *fonts.CSS_FALLBACKS])
    page = (
        _environment()
        .get_template("report.html.j2")
        .render(
            r=report,
            kind=kind,
            L=labels,
            html_lang="zh-CN" if labels.lang is Lang.zh else "en",
            meta=meta,
            svg=svgs,
            dimension_codes=codes,
            dimension_names=list(report.dimension_labels),
            weighting_line=labels.kv(labels("weighting"), report.weighting_note),
            font_face=Markup(FONT_PLACEHOLDER),
            font_stack=Markup(stack),
        )
    )
    # The font is subset to the characters of the finished page, so it is embedded last.
    woff = base64.b64encode(fonts.woff_subset(page)).decode("ascii")
    face = f"@font-face {{ font-family: '{family}'; src: url(data:font/woff;base64,{woff}) format('woff'); }}"
    return page.replace(FONT_PLACEHOLDER, face, 1)
