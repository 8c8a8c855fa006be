"""Pacing a stream: simulated time runs `speed` times faster than the wall clock.

A run of duration D at speed X takes D/X of real time. Its simulated clock starts D·(1 - 1/X) before
now and reaches now as the run ends, so no record is ever dated ahead of the platform's clock (which
refuses records from more than an hour ahead). Events are delivered at most a simulated minute at a time;
with `realtime=False` (tests) nothing sleeps and `on_time` is told each batch's last time first (a test
clock).

`SimClock` is the same mapping as a clock the platform can be given (`open_services(clock=...)`): the
alarm engine's silence timers (a device gone offline after 5 minutes, an elderly resident unseen for 48
hours) then run on simulated time too. With the wall clock they would not: a silence is measured from
when the engine first timed its subject, in real time, so at ×1440 a 48-hour silence would still take
48 real hours to fire.
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


class SimClock:
    """Simulated time: `start` until the run begins, then `start + elapsed real time × speed`, but never
    past what the run has delivered (`through`).

    Frozen before `begin()` so that what is set up before the run (devices registered by the
    installer, from which their silence is timed) happens at the simulated start. Capped at the delivered
    stream because a machine that cannot keep up with the speed falls behind it: a backlog of heartbeats
    not yet delivered must not read as every device falling silent."""

    def __init__(
        self, start: datetime, speed: float = 1.0, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if not speed > 0:
            raise ValueError(f"speed must be more than 0, got {speed}")
        self.start = start
        self.speed = speed
        self._monotonic = monotonic  # the run paces itself by the same one (see `run`)
        self._began: float | None = None
        self._through = start
        self._lock = threading.Lock()

    def begin(self) -> float:
        """Start the clock (once; later calls keep the first origin); the monotonic origin."""
        with self._lock:
            if self._began is None:
                self._began = self._monotonic()
            return self._began

    def through(self, at: datetime) -> None:
        """Every event before `at` has been delivered: the clock may run up to `at` (never back)."""
        with self._lock:
            self._through = max(self._through, at)

    def __call__(self) -> datetime:
        began = self._began
        if began is None:
            return self.start
        paced = self.start + timedelta(seconds=(self._monotonic() - began) * self.speed)
        return min(paced, self._through)


def run(
    events: Iterable[SimEvent],
    target: Target,
    *,
    start: datetime,
    speed: float = 1.0,
    realtime: bool = True,
    stop: threading.Event | None = None,
    on_time: Callable[[datetime], None] | None = None,
    clock: SimClock | None = None,
) -> None:
    """Deliver `events` to `target`; with `clock` (of the same start and speed) the pacing and the
    platform's clock share one origin, so an event is never delivered ahead of the platform's time."""
    stop = stop or threading.Event()
    if clock is not None and (clock.start != start or clock.speed != speed):
        raise ValueError("the clock's start and speed must be the run's")
    monotonic = clock._monotonic if clock is not None else time.monotonic
    began = clock.begin() if clock is not None else monotonic()
    pending: list[SimEvent] = []
    boundary = start + timedelta(minutes=1)

    def flush() -> None:
        if pending:
            if on_time is not None:
                on_time(pending[-1].at)
            target.deliver(pending)
            if clock is not None:
                clock.through(pending[-1].at)
            pending.clear()

    for event in events:
        if stop.is_set():
            break
        # A batch never spans a simulated minute, even when the machine falls behind the speed: the
        # platform hears a batch's events at its clock (capped at what was delivered before), so a longer
        # batch would make its devices look silent for as long as it spans.
        if event.at >= boundary:
            flush()
            while boundary <= event.at:
                boundary += timedelta(minutes=1)
        if realtime:
            due = (event.at - start).total_seconds() / speed
            wait = due - (monotonic() - began)
            if wait > 0:
                flush()
                if clock is not None:
                    clock.through(event.at)
                if stop.wait(wait):
                    break
        pending.append(event)
        if len(pending) >= _BATCH:
            flush()
    if not stop.is_set():
        flush()
