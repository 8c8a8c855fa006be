"""Writing a report to files in the formats asked for."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from anju.evaluation.errors import EvaluationError
from anju.evaluation.report.html import render_html
from anju.evaluation.report.model import Report
from anju.evaluation.report.pdf import render_pdf


class ReportFormat(StrEnum):
    html = "html"
    pdf = "pdf"


def write_report(
    report: Report, out_dir: Path, formats: Sequence[ReportFormat], stem: str = ""
) -> list[Path]:
    """Writes the report in each format into `out_dir` as `<stem>.html` / `<stem>.pdf`."""
    stem = stem or report.file_stem
    written = []
    try:
        for fmt in formats:
            path = out_dir / f"{stem}.{fmt.value}"
            if fmt is ReportFormat.html:
                path.write_text(render_html(report), encoding="utf-8")
            else:
                render_pdf(report, path)
            written.append(path)
    except OSError as exc:
        raise EvaluationError(
            f"{exc.filename or out_dir}: cannot write the report ({exc.strerror})"
        ) from None
    return written
