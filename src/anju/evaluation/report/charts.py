"""Report charts with matplotlib, drawn into axes the caller places (a PDF page or an SVG figure).

No pyplot: figures are plain `Figure` objects, so nothing global is created or leaked per report. Every
call must run under `fonts.matplotlib_rc()` (the renderers do that) for the Chinese font to be used.
"""

from __future__ import annotations

import io
import math
import re
import textwrap
from collections.abc import Sequence
from typing import Any

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.projections.polar import PolarAxes

from anju.evaluation.report.model import Profile, RankRow, Score

# Okabe-Ito: distinguishable for colour-blind readers and in greyscale print.
DIMENSION_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
THIS = "#0072B2"
REFERENCE = "#7F7F7F"


def _wrap(label: str, width: int) -> str:
    # Chinese labels are short; English dimension names need line breaks to fit around a radar.
    return "\n".join(textwrap.wrap(label, width)) if label.isascii() else label


def polar_axes(fig: Figure, rect: tuple[float, float, float, float]) -> PolarAxes:
    ax = fig.add_axes(rect, projection="polar")
    assert isinstance(ax, PolarAxes)
    return ax


def radar(
    ax: PolarAxes,
    labels: Sequence[str],
    values: Sequence[float],
    reference: Sequence[float] | None = None,
    legend: tuple[str, str] | None = None,
    *,
    fontsize: float = 9,
    title: str = "",
) -> None:
    """A radar of 0-100 scores on a polar axes; `reference` (dashed) is e.g. the average of the others."""
    n = len(labels)
    angles = [2 * math.pi * k / n for k in range(n)]
    closed = [*angles, angles[0]]
    # first dimension at the top, then clockwise, as radar charts are read
    ax.set_theta_offset(math.pi / 2)
    ax.set_theta_direction(-1)
    ax.set_ylim(0, 100)
    ax.set_yticks([20, 40, 60, 80, 100])
    ax.set_yticklabels(["20", "40", "60", "80", "100"], fontsize=fontsize * 0.7, color=REFERENCE)
    ax.set_rlabel_position(180 / n)
    ax.set_xticks(angles)
    ax.set_xticklabels([_wrap(label, 14) for label in labels], fontsize=fontsize)
    ax.tick_params(axis="x", pad=fontsize * 0.6)
    ax.grid(color="#D0D0D0", linewidth=0.6)
    ax.spines["polar"].set_color("#B0B0B0")
    if reference is not None:
        ax.plot(closed, [*reference, reference[0]], color=REFERENCE, linewidth=1.2, linestyle="--")
    ax.plot(closed, [*values, values[0]], color=THIS, linewidth=1.8, marker="o", markersize=3)
    ax.fill(closed, [*values, values[0]], color=THIS, alpha=0.18)
    if legend is not None:
        handles = [Line2D([], [], color=THIS, linewidth=1.8, marker="o", markersize=3, label=legend[0])]
        if reference is not None:
            handles.append(Line2D([], [], color=REFERENCE, linewidth=1.2, linestyle="--", label=legend[1]))
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.08),
            ncol=2,
            frameon=False,
            fontsize=fontsize * 0.9,
        )
    if title:
        ax.set_title(title, fontsize=fontsize, pad=fontsize * 1.6)


