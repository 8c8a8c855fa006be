"""The in-process hub of alarm changes: the SSE stream, the notifier and linkage subscribe here.

The alarm store publishes every change after its transaction has committed, in the writer's thread. Each
subscriber has a bounded buffer of its own: a slow subscriber loses its *oldest* changes (counted in
`dropped`) instead of growing memory without bound or blocking the writer. Nothing is lost for good by
that: the alarm table is the truth, and a subscriber told that it dropped changes re-reads it.

Three ways to listen:
- `subscribe()` → `Subscription`: a thread-side buffer with a blocking `get(timeout)` (a worker thread).
- `subscribe_async()` → `AsyncSubscription`: an asyncio queue per SSE client, fed through
  `loop.call_soon_threadsafe` so that the writer thread never touches the loop's objects itself.
- `listen(fn)`: a synchronous callback in the writer's thread; for quick work only (it delays the writer).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)

DEFAULT_BUFFER = 1000
# What a change may be; the store's lifecycle actions plus the system's own.
CHANGES = (
    "created",
    "retriggered",
    "cleared",
    "acknowledged",
    "assigned",
    "dispatched",
    "commented",
    "closed",
    "escalated",
    "reminded",
    "linked",
    "notified",
)


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """One change of one alarm, as published after commit."""

    alarm_id: int
    change: str  # CHANGES
    estate: str | None
    at: datetime  # timezone-aware UTC
    actor: str
    alarm: dict[str, Any]  # the alarm after the change (`Alarm.to_json()`)
    # alarm_event.pk of the history row the change wrote: the SSE event ID and the resume point. None for
    # changes that write no history row (a plain re-trigger only counts; linkage adds cameras).
    event_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "alarm_id": self.alarm_id,
            "change": self.change,
            "estate": self.estate,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "event_id": self.event_id,
            "detail": self.detail,
            "alarm": self.alarm,
        }


class _Sink(Protocol):
    estates: frozenset[str] | None

    def offer(self, change: AlarmChange) -> None: ...


def _wants(estates: frozenset[str] | None, estate: str | None) -> bool:
    # The same rule as web.auth.Access.covers: an alarm without an estate is for platform-wide eyes only.
    return estates is None or (estate is not None and estate in estates)


class Subscription:
    """A bounded, thread-safe buffer of changes for a consumer thread."""

    def __init__(self, hub: AlarmEvents, estates: frozenset[str] | None, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize={maxsize}: expected at least 1")
        self.estates = estates
        self.maxsize = maxsize
        self.dropped = 0
        self.closed = False
        self._hub = hub
        self._buffer: deque[AlarmChange] = deque()
        self._cond = threading.Condition()

    def offer(self, change: AlarmChange) -> None:
        with self._cond:
            if self.closed:
                return
            if len(self._buffer) >= self.maxsize:
                self._buffer.popleft()
                self.dropped += 1
            self._buffer.append(change)
            self._cond.notify()

    def get(self, timeout: float | None = None) -> AlarmChange | None:
        """The oldest buffered change, waiting up to `timeout` seconds; None on timeout or once closed."""
        with self._cond:
            if not self._buffer and not self.closed:
                self._cond.wait_for(lambda: bool(self._buffer) or self.closed, timeout)
            return self._buffer.popleft() if self._buffer else None

    def drain(self) -> list[AlarmChange]:
        """Every buffered change, without waiting."""
        with self._cond:
            out = list(self._buffer)
            self._buffer.clear()
            return out

    def close(self) -> None:
        self._hub._remove(self)
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AsyncSubscription:
    """A bounded asyncio queue of changes for one coroutine (an SSE client) on one event loop."""

    def __init__(
        self,
        hub: AlarmEvents,
        estates: frozenset[str] | None,
        maxsize: int,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize={maxsize}: expected at least 1")
        self.estates = estates
        self.maxsize = maxsize
        self.dropped = 0
        self.closed = False
        self._hub = hub
        self._loop = loop
        self._queue: asyncio.Queue[AlarmChange] = asyncio.Queue(maxsize)

    def offer(self, change: AlarmChange) -> None:
        # Called in the writer's thread: hand the change to the loop's thread, never touch the queue here.
        try:
            self._loop.call_soon_threadsafe(self._put, change)
        except RuntimeError:  # the loop is closed: the client is gone
            self.close()

    def _put(self, change: AlarmChange) -> None:
        if self.closed:
            return
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(change)

    async def get(self) -> AlarmChange:
        return await self._queue.get()

    def get_nowait(self) -> AlarmChange | None:
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def close(self) -> None:
        self.closed = True
        self._hub._remove(self)


class AlarmEvents:
    """The hub. Thread-safe; publishing never blocks on a subscriber."""

    def __init__(self, buffer: int = DEFAULT_BUFFER) -> None:
        self.buffer = buffer
        self.published = 0
        self._lock = threading.Lock()
        self._sinks: list[_Sink] = []
        self._listeners: list[Callable[[AlarmChange], None]] = []

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._sinks) + len(self._listeners)

    def subscribe(self, estates: frozenset[str] | None = None, maxsize: int | None = None) -> Subscription:
        """Changes of alarms in `estates` (None: all), buffered for a consumer thread."""
        sub = Subscription(self, estates, maxsize or self.buffer)
        with self._lock:
            self._sinks.append(sub)
        return sub

    def subscribe_async(
        self,
        estates: frozenset[str] | None = None,
        maxsize: int | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> AsyncSubscription:
        """As `subscribe`, for a coroutine; call it on the loop that will read (or pass that loop)."""
        sub = AsyncSubscription(self, estates, maxsize or self.buffer, loop or asyncio.get_running_loop())
        with self._lock:
            self._sinks.append(sub)
        return sub

    def listen(self, fn: Callable[[AlarmChange], None]) -> Callable[[], None]:
        """Call `fn` for every change, in the publishing thread; returns the function that stops it.
        A failing listener is logged and never affects the alarm (already committed) or other listeners."""
        with self._lock:
            self._listeners.append(fn)

        def stop() -> None:
            with self._lock:
                if fn in self._listeners:
                    self._listeners.remove(fn)

        return stop

    def publish(self, change: AlarmChange) -> None:
        with self._lock:
            self.published += 1
            sinks = list(self._sinks)
            listeners = list(self._listeners)
        for sink in sinks:
            if _wants(sink.estates, change.estate):
                sink.offer(change)
        for fn in listeners:
            try:
                fn(change)
            except Exception:
                log.exception(
                    "alarm listener %r failed on %s of alarm %d", fn, change.change, change.alarm_id
                )

    def _remove(self, sink: _Sink) -> None:
        with self._lock:
            if sink in self._sinks:
                self._sinks.remove(sink)
