"""The live stream (Server-Sent Events) through a real HTTP server: uvicorn in a thread on a free port, read
with httpx streaming (the TestClient may buffer a stream). Clients see new alarms of their own estates only,
resume with Last-Event-ID, get keep-alive comments, and leave no subscription behind.

Nothing here can hang: every read has a timeout, the server's shutdown is bounded, and pytest-timeout
stops the test as a last resort."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn

from anju.config import Settings
from anju.services import Services
from anju.web.app import create_app
from tests.alarms import FakeClock, build_regions, clocked_services, signal

PASSWORD = "stream password 123"
READ_TIMEOUT = 10.0

pytestmark = pytest.mark.timeout(120)


@contextmanager
def serve(svc: Services) -> Iterator[str]:
    """A real server on a free port. The socket listens before the server starts, so a client may connect
    at once (its connection waits in the backlog): no polling for readiness."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(svc), lifespan="off", log_level="warning", timeout_graceful_shutdown=5, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        assert not thread.is_alive(), "the server did not stop"


def token(svc: Services, username: str, role: str, scope: str | None) -> str:
    svc.identity.create_user(username, PASSWORD, role, scope)
    return svc.identity.issue(svc.identity.authenticate(username, PASSWORD))[0]


@dataclass
class Event:
    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads("\n".join(self.data))
        return parsed


