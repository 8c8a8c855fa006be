"""The alarm work a running platform does besides answering requests: one clock for silences, escalation
and deliveries, and one worker that turns alarm changes into notifications.

    engine.on_event (bus, in the ingesting thread) ──▶ AlarmStore.raise_signal ──▶ AlarmEvents
    ticker thread, every `interval` s: engine.tick ─▶ escalate_due ─▶ Notifier.deliver_due
    notification worker: AlarmEvents subscription ─▶ AlarmNotifications.handle (created / escalated /
                         reminded) ─▶ notification rows, and a `notified` entry in the alarm's history
    relay, every `relay_interval` s: alarm history written by other processes (an `anju gateway`) ─▶
                         this process's AlarmEvents, so that its live stream shows their alarms too

`Services` already sends the engine's signals to the store and gives the store linkage's nearest cameras,
so a record ingested by any source raises its alarm at once; this module adds what needs a clock or may
be slow (a webhook that times out must not hold up ingestion). `anju serve`, `anju demo` and
`anju gateway` start it; `tick()` runs one pass on a given time for tests and `anju alarms escalate`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from anju.alarms.engine import run_ticker
from anju.alarms.notify import (
    AlarmNotifications,
    DeliveryCounts,
    Notifier,
    NotifyConfig,
    load_notify_config,
)
from anju.emergency.supplies import check_supplies
from anju.notices.publishing import publish_due
from anju.patrols.matching import check_patrols

if TYPE_CHECKING:
    from anju.alarms.store import Escalation
    from anju.services import Services

log = logging.getLogger(__name__)

ACTOR = "system:notifier"
DEFAULT_INTERVAL = 10.0
# An indexed look-up of history rows after the last one seen, usually finding none: cheap at 10 per second,
# and it bounds how late another process's alarm reaches this one's live stream.
DEFAULT_RELAY_INTERVAL = 0.1


@dataclass(frozen=True, slots=True)
class TickResult:
    signals: int
    escalations: tuple[Escalation, ...]
    deliveries: DeliveryCounts


class AlarmRuntime:
    def __init__(
        self,
        services: Services,
        *,
        interval: float = DEFAULT_INTERVAL,
        relay_interval: float = DEFAULT_RELAY_INTERVAL,
        config: NotifyConfig | None = None,
    ) -> None:
        self.services = services
        self.interval = interval
        self.relay_interval = relay_interval
        # A broken notify.yaml stops start-up with NotifyConfigError naming the file and the key.
        config = config if config is not None else load_notify_config(services.settings.data_dir)
        self.notifier = Notifier.from_config(services, config)
        self.notifications = AlarmNotifications(
            self.notifier,
            services.linkage,
            on_queued=lambda alarm_id, detail: services.alarms.record_notified(
                alarm_id, actor=ACTOR, detail=detail
            ),
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def tick(self, now: datetime | None = None) -> TickResult:
        """One pass: silence timers and latched durations, escalation steps, due deliveries."""
        signals = self.services.engine.tick(now)
        check_supplies(self.services, now)  # supplies below minimum or near expiry (emergency/supplies.py)
        publish_due(self.services, now)  # scheduled notices due, published ones expired (notices/)
        check_patrols(self.services, now)  # shifts whose window ended: missed checkpoints (patrols/)
        steps = self.services.alarms.escalate_due(now)
        deliveries = self.notifier.deliver_due(now)
        return TickResult(len(signals), tuple(steps), deliveries)

    # ---- threads --------------------------------------------------------------------------------------
    def start(self) -> AlarmRuntime:
        if self._threads:
            return self
        self._stop.clear()
        subscription = self.services.alarms.events.subscribe()

        def ticker() -> None:
            run_ticker(self.services.engine, self.interval, self._stop, self.tick)

        def notifications() -> None:
            with subscription:
                while not self._stop.is_set():
                    change = subscription.get(timeout=0.5)
                    if change is None:
                        continue
                    try:
                        self.notifications.handle(change)
                    except Exception:
                        log.exception("notifications of alarm %s failed", change.alarm_id)

        store = self.services.alarms
        relayed_to = store.last_event_id()

        def relay() -> None:
            nonlocal relayed_to
            while not self._stop.wait(self.relay_interval):
                try:
                    relayed_to = store.relay_foreign(relayed_to)
                except Exception:
                    log.exception("relaying other processes' alarm changes failed")

        for name, target in (
            ("anju-alarm-ticker", ticker),
            ("anju-alarm-notify", notifications),
            ("anju-alarm-relay", relay),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def __enter__(self) -> AlarmRuntime:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
