"""A4 PDF reports drawn with matplotlib alone (`PdfPages`), text kept as text (Type 42 fonts).

Matplotlib has no page layout, so `PdfDoc` is a small flow layout: it places headings, wrapped
paragraphs, tables (split across pages, header repeated) and chart axes top to bottom and starts a new
page when the next block does not fit. Widths are measured from the font's own advance widths, so Chinese
text wraps where it really ends, not by a character-count guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.projections.polar import PolarAxes

from anju.evaluation.report import charts, fonts
from anju.evaluation.report.fonts import text_width
from anju.evaluation.report.labels import Labels
from anju.evaluation.report.model import (
    CommunityReport,
    DistrictReport,
    FailingGroup,
    PlanView,
    RankRow,
    Report,
    report_texts,
)

PAGE_W, PAGE_H = 595.28, 841.89  # A4 in points
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 50.0, 56.0, 60.0
CONTENT_W = PAGE_W - 2 * MARGIN_X
INK = "#222222"
MUTED = "#666666"
ACCENT = "#0B4F8A"
HEADER_FILL = "#E8EEF5"
HIGHLIGHT_FILL = "#FFF1CC"
RULE = "#C8C8C8"
# Chinese punctuation that must not begin a line (GB/T 15834 line-breaking rule).
NO_LINE_START = set("，。、；：？！）》」』】〕…%,.;:?!)]")
BARS_PER_PAGE = 45
RADARS_PER_PAGE = 6
RADAR_COLUMNS = 2


_TOKEN = re.compile(r"[A-Za-z0-9_.,:;%/()+\-'\"#<>=≥≤×·]+\s*|\s+|.")


def wrap(text: str, width: float, size: float) -> list[str]:
    """Lines of `text` no wider than `width` points: Latin words stay whole, CJK breaks between characters."""
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for tok in _TOKEN.findall(para):
            candidate = line + tok
            if not line or text_width(candidate.rstrip(), size) <= width or tok[0] in NO_LINE_START:
                line = candidate
                continue
            lines.append(line.rstrip())
            line = tok.lstrip()
            while text_width(line, size) > width and len(line) > 1:
                # a single word wider than the column: break it by characters
                cut = len(line)
                while cut > 1 and text_width(line[:cut], size) > width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line.rstrip())
    return lines


@dataclass(frozen=True)
class Column:
    header: str
    width: float  # share of the table width
    align: str = "left"


class PdfDoc:
    """Flow layout over A4 pages of a `PdfPages` file; y runs downwards from the top edge, in points."""

    def __init__(self, pdf: PdfPages, footer: str, labels: Labels) -> None:
        self.pdf = pdf
        self.footer = footer
        self.labels = labels
        self.fig: Figure | None = None
        self.page = 0
        self.y = MARGIN_TOP

    # coordinates: points from the top-left corner → figure fractions
    @staticmethod
    def fx(x: float) -> float:
        return x / PAGE_W

    @staticmethod
    def fy(y: float) -> float:
        return 1 - y / PAGE_H

    @property
    def figure(self) -> Figure:
        if self.fig is None:
            self.new_page()
        assert self.fig is not None
        return self.fig

    @property
    def remaining(self) -> float:
        return PAGE_H - MARGIN_BOTTOM - self.y

    def new_page(self) -> None:
        self._finish()
        self.fig = Figure(figsize=(PAGE_W / 72, PAGE_H / 72))
        self.page += 1
        self.y = MARGIN_TOP
        fy = self.fy(PAGE_H - MARGIN_BOTTOM / 2)
        self.fig.text(self.fx(MARGIN_X), fy, self.footer, fontsize=7.5, color=MUTED, va="center")
        self.fig.text(
            self.fx(PAGE_W - MARGIN_X),
            fy,
            self.labels("page", page=self.page),
            fontsize=7.5,
            color=MUTED,
            va="center",
            ha="right",
        )

    def _finish(self) -> None:
        if self.fig is not None:
            # PdfPages.savefig has no annotations in matplotlib's stubs
            self.pdf.savefig(self.fig)  # type: ignore[no-untyped-call]
            self.fig = None

    def close(self) -> None:
        self._finish()

    def ensure(self, height: float) -> None:
        if self.fig is None or height > self.remaining:
            self.new_page()

    def space(self, height: float) -> None:
        self.y += height

    def line(self, text: str, x: float, size: float, color: str = INK, ha: str = "left") -> None:
        self.figure.text(self.fx(x), self.fy(self.y), text, fontsize=size, color=color, va="top", ha=ha)

    def text(self, text: str, size: float = 9.5, color: str = INK, indent: float = 0.0) -> None:
        height = size * 1.45
        for line in wrap(text, CONTENT_W - indent, size):
            self.ensure(height)
            self.line(line, MARGIN_X + indent, size, color)
            self.y += height

    def heading(self, text: str, level: int = 1) -> None:
        size = 15.0 if level == 1 else 11.5
        self.ensure(size * 2 + 60)  # never leave a heading alone at the foot of a page
        if self.y > MARGIN_TOP:
            self.y += size * (0.9 if level == 1 else 0.6)
        self.line(text, MARGIN_X, size, ACCENT if level == 1 else INK)
        self.y += size * 1.5
        if level == 1:
            fig = self.figure
            fig.add_artist(
                Line2D(
                    [self.fx(MARGIN_X), self.fx(PAGE_W - MARGIN_X)],
                    [self.fy(self.y - size * 0.3)] * 2,
                    color=ACCENT,
                    linewidth=0.8,
                    transform=fig.transFigure,
                )
            )
            self.y += size * 0.4

    def _rect(self, height: float, left: float, width: float | None) -> tuple[float, float, float, float]:
        self.ensure(height)
        w = CONTENT_W - left if width is None else width
        rect = (self.fx(MARGIN_X + left), self.fy(self.y + height), w / PAGE_W, height / PAGE_H)
        self.y += height
        return rect

    def axes(self, height: float, *, left: float = 0.0, width: float | None = None) -> Axes:
        """Reserves `height` points of the flow for a chart and returns its axes."""
        return self.figure.add_axes(self._rect(height, left, width))

    def polar_axes(self, height: float, *, left: float = 0.0, width: float | None = None) -> PolarAxes:
        rect = self._rect(height, left, width)
        return charts.polar_axes(self.figure, rect)

    def block(self, height: float) -> tuple[Figure, float]:
        """Reserves `height` points for free drawing; returns the figure and the block's top y."""
        self.ensure(height)
        top = self.y
        self.y += height
        return self.figure, top

    def table(
        self,
        columns: Sequence[Column],
        rows: Sequence[Sequence[str]],
        *,
        size: float = 8.0,
        highlight: Sequence[bool] = (),
    ) -> None:
        pad = 3.0
        lh = size * 1.35
        total = sum(c.width for c in columns)
        widths = [c.width / total * CONTENT_W for c in columns]

        def cells(values: Sequence[str]) -> list[list[str]]:
            return [wrap(v, w - 2 * pad, size) for v, w in zip(values, widths, strict=True)]

        def height(lines: list[list[str]]) -> float:
            return max(len(c) for c in lines) * lh + 2 * pad

        header = cells([c.header for c in columns])

        def draw(lines: list[list[str]], fill: str | None, color: str = INK) -> None:
            fig = self.figure
            h = height(lines)
            if fill:
                fig.add_artist(
                    Rectangle(
                        (self.fx(MARGIN_X), self.fy(self.y + h)),
                        CONTENT_W / PAGE_W,
                        h / PAGE_H,
                        facecolor=fill,
                        edgecolor="none",
                        transform=fig.transFigure,
                        zorder=0,
                    )
                )
            x = MARGIN_X
            for col, cell, w in zip(columns, lines, widths, strict=True):
                for k, text in enumerate(cell):
                    tx = x + pad if col.align == "left" else x + w - pad
                    fig.text(
                        self.fx(tx),
                        self.fy(self.y + pad + k * lh),
                        text,
                        fontsize=size,
                        color=color,
                        va="top",
                        ha="left" if col.align == "left" else "right",
                    )
                x += w
            self.y += h
            fig.add_artist(
                Line2D(
                    [self.fx(MARGIN_X), self.fx(PAGE_W - MARGIN_X)],
                    [self.fy(self.y)] * 2,
                    color=RULE,
                    linewidth=0.5,
                    transform=fig.transFigure,
                )
            )

        self.ensure(height(header) + (height(cells(rows[0])) if rows else 0))
        draw(header, HEADER_FILL)
        for k, row in enumerate(rows):
            lines = cells(row)
            if height(lines) > self.remaining:
                self.new_page()
                draw(header, HEADER_FILL)
            draw(lines, HIGHLIGHT_FILL if k < len(highlight) and highlight[k] else None)
        self.y += 6


