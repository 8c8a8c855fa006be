"""What became of a batch: counts, and per record the findings of those that were not stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# A file of millions of bad records must not grow the report without bound.
DETAIL_LIMIT = 1000


@dataclass(slots=True)
class Rejected:
    index: int
    record_id: str | None
    quarantine_id: int
    reason: str  # invalid | conflict | undecodable
    errors: list[dict[str, Any]]
    already_quarantined: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "id": self.record_id,
            "quarantine_id": self.quarantine_id,
            "reason": self.reason,
            "already_quarantined": self.already_quarantined,
            "errors": self.errors,
        }


@dataclass(slots=True)
class Warned:
    index: int
    record_id: str | None
    warnings: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.record_id, "warnings": self.warnings}


@dataclass(slots=True)
class BatchResult:
    record_type: str
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    conflicts: int = 0
    warnings: int = 0
    rejects: list[Rejected] = field(default_factory=list)
    warned: list[Warned] = field(default_factory=list)
    batches: int = 0

    def merge(self, other: BatchResult) -> None:
        self.received += other.received
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.conflicts += other.conflicts
        self.warnings += other.warnings
        self.batches += other.batches
        self.rejects.extend(other.rejects[: max(0, DETAIL_LIMIT - len(self.rejects))])
        self.warned.extend(other.warned[: max(0, DETAIL_LIMIT - len(self.warned))])

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_type": self.record_type,
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "conflicts": self.conflicts,
            "warnings": self.warnings,
            "rejects": [r.to_dict() for r in self.rejects],
            "warned": [w.to_dict() for w in self.warned],
            "details_truncated": len(self.rejects) < self.rejected or len(self.warned) < self.warnings,
        }
