"""In-process publication of stored records, after their batch has committed.

Later modules (the alarm engine, the registry projection) subscribe here. A subscriber's failure is logged
and never undoes or blocks ingestion: the records are already safely stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredRecords:
    record_type: str
    estate: str | None
    source: str
    records: list[dict[str, Any]]  # field code -> normalised value (dates in UTC), one dict per record
    # The estate each record was sent for, when one batch mixes estates (the MQTT gateway batches a record
    # type across estates); None when every record was sent for `estate`.
    estates: list[str | None] | None = None
    # False for a backfill of past records (`anju ingest --no-alarms`): the alarm rules do not judge them,
    # so that last year's night-time swipes do not page today's duty officer. Silence timers still hear them.
    alarms: bool = True

    def record_estates(self) -> list[str | None]:
        """The estate each record was sent for, in `records` order (the batch's own where none was)."""
        if self.estates is None:
            return [self.estate] * len(self.records)
        return self.estates


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A device said it is alive (MQTT `anju/{estate}/heartbeat/{device_id}`), without a record."""

    estate: str
    device_id: str
    at: datetime  # timezone-aware UTC


Event = StoredRecords | Heartbeat
Subscriber = Callable[[Event], None]


class Bus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn)

    @property
    def active(self) -> bool:
        return bool(self._subscribers)

    def publish(self, event: Event) -> None:
        for fn in list(self._subscribers):
            try:
                fn(event)
            except Exception:
                if isinstance(event, StoredRecords):
                    log.exception(
                        "subscriber %r failed on %d %s records", fn, len(event.records), event.record_type
                    )
                else:
                    log.exception("subscriber %r failed on a heartbeat of %s", fn, event.device_id)
