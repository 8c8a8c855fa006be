"""Reads the published acceptance notice (seed 004's format) into `CommunityClaim`s.

The notice is a word-processor table pasted as text: each cell starts on a line that begins with a tab,
and lines without a leading tab continue the cell above. A community's table opens with a title line
"…街道…社区智慧社区建设指标（成长型）", then the six column headings, then one row per indicator:
first-level indicator (empty when it repeats), number, name, definition, requirement, and the completion
cell, which normally starts with the verdict "达标。" and goes on with what the community did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from anju.evaluation.claims.model import ClaimDocument, CommunityClaim, IndicatorClaim
from anju.evaluation.errors import EvaluationError

TIER_LABELS = {"基础型": "basic", "成长型": "growth", "标杆型": "benchmark"}
TITLE = re.compile(
    r"^\s*(?P<street>\S*?(?:街道|镇|乡))?(?P<name>\S+?社区)智慧社区建设指标（(?P<tier>基础型|成长型|标杆型)）\s*$"
)
HEADINGS = ("一级指标", "序号", "二级指标", "指标释义", "标准要求", "本社区完成情况")
VERDICT = re.compile(r"^(?P<status>未达标|不达标|达标)[。.，,]?\s*")


@dataclass
class _Cell:
    text: str
    line: int


def _cells(lines: list[tuple[int, str]]) -> list[_Cell]:
    cells: list[_Cell] = []
    for no, raw in lines:
        if raw.startswith("\t"):
            cells.append(_Cell(raw.lstrip("\t").rstrip(), no))
        elif cells and raw.strip():
            cells[-1].text = (cells[-1].text + "\n" + raw.rstrip()) if cells[-1].text else raw.rstrip()
        # text before the first cell (a stray line) is not part of any row
    return cells


def _rows(cells: list[_Cell]) -> list[IndicatorClaim]:
    # A row starts at a cell holding only its number, followed by a name; the cell before it is the
    # first-level indicator (often empty) and belongs to that row, not to the previous completion text.
    starts = [
        i
        for i, c in enumerate(cells)
        if re.fullmatch(r"\d{1,3}", c.text) and i + 1 < len(cells) and cells[i + 1].text
    ]
    rows: list[IndicatorClaim] = []
    for k, i in enumerate(starts):
        end = starts[k + 1] - 1 if k + 1 < len(starts) else len(cells)
        body = cells[i + 1 : end]
        name = body[0].text if body else ""
        definition = body[1].text if len(body) > 1 else ""
        requirement = body[2].text if len(body) > 2 else ""
        rest = [c.text for c in body[3:] if c.text]
        completion = "\n".join(rest)
        status: str | None = None
        m = VERDICT.match(completion)
        if m:
            status = "达标" if m.group("status") == "达标" else "未达标"
            completion = completion[m.end() :]
        rows.append(
            IndicatorClaim(
                no=int(cells[i].text),
                name=name,
                definition=definition,
                requirement=requirement,
                status=status,
                text=completion.strip(),
                line=cells[i].line,
            )
        )
    return rows


def parse_notice(text: str, source: str = "<text>") -> ClaimDocument:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[tuple[re.Match[str], int, list[tuple[int, str]]]] = []
    for no, raw in enumerate(lines, start=1):
        m = TITLE.match(raw)
        if m:
            blocks.append((m, no, []))
        elif blocks:
            blocks[-1][2].append((no, raw))
    if not blocks:
        raise EvaluationError(
            f"{source}: no community table found: expected a title line such as "
            "'宝都街道湖滨社区智慧社区建设指标（成长型）' followed by the table"
        )
    communities = []
    for m, no, body in blocks:
        cells = [c for c in _cells(body) if c.text not in HEADINGS]
        rows = _rows(cells)
        if not rows:
            raise EvaluationError(f"{source}:{no}: the table of {m.group('name')} has no indicator rows")
        communities.append(
            CommunityClaim(
                name=m.group("name"),
                street=m.group("street") or "",
                tier=TIER_LABELS[m.group("tier")],
                tier_label=m.group("tier"),
                indicators=tuple(rows),
                line=no,
            )
        )
    return ClaimDocument(source=source, communities=tuple(communities))


def read_notice(path: Path) -> ClaimDocument:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return parse_notice(raw.decode(encoding), str(path))
        except UnicodeDecodeError:
            continue
    raise EvaluationError(f"{path}: the file is neither UTF-8 nor GB18030 text")
