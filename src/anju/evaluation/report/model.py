"""What a report shows, already in the report's language: the HTML and PDF renderers only lay it out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields, is_dataclass
from datetime import date

from anju.evaluation.report.labels import Labels


@dataclass(frozen=True)
class Headline:
    label: str
    value: str


@dataclass(frozen=True)
class Score:
    """A dimension or indicator score (0-100) beside the average of the compared communities."""

    code: str
    label: str
    value: float
    average: float
    weight: float
    group: str = ""  # an indicator's dimension code


@dataclass(frozen=True)
class RankRow:
    rank: int
    code: str
    name: str
    score: float
    closeness: float | None
    dimensions: tuple[float, ...]
    wuhan: str
    tier: str
    highlight: bool = False


@dataclass(frozen=True)
class FailingItem:
    ref: str
    title: str
    lost: str
    detail: str


@dataclass(frozen=True)
class FailingGroup:
    title: str
    lost_header: str  # Wuhan: the points lost; Shandong: the indicator's category (no points there)
    items: tuple[FailingItem, ...]


@dataclass(frozen=True)
class PlanStep:
    ref: str
    title: str
    gain: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class PlanView:
    title: str
    current: str
    reached_already: bool
    steps: tuple[PlanStep, ...]
    outcome: str
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Profile:
    """One community in a district's small-multiple chart."""

    code: str
    name: str
    dimensions: tuple[float, ...]
    score: float


@dataclass(frozen=True)
class CommonFailure:
    ref: str
    title: str
    communities: int
    names: str


@dataclass(frozen=True)
class PlanSummaryRow:
    code: str
    name: str
    wuhan: str
    shandong: str
    paper: str


@dataclass(frozen=True)
class CommunityReport:
    labels: Labels
    title: str
    code: str
    name: str
    as_of: date
    headlines: tuple[Headline, ...]
    weighting_note: str
    dimensions: tuple[Score, ...]
    indicators: tuple[Score, ...]
    dimension_labels: tuple[str, ...]
    ranking: tuple[RankRow | None, ...]  # None: rows left out between the top and this community
    failing: tuple[FailingGroup, ...]
    plans: tuple[PlanView, ...]
    missing: tuple[str, ...]

    @property
    def file_stem(self) -> str:
        return safe_stem(self.code)


@dataclass(frozen=True)
class DistrictReport:
    labels: Labels
    title: str
    name: str
    as_of: date
    headlines: tuple[Headline, ...]
    weighting_note: str
    dimension_codes: tuple[str, ...]
    dimension_labels: tuple[str, ...]
    dimension_averages: tuple[float, ...]
    ranking: tuple[RankRow, ...]
    profiles: tuple[Profile, ...]
    common: tuple[tuple[str, tuple[CommonFailure, ...]], ...]
    plan_summary: tuple[PlanSummaryRow, ...]

    @property
    def file_stem(self) -> str:
        return "district"


Report = CommunityReport | DistrictReport


def safe_stem(code: str) -> str:
    """A file name from a community code: codes are free text, file names must not escape the folder."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in code).strip("._")
    return cleaned or "community"


def report_texts(report: Report) -> list[str]:
    """Every string a report holds, and every phrase of its language: the characters it may print."""

    def walk(value: object) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, tuple | list):
            for v in value:
                yield from walk(v)
        elif is_dataclass(value) and not isinstance(value, type):
            for f in fields(value):
                yield from walk(getattr(value, f.name))

    return [*walk(report), *report.labels.texts(), report.as_of.isoformat()]
