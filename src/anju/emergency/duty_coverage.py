"""Coverage gaps of the 24-hour duty roster (SE61.4): the periods in which nobody is on duty for an estate
at a level, computed from the file roster of alarms/duty.py (the one roster; there is no second one).

Shifts are read exactly as `Shift.covers` reads them: a shift belongs to the day it starts on, one that ends
at or before its start crosses midnight, one whose end equals its start lasts 24 hours. An officer covers
the estates under its region (or every estate with "*"). Times are local (the platform's time zone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from anju.alarms.duty import LEVEL_NAMES, LEVELS, Officer

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Gap:
    estate: str
    level: int
    start: datetime  # aware, local
    end: datetime

    def to_json(self) -> dict[str, object]:
        zh, en = LEVEL_NAMES[self.level]
        return {
            "estate": self.estate,
            "level": self.level,
            "level_zh": zh,
            "level_en": en,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "minutes": int((self.end - self.start).total_seconds() // 60),
        }


def _shift_intervals(officer: Officer, first: date, last: date, tz: ZoneInfo) -> list[Interval]:
    """The officer's on-duty intervals of shifts starting from the day before `first` to `last`."""
    if not officer.shifts:
        start = datetime.combine(first - timedelta(days=1), time(0), tz)
        return [(start, datetime.combine(last + timedelta(days=2), time(0), tz))]
    out: list[Interval] = []
    d = first - timedelta(days=1)
    while d <= last:
        for s in officer.shifts:
            if d.weekday() not in s.days:
                continue
            begin = datetime.combine(d, s.start, tz)
            end_day = d if s.start < s.end else d + timedelta(days=1)
            out.append((begin, datetime.combine(end_day, s.end, tz)))
        d += timedelta(days=1)
    return out


def _uncovered(intervals: list[Interval], start: datetime, end: datetime) -> list[Interval]:
    gaps: list[Interval] = []
    cursor = start
    for a, b in sorted(intervals):
        if b <= cursor:
            continue
        if a > cursor:
            gaps.append((cursor, min(a, end)))
        cursor = max(cursor, b)
        if cursor >= end:
            break
    if cursor < end:
        gaps.append((cursor, end))
    return [(a, b) for a, b in gaps if a < b]


def coverage_gaps(
    officers: Sequence[Officer],
    estates: Sequence[str],
    ancestors: Mapping[str, Sequence[str]],
    *,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    levels: Sequence[int] = LEVELS,
) -> list[Gap]:
    """Every period in [start, end) when no officer is on duty for an estate at a level.

    `ancestors[estate]` lists the estate and the region nodes above it (RegionTree.ancestors)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    first, last = local_start.date(), local_end.date()
    out: list[Gap] = []
    for estate in estates:
        regions = {"*", *ancestors.get(estate, (estate,))}
        for level in levels:
            covering = [o for o in officers if o.level == level and o.region in regions]
            intervals = [i for o in covering for i in _shift_intervals(o, first, last, tz)]
            out += [Gap(estate, level, a, b) for a, b in _uncovered(intervals, local_start, local_end)]
    return out


def any_level_gaps(
    gaps: Sequence[Gap], estates: Sequence[str], levels: Sequence[int]
) -> list[tuple[str, datetime, datetime]]:
    """(estate, from, to) of the periods in which an estate has nobody at any of `levels` (the
    intersection of their gaps)."""
    out: list[tuple[str, datetime, datetime]] = []
    for estate in estates:
        per_level = [[g for g in gaps if g.estate == estate and g.level == lvl] for lvl in levels]
        if any(not p for p in per_level):
            continue  # some level is never uncovered
        common: list[Interval] = [(g.start, g.end) for g in per_level[0]]
        for other in per_level[1:]:
            common = [
                (max(a, c), min(b, d))
                for a, b in common
                for c, d in ((g.start, g.end) for g in other)
                if max(a, c) < min(b, d)
            ]
        out += [(estate, a, b) for a, b in common]
    return out
