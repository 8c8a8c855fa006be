"""The scorecard's radar chart as a PNG data URI.

A PNG rather than inline SVG: the evaluation charts keep SVG text as text, which a browser without a
Chinese font would draw as empty boxes; a PNG carries the glyphs matplotlib drew with the report font.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib
from matplotlib.figure import Figure

from anju.evaluation.report import charts, fonts


def radar_png(labels: Sequence[str], values: Sequence[float], title: str) -> str:
    family = fonts.report_font([*labels, title])
    with matplotlib.rc_context(fonts.matplotlib_rc(family)):
        fig = Figure(figsize=(5.6, 5.0), dpi=120)
        charts.radar(
            charts.polar_axes(fig, (0.16, 0.12, 0.68, 0.72)),
            labels,
            values,
            fontsize=11,
            title=title,
        )
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
