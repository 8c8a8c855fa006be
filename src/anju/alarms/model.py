"""What the alarm engine hands the alarm store: a signal that an alarm condition holds (or has ended)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from anju.alarms.tables import SEVERITIES

ORIGINATOR_KINDS = ("device", "house", "person", "building", "estate", "supply_item", "patrol_shift")


@dataclass(frozen=True, slots=True)
class AlarmSignal:
    """One firing of a rule. `clear=True` says the condition no longer holds (hysteresis: the rule's
    clearing condition), so the open alarm of (originator, type) is cleared rather than raised."""

    type: str  # an alarm type of alarms/data/rules.yaml
    rule: str
    severity: str  # SEVERITIES
    originator_kind: str  # ORIGINATOR_KINDS
    originator_id: str
    estate: str | None
    at: datetime  # when the condition was observed (timezone-aware UTC)
    title_zh: str
    title_en: str
    location: str | None = None
    lon: float | None = None
    lat: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    records: tuple[str, ...] = ()  # "<record type>:<ID>" of the records that caused it
    clear: bool = False

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {', '.join(SEVERITIES)}")
        if self.originator_kind not in ORIGINATOR_KINDS:
            raise ValueError(f"originator_kind {self.originator_kind!r} is not one of {ORIGINATOR_KINDS}")
        if self.at.tzinfo is None:
            raise ValueError("at must be timezone-aware")

    @property
    def open_key(self) -> str:
        return f"{self.originator_kind}:{self.originator_id}:{self.type}"[:140]


def severity_up(severity: str) -> str:
    """The next higher severity (critical stays critical)."""
    i = SEVERITIES.index(severity)
    return SEVERITIES[max(i - 1, 0)]
