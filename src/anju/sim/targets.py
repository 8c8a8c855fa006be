"""Where a stream's events go: in process (`Pipeline.ingest` and the bus, as the MQTT gateway would),
over HTTP (POST /api/v1/records/{type}?estate=CODE with a bearer token), or over MQTT (the topics of
ingest/mqtt_topics.py). Each delivers a batch of events already in time order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Protocol

import orjson

from anju.ingest.bus import Heartbeat
from anju.ingest.items import Item
from anju.services import Services
from anju.sim.streams import HEARTBEAT, SimEvent

SOURCE = "sim"


@dataclass
class Delivered:
    records: int = 0
    heartbeats: int = 0
    rejected: int = 0
    skipped: int = 0  # events the target cannot carry (heartbeats over HTTP)
    by_type: dict[str, int] = field(default_factory=dict)

    def count(self, slug: str, n: int) -> None:
        self.by_type[slug] = self.by_type.get(slug, 0) + n


class Target(Protocol):
    delivered: Delivered

    def deliver(self, events: Sequence[SimEvent]) -> None: ...

    def close(self) -> None: ...


def _runs(events: Sequence[SimEvent]) -> list[tuple[tuple[str, str], list[SimEvent]]]:
    """Consecutive events of one type and estate: a batch each, so that order is kept across types."""
    return [(key, list(group)) for key, group in groupby(events, key=lambda e: (e.slug, e.estate))]


class InprocTarget:
    def __init__(self, services: Services) -> None:
        self.svc = services
        self.delivered = Delivered()

    def deliver(self, events: Sequence[SimEvent]) -> None:
        for (slug, estate), group in _runs(events):
            if slug == HEARTBEAT:
                for e in group:
                    assert e.device is not None
                    self.svc.bus.publish(Heartbeat(estate, e.device, e.at))
                self.delivered.heartbeats += len(group)
                continue
            items = [Item(i, orjson.dumps(e.record), e.record) for i, e in enumerate(group)]
            result = self.svc.pipeline.ingest(slug, items, source=SOURCE, actor="sim", estate=estate)
            self.delivered.records += result.accepted + result.duplicates
            self.delivered.rejected += result.rejected
            self.delivered.count(slug, len(group))

    def close(self) -> None:
        pass


class HttpTarget:
    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0) -> None:
        import httpx

        self.client = httpx.Client(
            base_url=base_url.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )
        self.delivered = Delivered()

    def deliver(self, events: Sequence[SimEvent]) -> None:
        for (slug, estate), group in _runs(events):
            if slug == HEARTBEAT:
                # The HTTP API has no heartbeat: a device that only beats over MQTT is timed by its records.
                self.delivered.skipped += len(group)
                continue
            body = orjson.dumps([e.record for e in group])
            answer = self.client.post(
                f"/api/v1/records/{slug}",
                params={"estate": estate},
                content=body,
                headers={"Content-Type": "application/json"},
            )
            if answer.status_code >= 400:
                raise RuntimeError(
                    f"POST /api/v1/records/{slug}: HTTP {answer.status_code} {answer.text[:300]}"
                )
            counts = answer.json()
            self.delivered.records += int(counts.get("accepted", 0)) + int(counts.get("duplicates", 0))
            self.delivered.rejected += int(counts.get("rejected", 0))
            self.delivered.count(slug, len(group))

    def close(self) -> None:
        self.client.close()


class MqttTarget:
    def __init__(self, host: str, port: int, *, root: str = "anju", client_id: str = "anju-sim") -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.root = root
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.connect(host, port)
        self.client.loop_start()
        self.delivered = Delivered()

    def deliver(self, events: Sequence[SimEvent]) -> None:
        for e in events:
            if e.device is None:
                self.delivered.skipped += 1  # a topic names a device; this event has none
                continue
            topic = f"{self.root}/{e.estate}/{e.slug}/{e.device}"
            payload = b"{}" if e.slug == HEARTBEAT else orjson.dumps(e.record)
            self.client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)
            if e.slug == HEARTBEAT:
                self.delivered.heartbeats += 1
            else:
                self.delivered.records += 1
                self.delivered.count(e.slug, 1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