class Stream:
    """An SSE reader over an httpx streaming response; every read is bounded by READ_TIMEOUT."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.iter_lines()

    def next_event(self) -> Event:
        """The next dispatched block (an event, or a block of comments only)."""
        current = Event()
        for line in self.lines:
            if line == "":
                if current.data or current.comments or current.event:
                    return current
                continue
            if line.startswith(":"):
                current.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                current.data.append(value)
            elif name == "id":
                current.id = value
            elif name == "event":
                current.event = value
        raise AssertionError("the stream ended")

    def next_alarm(self) -> Event:
        while True:
            event = self.next_event()
            if event.event == "alarm":
                return event

    def wait_connected(self) -> None:
        event = self.next_event()
        assert any(c.startswith("connected") for c in event.comments), event


@contextmanager
def stream(base: str, bearer: str, **params: Any) -> Iterator[Stream]:
    headers = {"Authorization": f"Bearer {bearer}"}
    if "last_event_id" in params:
        headers["Last-Event-ID"] = str(params.pop("last_event_id"))
    with (
        httpx.Client(timeout=httpx.Timeout(READ_TIMEOUT)) as http,
        http.stream("GET", f"{base}/api/v1/alarms/stream", headers=headers, params=params) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        yield Stream(response)


@pytest.fixture
def svc(settings: Settings) -> Iterator[Services]:
    with clocked_services(settings, FakeClock()) as services:
        build_regions(services)
        yield services


def test_clients_receive_new_alarms_of_their_own_estates_only(svc: Services) -> None:
    estate_staff = token(svc, "prop_e1", "property_staff", "E1")
    other_community = token(svc, "police_c2", "community_police", "C2")
    district = token(svc, "super_d1", "district_supervisor", "D1")
    subscribers_before = svc.alarms.events.subscribers

    with (
        serve(svc) as base,
        stream(base, estate_staff) as e1,
        stream(base, other_community) as c2,
        stream(base, district) as d1,
    ):
        for s in (e1, c2, d1):
            s.wait_connected()  # subscribed: what is raised from now on reaches it
        assert svc.alarms.events.subscribers == subscribers_before + 3

        first = svc.alarms.raise_signal(signal()).alarm_id  # E1
        other = svc.alarms.raise_signal(signal(estate="E2", originator_id="YG900")).alarm_id  # E2
        second = svc.alarms.raise_signal(signal(originator_id="YG002")).alarm_id  # E1 again

        got = e1.next_alarm()
        body = got.json()
        assert (body["alarm_id"], body["change"], body["estate"]) == (first, "created", "E1")
        assert body["alarm"]["title_zh"] == "烟感报警" and body["alarm"]["status"] == "active"
        assert got.id is not None and int(got.id) == body["event_id"]
        # E2's alarm never reaches the E1 client: its next event is the second E1 alarm.
        assert e1.next_alarm().json()["alarm_id"] == second
        # ... and the E2 client's first event is E2's alarm, not E1's.
        assert c2.next_alarm().json()["alarm_id"] == other
        # The district sees both estates (the region tree, upwards).
        assert [d1.next_alarm().json()["alarm_id"] for _ in range(3)] == [first, other, second]

        # Lifecycle changes stream too, with who did it.
        svc.alarms.acknowledge(first or 0, actor="user:duty")
        ack = e1.next_alarm().json()
        assert (ack["alarm_id"], ack["change"], ack["actor"]) == (first, "acknowledged", "user:duty")
        assert ack["alarm"]["acknowledged"] is True
    # Disconnected clients leave no subscription behind.
    assert svc.alarms.events.subscribers == subscribers_before


def test_a_client_resumes_after_the_last_event_it_saw(svc: Services) -> None:
    bearer = token(svc, "police_c1", "community_police", "C1")
    first = svc.alarms.raise_signal(signal()).alarm_id
    outside = svc.alarms.raise_signal(signal(estate="E2", originator_id="X")).alarm_id
    raised_event = svc.alarms.get(first or 0, events=True)
    assert raised_event is not None and outside
    seen = raised_event.events[0].pk
    svc.alarms.acknowledge(first or 0, actor="user:a")  # missed while disconnected
    svc.alarms.comment(first or 0, "到场", actor="user:a")

    with serve(svc) as base:
        with stream(base, bearer, last_event_id=seen) as s:
            s.wait_connected()
            replay = [s.next_alarm().json() for _ in range(2)]
            assert [(c["change"], c["alarm_id"]) for c in replay] == [
                ("acknowledged", first),
                ("commented", first),
            ]
            assert all(c["event_id"] > seen for c in replay)
            # Live changes follow the replay.
            svc.alarms.close(first or 0, "done", actor="user:a")
            assert s.next_alarm().json()["change"] == "closed"
        # ?since= does the same as the header.
        with stream(base, bearer, since=0) as s:
            s.wait_connected()
            assert [s.next_alarm().json()["change"] for _ in range(4)] == [
                "created",
                "acknowledged",
                "commented",
                "closed",
            ]


def test_keep_alive_comments_and_bad_resume_points(svc: Services) -> None:
    bearer = token(svc, "admin", "platform_admin", None)
    with serve(svc) as base:
        with stream(base, bearer, keepalive=0.2) as s:
            s.wait_connected()
            # Nothing happens: a keep-alive comment arrives rather than silence (proxies cut idle streams).
            assert s.next_event().comments == ["keep-alive"]
        with httpx.Client(timeout=READ_TIMEOUT) as http:
            r = http.get(
                f"{base}/api/v1/alarms/stream",
                headers={"Authorization": f"Bearer {bearer}", "Last-Event-ID": "abc"},
            )
            assert r.status_code == 422 and r.json()["error"]["code"] == "last_event_id_invalid"
            r = http.get(
                f"{base}/api/v1/alarms/stream",
                headers={"Authorization": f"Bearer {bearer}"},
                params={"keepalive": 0},
            )
            assert r.status_code == 422


def test_a_client_receives_the_alarm_of_an_ingested_record(svc: Services) -> None:
    """The issue's acceptance, end to end: a fire record posted to the ingestion API → the pipeline → the bus
    → the alarm engine's rules → the store → the hub → this client's stream."""
    import re

    from anju.standard.samples import SampleFactory
    from anju.standard.spec import record_type

    staff = token(svc, "prop_e1", "property_staff", "E1")
    record = SampleFactory(3).record(record_type("fire_energy"), 0)
    record.update(BJ_ZT="火警", CS_ZT="0", YW_ZT="0")
    for key, value in list(record.items()):  # times before the injected clock's now, not in the future
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value):
            record[key] = "2026-05-04 09:59:00"
    with serve(svc) as base, stream(base, staff) as s:
        s.wait_connected()
        r = httpx.post(
            f"{base}/api/v1/records/fire_energy",
            params={"estate": "E1"},
            json=[record],
            headers={"Authorization": f"Bearer {staff}"},
            timeout=READ_TIMEOUT,
        )
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        got = s.next_alarm().json()
        assert (got["change"], got["estate"], got["alarm"]["type"]) == ("created", "E1", "smoke_fire")
        assert got["alarm"]["records"] == [f"fire_energy:{record['ID']}"]
