"""Pacing a stream: simulated time runs `speed` times faster than the wall clock.

A run of duration D at speed X takes D/X of real time. Its simulated clock starts D·(1 - 1/X) before
now and reaches now as the run ends, so no record is ever dated ahead of the platform's clock (which
refuses records from more than an hour ahead). With `realtime=False` (tests) nothing sleeps: events are
delivered a simulated minute at a time and `on_time` is told each minute's end first (a test clock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from anju.sim.streams import SimEvent
from anju.sim.targets import Target

_BATCH = 500


def start_for(duration: timedelta, speed: float, now: datetime | None = None) -> datetime:
    """The simulated start of a run that ends at `now` (real time)."""
    now = now or datetime.now(UTC)
    return (now - duration * (1 - 1 / speed)).replace(microsecond=0)


def run(
    events: Iterable[SimEvent],
    target: Target,
    *,
    start: datetime,
    speed: float = 1.0,
    realtime: bool = True,
    stop: threading.Event | None = None,
    on_time: Callable[[datetime], None] | None = None,
) -> None:
    stop = stop or threading.Event()
    began = time.monotonic()
    pending: list[SimEvent] = []
    boundary = start + timedelta(minutes=1)

    def flush() -> None:
        if pending:
            if on_time is not None:
                on_time(pending[-1].at)
            target.deliver(pending)
            pending.clear()

    for event in events:
        if stop.is_set():
            break
        if realtime:
            due = (event.at - start).total_seconds() / speed
            wait = due - (time.monotonic() - began)
            if wait > 0:
                flush()
                if stop.wait(wait):
                    break
        elif event.at >= boundary:
            flush()
            while boundary <= event.at:
                boundary += timedelta(minutes=1)
        pending.append(event)
        if len(pending) >= _BATCH:
            flush()
    if not stop.is_set():
        flush()