def indicator_bars(
    ax: Axes,
    indicators: Sequence[Score],
    dimensions: Sequence[Score],
    *,
    axis_label: str,
    average_label: str,
    fontsize: float = 7.5,
) -> None:
    """Horizontal bars of the indicator scores, coloured by dimension, with the average as a tick."""
    colour = {d.code: DIMENSION_COLOURS[k % len(DIMENSION_COLOURS)] for k, d in enumerate(dimensions)}
    ys = list(range(len(indicators)))[::-1]
    ax.barh(
        ys,
        [i.value for i in indicators],
        color=[colour.get(i.group, THIS) for i in indicators],
        height=0.7,
    )
    ax.scatter(
        [i.average for i in indicators],
        ys,
        marker="|",
        s=fontsize * 12,
        color="#222222",
        zorder=3,
        linewidths=1,
    )
    for y, i in zip(ys, indicators, strict=True):
        ax.text(min(i.value, 100) + 1.2, y, f"{i.value:.0f}", va="center", fontsize=fontsize * 0.85)
    ax.set_yticks(ys)
    ax.set_yticklabels([f"{i.code} {i.label}" for i in indicators], fontsize=fontsize)
    ax.set_xlim(0, 110)
    ax.set_xticks([0, 20, 40, 60, 80, 100])
    ax.tick_params(axis="x", labelsize=fontsize)
    ax.set_xlabel(axis_label, fontsize=fontsize)
    ax.set_ylim(-0.7, len(indicators) - 0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", color="#E0E0E0", linewidth=0.5)
    ax.set_axisbelow(True)
    handles: list[Artist] = [Patch(color=colour[d.code], label=d.label) for d in dimensions]
    handles.append(
        Line2D([], [], color="#222222", marker="|", linestyle="none", markersize=8, label=average_label)
    )
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.4, -0.06),
        ncol=4,
        frameon=False,
        fontsize=fontsize,
    )


def score_bars(ax: Axes, rows: Sequence[RankRow], *, axis_label: str, fontsize: float = 8) -> None:
    """Weighted scores of the communities, best first."""
    ys = list(range(len(rows)))[::-1]
    ax.barh(ys, [r.score for r in rows], color=[THIS if not r.highlight else "#D55E00" for r in rows])
    for y, r in zip(ys, rows, strict=True):
        ax.text(r.score + 1, y, f"{r.score:.1f}", va="center", fontsize=fontsize * 0.85)
    ax.set_yticks(ys)
    ax.set_yticklabels([f"{r.rank}. {r.name}" for r in rows], fontsize=fontsize)
    ax.set_xlim(0, 110)
    ax.set_xticks([0, 20, 40, 60, 80, 100])
    ax.tick_params(axis="x", labelsize=fontsize)
    ax.set_xlabel(axis_label, fontsize=fontsize)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", color="#E0E0E0", linewidth=0.5)
    ax.set_axisbelow(True)


def small_multiples(
    fig: Figure,
    rect: tuple[float, float, float, float],
    profiles: Sequence[Profile],
    labels: Sequence[str],
    reference: Sequence[float],
    *,
    columns: int = 2,
    fontsize: float = 7,
) -> None:
    """One small radar per community inside `rect` (figure fraction: left, bottom, width, height)."""
    left, bottom, width, height = rect
    rows = max(1, math.ceil(len(profiles) / columns))
    cell_w, cell_h = width / columns, height / rows
    for k, p in enumerate(profiles):
        r, c = divmod(k, columns)
        ax = polar_axes(
            fig,
            (
                left + c * cell_w + cell_w * 0.2,
                bottom + (rows - 1 - r) * cell_h + cell_h * 0.18,
                cell_w * 0.6,
                cell_h * 0.6,
            ),
        )
        radar(ax, labels, p.dimensions, reference, fontsize=fontsize, title=f"{p.name}  {p.score:.1f}")


_METADATA_FREE: dict[str, Any] = {"Creator": None, "Date": None, "Format": None, "Type": None}


def to_svg(fig: Figure, *, tight: bool = False) -> str:
    """The figure as an inline `<svg>` element: no XML prologue, DOCTYPE URL or metadata links.

    Matplotlib names its groups `figure_1`, `axes_1`, … in every figure; several figures in one page
    would repeat those ids, so only the ids something refers to (clip paths, markers) are kept, and
    those are random per figure.
    """
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata=_METADATA_FREE, bbox_inches="tight" if tight else None)
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    used = set(re.findall(r"(?:url\(#|href=\"#)([^)\"]+)", text))
    return re.sub(r'\sid="([^"]*)"', lambda m: m.group(0) if m.group(1) in used else "", text)