# ── shared sections ───────────────────────────────────────────────────────────


def _title_page(doc: PdfDoc, title: str, name: str, lines: Sequence[str]) -> None:
    doc.new_page()
    doc.y = 150
    doc.line(title, MARGIN_X, 22, ACCENT)
    doc.y += 48
    for part in wrap(name, CONTENT_W, 26):
        doc.line(part, MARGIN_X, 26, INK)
        doc.y += 36
    doc.y += 8
    for text in lines:
        doc.line(text, MARGIN_X, 11, MUTED)
        doc.y += 18
    doc.y += 24


def _headlines(doc: PdfDoc, report: Report) -> None:
    labels = report.labels
    doc.heading(labels("overview"))
    doc.table(
        [Column(labels("item"), 0.34), Column(labels("content"), 0.66)],
        [(h.label, h.value) for h in report.headlines],
        size=9.5,
    )
    doc.text(labels.kv(labels("weighting"), report.weighting_note), size=8.5, color=MUTED)


def _ranking_table(doc: PdfDoc, labels: Labels, codes: Sequence[str], rows: Sequence[RankRow | None]) -> None:
    columns = [
        Column(labels("rank"), 0.6, "right"),
        Column(labels("community"), 1.6),
        Column(labels("code"), 1.0),
        Column(labels("weighted_score"), 0.8, "right"),
        Column(labels("closeness"), 0.9, "right"),
        *(Column(code, 0.55, "right") for code in codes),
        Column(labels("wuhan_short"), 0.9),
        Column(labels("shandong_short"), 0.9),
    ]
    body: list[list[str]] = []
    marks: list[bool] = []
    for r in rows:
        if r is None:
            body.append(["", labels("ellipsis"), "", "", "", *("" for _ in codes), "", ""])
            marks.append(False)
            continue
        body.append(
            [
                str(r.rank),
                r.name,
                r.code,
                f"{r.score:.2f}",
                "—" if r.closeness is None else f"{r.closeness:.4f}",
                *(f"{v:.1f}" for v in r.dimensions),
                r.wuhan,
                r.tier,
            ]
        )
        marks.append(r.highlight)
    doc.table(columns, body, size=7.2, highlight=marks)


