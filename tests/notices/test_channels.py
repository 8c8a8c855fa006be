"""Channel adapters and scheduling (SQLite and PostgreSQL): a webhook posts JSON to a real local HTTP
server and its outcome is recorded, a failing one is recorded as failed; the screen adapter writes a file
under the data directory; a scheduled notice goes out on the tick when due, once; residents' view and the
SE71.1 channel query see only what was delivered."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest

from anju.notices import publishing
from anju.notices.views import notice_view
from anju.services import Services
from tests.notices.conftest import NOW, Clock

POS = {"lon": 114.3, "lat": 30.6}


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(500 if self.path == "/broken" else 200)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_webhook_screen_schedule_and_views(nsvc: Services, clock: Clock, receiver: str) -> None:
    (nsvc.settings.data_dir / "notice_channels.yaml").write_text(
        f"channels:\n  mobile_app: {{adapter: webhook, url: '{receiver}/app', timeout_s: 2}}\n"
        f"  portal_website: {{adapter: webhook, url: '{receiver}/broken'}}\n",
        encoding="utf-8",
    )
    notice_id = publishing.create_notice(
        nsvc,
        region="C1",
        title="冬季防火提示",
        body="请勿在楼道堆放杂物",
        category="safety_education",
        audience="elderly",
        channels=["mobile_app", "portal_website", "electronic_screen"],
        actor="user:staff",
        **POS,
    )
    at = NOW + timedelta(hours=2)
    assert publishing.publish(nsvc, notice_id, actor="user:staff", publish_at=at) == "scheduled"
    assert publishing.publish_due(nsvc, NOW + timedelta(hours=1)) == []
    assert _Receiver.received == []
    assert publishing.publish_due(nsvc, at) == [notice_id]
    assert publishing.publish_due(nsvc, at + timedelta(minutes=1)) == []  # once

    [sent] = [r for r in _Receiver.received if r["channel"] == "mobile_app"]
    assert sent["title"] == "冬季防火提示" and sent["channel_code"] == "06" and "created_by" not in sent
    view = notice_view(nsvc, notice_id)
    outcome = {d["channel"]: (d["status"], d["detail"]) for d in view["deliveries"]}
    assert outcome["mobile_app"] == ("sent", "HTTP 200")
    assert outcome["portal_website"] == ("failed", "HTTP 500")
    assert outcome["electronic_screen"][0] == "sent"
    screen = nsvc.settings.data_dir / "screens" / "electronic_screen" / "C1" / f"notice-{notice_id}.json"
    assert json.loads(screen.read_text(encoding="utf-8"))["body"] == "请勿在楼道堆放杂物"

    # residents of E1 (under C1) read it; the elderly filter keeps it, a students filter does not
    assert [n["id"] for n in publishing.published_notices(nsvc, "E1", audience="elderly")] == [notice_id]
    assert publishing.published_notices(nsvc, "E1", audience="students") == []
    assert publishing.published_notices(nsvc, "E3") == []
    # only channels that delivered count as used
    used = publishing.notice_channels_used(
        nsvc, ["E1"], datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert used == {"mobile_app": [notice_id], "electronic_screen": [notice_id]}

    # a receipt from the app counts once per reader
    assert publishing.record_receipt(nsvc, notice_id, "mobile_app", "reader-1")
    assert not publishing.record_receipt(nsvc, notice_id, "mobile_app", "reader-1")
    assert notice_view(nsvc, notice_id)["deliveries"][0]["reads"] == 1

    publishing.withdraw(nsvc, notice_id, actor="user:staff", reason="已过时")
    assert publishing.published_notices(nsvc, "E1") == []


def test_system_notice_publishes_at_once(nsvc: Services) -> None:
    notice_id = publishing.publish_system_notice(
        nsvc,
        region="E1",
        title="暴雨橙色预警",
        body="请减少外出",
        category="emergency_warning",
        audience="all_residents",
        channels=["electronic_screen", "community_radio"],
        actor="user:admin",
        source="emergency.warning",
        **POS,
    )
    [shown] = publishing.published_notices(nsvc, "E1")
    assert shown["id"] == notice_id and shown["category"]["key"] == "emergency_warning"
    t = nsvc.db.table("rec_notice")
    with nsvc.db.engine.connect() as conn:
        assert conn.execute(t.select().where(t.c._estate == "E1")).all()
