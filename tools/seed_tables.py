"""Parse the data-standard tables of the Wuhan seed (section 三) into rows.

Used by the one-time generator of the record-type files and by the test that keeps those files true to
the seed. The seed is plain text with one tab-separated row per field; tables may be broken by blank lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SLUGS = [
    "perimeter_alarm",
    "video_record",
    "patrol_record",
    "notice",
    "emergency_call",
    "fire_energy",
    "access_swipe",
    "face_capture",
    "vehicle_pass",
    "resident_registration",
    "building_info",
    "population_sync",
]

_HEADING = re.compile(r"^[（(]([一二三四五六七八九十]+)[)）]\s*([^。：:]+)[。：:]")


@dataclass(frozen=True)
class SeedRow:
    seq: int
    code: str
    type: str
    length: str
    zh: str
    note: str


@dataclass(frozen=True)
class SeedTable:
    slug: str
    numeral: str
    title_zh: str
    rows: tuple[SeedRow, ...]


def seed_path(root: Path) -> Path:
    return root / "seeds" / "003_92856837d449a683.txt"


def parse(text: str) -> list[SeedTable]:
    start = text.index("三、武汉市智慧平安小区建设数据标准")
    end = text.index("四、智慧平安小区信息安全标准")
    tables: list[SeedTable] = []
    heading: tuple[str, str] | None = None
    rows: list[SeedRow] = []
    for line in text[start:end].splitlines():
        m = _HEADING.match(line.strip())
        if m:
            if heading is not None:
                tables.append(_table(len(tables), heading, rows))
            heading, rows = (m.group(1), m.group(2).strip()), []
            continue
        cells = line.split("\t")
        if heading is None or len(cells) < 5 or not cells[0].strip().isdigit():
            continue
        cells += [""] * (6 - len(cells))
        rows.append(
            SeedRow(
                seq=int(cells[0]),
                code=cells[1].strip(),
                type=cells[2].strip(),
                length=cells[3].strip(),
                zh=cells[4].strip(),
                note=cells[5].strip(),
            )
        )
    if heading is not None:
        tables.append(_table(len(tables), heading, rows))
    return tables


def _table(index: int, heading: tuple[str, str], rows: list[SeedRow]) -> SeedTable:
    return SeedTable(slug=SLUGS[index], numeral=heading[0], title_zh=heading[1], rows=tuple(rows))