def _score_bars(doc: PdfDoc, labels: Labels, rows: Sequence[RankRow]) -> None:
    label_w = max(text_width(f"{x.rank}. {x.name}", 8) for x in rows) + 8
    ax = doc.axes(min(600.0, 30 + 13.5 * len(rows)), left=label_w, width=CONTENT_W - label_w)
    charts.score_bars(ax, rows, axis_label=labels("weighted_score"))
    doc.space(36)  # the x axis labels sit below the axes


def _dimension_legend(doc: PdfDoc, codes: Sequence[str], names: Sequence[str]) -> None:
    doc.text("  ".join(f"{c} {n}" for c, n in zip(codes, names, strict=True)), size=7.5, color=MUTED)


def _failing(doc: PdfDoc, labels: Labels, groups: Sequence[FailingGroup]) -> None:
    doc.heading(labels("failing_title"))
    for g in groups:
        doc.heading(g.title, level=2)
        if not g.items:
            doc.text(labels("none_failing"), size=9)
            continue
        doc.table(
            [
                Column(labels("item"), 0.09),
                Column(labels("content"), 0.38),
                Column(g.lost_header, 0.1),
                Column(labels("unmet"), 0.43),
            ],
            [(i.ref, i.title, i.lost, i.detail) for i in g.items],
            size=7.8,
        )


def _plan(doc: PdfDoc, labels: Labels, plan: PlanView) -> None:
    doc.heading(plan.title, level=2)
    doc.text(plan.current, size=9)
    if plan.steps:
        doc.table(
            [
                Column("#", 0.05, "right"),
                Column(labels("change"), 0.33),
                Column(labels("gain"), 0.17),
                Column(labels("actions"), 0.45),
            ],
            [
                (str(n), f"{s.ref} {s.title}", s.gain, "\n".join(s.actions))
                for n, s in enumerate(plan.steps, start=1)
            ],
            size=7.8,
        )
    doc.text(plan.outcome, size=9)
    for note in plan.notes:
        doc.text(note, size=8.5, color=MUTED)


def _open(path: Path, title: str, subject: str) -> PdfPages:
    return PdfPages(
        path,
        metadata={"Title": title, "Subject": subject, "Creator": "Anju", "Author": "Anju"},
    )


# ── community report ──────────────────────────────────────────────────────────


def _community(doc: PdfDoc, r: CommunityReport) -> None:
    labels = r.labels
    _title_page(
        doc,
        r.title,
        r.name,
        [labels.kv(labels("code"), r.code), labels.kv(labels("date"), r.as_of.isoformat())],
    )
    _headlines(doc, r)
    if r.missing:
        doc.text(labels("missing_note", n=len(r.missing), keys="、".join(r.missing)), size=8, color=MUTED)
    doc.text(labels("source_note"), size=7.5, color=MUTED)

    doc.new_page()
    doc.heading(labels("radar_title"))
    doc.space(18)  # room for the label of the top spoke
    charts.radar(
        doc.polar_axes(330, left=60, width=CONTENT_W - 120),
        r.dimension_labels,
        [d.value for d in r.dimensions],
        [d.average for d in r.dimensions],
        (labels("radar_this"), labels("radar_average")),
        fontsize=9.5,
    )
    doc.space(50)
    doc.heading(labels("dimensions"), level=2)
    doc.table(
        [
            Column(labels("dimension"), 0.4),
            Column(labels("score"), 0.2, "right"),
            Column(labels("average"), 0.2, "right"),
            Column(labels("weight"), 0.2, "right"),
        ],
        [
            (f"{d.code} {d.label}", f"{d.value:.1f}", f"{d.average:.1f}", f"{d.weight:.4f}")
            for d in r.dimensions
        ],
        size=8.5,
    )

    doc.new_page()
    doc.heading(labels("indicators_title"))
    label_w = max(text_width(f"{i.code} {i.label}", 7.5) for i in r.indicators) + 8
    ax = doc.axes(600, left=label_w, width=CONTENT_W - label_w)
    charts.indicator_bars(
        ax,
        r.indicators,
        r.dimensions,
        axis_label=labels("indicators_axis"),
        average_label=labels("average"),
    )

    doc.new_page()
    doc.heading(labels("ranking_title"))
    _ranking_table(doc, labels, [d.code for d in r.dimensions], r.ranking)
    _dimension_legend(doc, [d.code for d in r.dimensions], r.dimension_labels)
    doc.heading(labels("score_bars_title"))
    _score_bars(doc, labels, [x for x in r.ranking if x is not None])

    doc.new_page()
    _failing(doc, labels, r.failing)

    doc.new_page()
    doc.heading(labels("plan_title"))
    for plan in r.plans:
        _plan(doc, labels, plan)


# ── district report ───────────────────────────────────────────────────────────


def _district(doc: PdfDoc, r: DistrictReport) -> None:
    labels = r.labels
    _title_page(
        doc,
        r.title,
        r.name,
        [
            labels.kv(labels("date"), r.as_of.isoformat()),
            labels.kv(labels("communities_compared"), labels("communities_count", n=len(r.ranking))),
        ],
    )
    _headlines(doc, r)
    doc.text(labels("source_note"), size=7.5, color=MUTED)

    doc.new_page()
    doc.heading(labels("score_bars_title"))
    for start in range(0, len(r.ranking), BARS_PER_PAGE):
        _score_bars(doc, labels, r.ranking[start : start + BARS_PER_PAGE])
    doc.heading(labels("ranking_title"))
    _ranking_table(doc, labels, r.dimension_codes, r.ranking)
    _dimension_legend(doc, r.dimension_codes, r.dimension_labels)

    for start in range(0, len(r.profiles), RADARS_PER_PAGE):
        doc.new_page()
        doc.heading(labels("small_multiples_title"))
        chunk = r.profiles[start : start + RADARS_PER_PAGE]
        grid_rows = -(-len(chunk) // RADAR_COLUMNS)
        height = min(doc.remaining - 30, 235.0 * grid_rows)
        fig, top = doc.block(height)
        charts.small_multiples(
            fig,
            (doc.fx(MARGIN_X), doc.fy(top + height), CONTENT_W / PAGE_W, height / PAGE_H),
            chunk,
            r.dimension_labels,
            r.dimension_averages,
            columns=RADAR_COLUMNS,
        )
        doc.text(labels("radar_key"), size=8, color=MUTED)

    doc.new_page()
    doc.heading(labels("common_failing_title"))
    for title, failures in r.common:
        doc.heading(title, level=2)
        if not failures:
            doc.text(labels("none_failing"), size=9)
            continue
        doc.table(
            [
                Column(labels("item"), 0.1),
                Column(labels("content"), 0.45),
                Column(labels("communities_failing"), 0.12, "right"),
                Column(labels("community"), 0.33),
            ],
            [(x.ref, x.title, str(x.communities), x.names) for x in failures],
            size=7.8,
        )

    doc.new_page()
    doc.heading(labels("plan_summary_title"))
    doc.table(
        [
            Column(labels("community"), 0.3),
            Column(labels("code"), 0.16),
            Column(labels("changes_to_pass_wuhan"), 0.18),
            Column(labels("changes_to_next_tier"), 0.18),
            Column(labels("changes_to_paper_target"), 0.18),
        ],
        [(x.name, x.code, x.wuhan, x.shandong, x.paper) for x in r.plan_summary],
        size=8,
    )


def render_pdf(report: Report, path: Path) -> int:
    """Writes the report as an A4 PDF; returns its page count."""
    name = report.name
    footer = f"{report.title} · {name}"
    family = fonts.report_font(report_texts(report))
    with matplotlib.rc_context(fonts.matplotlib_rc(family)), _open(path, footer, report.title) as pdf:
        doc = PdfDoc(pdf, footer, report.labels)
        if isinstance(report, CommunityReport):
            _community(doc, report)
        else:
            _district(doc, report)
        doc.close()
        return doc.page
