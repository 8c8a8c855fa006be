"""Notifications over real transports: webhooks to an HTTP server in a thread (signature checked), e-mail
to an SMTP sink in a thread (Chinese subject decoded), SMS through the HTTP gateway adapter; retries with
backoff on an injectable clock; rows in a real SQLite file and PostgreSQL with the target sealed."""

from __future__ import annotations

import base64
import email
import json
import logging
import socket
import socketserver
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from anju.alarms.duty import Contact, FileDutyRoster
from anju.alarms.linkage import Linkage
from anju.alarms.notify import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    AlarmNotifications,
    Delivery,
    EmailChannel,
    HttpSmsGateway,
    HttpSmsSettings,
    Message,
    Notifier,
    NotifyConfigError,
    RetryPolicy,
    SmsChannel,
    SmtpSettings,
    WebhookChannel,
    WebhookSettings,
    alarm_message,
    clean_error,
    load_notify_config,
    reseal_target,
    sign,
    verify_signature,
)
from anju.services import Services
from tests.alarms_notify import world as w

T0 = datetime(2026, 5, 2, 19, 0, tzinfo=UTC)  # Sunday 03:00 in Shanghai
TZ = ZoneInfo("Asia/Shanghai")
SECRET = b"webhook-secret-for-tests"


class Clock:
    """An injectable clock: tests move it, nothing sleeps."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kw: float) -> datetime:
        self.at += timedelta(**kw)
        return self.at


# ---- a real HTTP server --------------------------------------------------------------------------------
@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpSink:
    """Records every POST; answers each path from a script of statuses (then 200), with a JSON body."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    answer: dict[str, bytes] = field(default_factory=dict)

    def on(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def http() -> Iterator[HttpSink]:
    sink = HttpSink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            sink.requests.append(Request(self.path, dict(self.headers.items()), body))
            queued = sink.script[self.path]
            status = queued.pop(0) if queued else 200
            out = sink.answer.get(self.path, b'{"ok": true}')
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# ---- a real SMTP sink --------------------------------------------------------------------------------
@dataclass
class Mail:
    sender: str
    recipients: list[str]
    data: bytes

    def parsed(self) -> email.message.EmailMessage:
        msg = email.message_from_bytes(self.data, policy=policy.default)
        assert isinstance(msg, email.message.EmailMessage)
        return msg


@dataclass
class SmtpSink:
    host: str = "127.0.0.1"
    port: int = 0
    mails: list[Mail] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """Just enough of RFC 5321 for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""
    sink = SmtpSink()

    class Handler(socketserver.StreamRequestHandler):
        def say(self, line: str) -> None:
            self.wfile.write(line.encode("ascii") + b"\r\n")

        def handle(self) -> None:
            self.say("220 sink.test ESMTP")
            sender, rcpts = "", []
            while True:
                raw = self.rfile.readline()
                if not raw:
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb = line.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    self.say("250-sink.test")
                    self.say("250-AUTH PLAIN")
                    self.say("250 8BITMIME")
                elif verb == "HELO":
                    self.say("250 sink.test")
                elif verb == "AUTH":
                    _, user, password = base64.b64decode(line.split()[2]).decode().split("\0")
                    sink.logins.append((user, password))
                    self.say("235 2.7.0 accepted")
                elif verb == "MAIL":
                    sender, rcpts = line[10:].strip().strip("<>").split(">")[0], []
                    self.say("250 ok")
                elif verb == "RCPT":
                    address = line[8:].strip().strip("<>")
                    if address in sink.refuse:
                        self.say(f"550 5.1.1 <{address}>: user unknown")
                    else:
                        rcpts.append(address)
                        self.say("250 ok")
                elif verb == "DATA":
                    self.say("354 go ahead")
                    lines = []
                    while True:
                        chunk = self.rfile.readline()
                        if chunk in (b".\r\n", b".\n", b""):
                            break
                        lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                    sink.mails.append(Mail(sender, rcpts, b"".join(lines)))
                    self.say("250 ok queued")
                elif verb in ("RSET", "NOOP"):
                    self.say("250 ok")
                elif verb == "QUIT":
                    self.say("221 bye")
                    return
                else:
                    self.say("502 not implemented")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    sink.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# ---- helpers -----------------------------------------------------------------------------------------
def rows(svc: Services) -> list[dict[str, Any]]:
    t = svc.db.table("notification")
    with svc.db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.pk))]


def audit(svc: Services, prefix: str = "alarms.notify") -> list[tuple[str, str, dict[str, Any]]]:
    log = svc.db.table("audit_log")
    with svc.db.engine.connect() as conn:
        found = conn.execute(
            select(log.c.action, log.c.target, log.c.detail)
            .where(log.c.action.like(f"{prefix}%"))
            .order_by(log.c.seq)
        ).all()
    return [(a, t, json.loads(d)) for a, t, d in found]


def message(alarm_id: int = 7) -> Message:
    return alarm_message(
        {
            "id": alarm_id,
            "type": "emergency_call",
            "severity": "critical",
            "title_zh": "紧急求助",
            "title_en": "Emergency call",
            "estate": "E1",
            "location": "幸福里3栋1单元",
            "first_seen_at": datetime(2026, 5, 2, 0, 30),  # naive UTC, as stored
            "records": ["emergency_call:EC-1"],
            "cameras": [{"id": "E1-CAM-A"}],
        },
        timezone=TZ,
        link_base="https://anju.example.cn",
    )


def insert_alarm(svc: Services, **changes: Any) -> int:
    now = T0.replace(tzinfo=None)
    values: dict[str, Any] = {
        "type": "emergency_call",
        "rule": "emergency_call",
        "severity": "critical",
        "originator_kind": "estate",
        "originator_id": "E1",
        "open_key": "estate:E1:emergency_call",
        "estate": "E1",
        "title_zh": "紧急求助",
        "title_en": "Emergency call",
        "location": "幸福里3栋1单元",
        "lon": w.ORIGIN[1],
        "lat": w.ORIGIN[0],
        "details": {},
        "records": [],
        "cameras": [],
        "count": 1,
        "first_seen_at": now,
        "last_seen_at": now,
        "cleared": False,
        "acknowledged": False,
        "escalation_level": 0,
        "reminders": 0,
        "created_at": now,
        "updated_at": now,
    }
    values.update(changes)
    with svc.db.engine.begin() as conn:
        pk = conn.execute(insert(svc.db.table("alarm")).values(**values)).inserted_primary_key
        assert pk is not None
        return int(pk[0])


def assert_not_stored(svc: Services, *secrets: str) -> None:
    """No value appears in clear in the notification table or the audit log, nor (SQLite) anywhere in
    the database files."""
    for table in ("notification", "audit_log"):
        t = svc.db.table(table)
        with svc.db.engine.connect() as conn:
            dumped = " ".join(str(dict(r._mapping)) for r in conn.execute(select(t)))
        for secret in secrets:
            assert secret not in dumped, f"{secret!r} in {table}"
    if svc.db.dialect == "sqlite":
        base = Path(svc.db.engine.url.database or "")
        blob = b"".join(p.read_bytes() for p in base.parent.glob(base.name + "*"))
        for secret in secrets:
            assert secret.encode() not in blob, f"{secret!r} in the SQLite files"


# ---- messages and signatures ---------------------------------------------------------------------------
def test_message_says_type_severity_place_time_and_link_in_both_languages() -> None:
    m = message()
    assert m.subject == "【安居告警】紧急求助（危急） / [Anju] Alarm: Emergency call (critical)"
    assert "地点：幸福里3栋1单元（E1）" in m.text
    assert "时间：2026-05-02 08:30:00（北京时间）" in m.text  # 00:30 UTC
    assert "Time: 2026-05-02 08:30:00 (Asia/Shanghai, UTC+08:00)" in m.text
    assert "Severity: critical" in m.text and "级别：危急" in m.text
    assert "https://anju.example.cn/alarms/7" in m.text and "/alarms/7" in m.short
    assert m.data["at"] == "2026-05-02T00:30:00Z"
    assert m.data["at_local"] == "2026-05-02T08:30:00+08:00"
    assert m.data["cameras"] == ["E1-CAM-A"] and m.data["records"] == ["emergency_call:EC-1"]


def test_signature_verifies_and_refuses_tampering_and_replay() -> None:
    body = b'{"a":1}'
    header = sign(SECRET, "1777777777", body)
    at = datetime.fromtimestamp(1777777777, UTC)
    assert header.startswith("hmac-sm3=") and len(header) == len("hmac-sm3=") + 64
    assert verify_signature(SECRET, "1777777777", body, header, now=at)
    assert not verify_signature(SECRET, "1777777777", b'{"a":2}', header, now=at)
    assert not verify_signature(b"other", "1777777777", body, header, now=at)
    assert not verify_signature(SECRET, "1777777778", body, header, now=at)
    assert not verify_signature(SECRET, "1777777777", body, header, now=at + timedelta(minutes=6))
    assert not verify_signature(SECRET, "not-a-time", body, header, now=at)


def test_errors_are_cleaned_of_targets_and_personal_values() -> None:
    text = (
        "550 5.1.1 <zhang.wei@example.cn>: user unknown; call 13700002222; see https://h.example/x?token=abc"
    )
    cleaned = clean_error(text, "zhang.wei@example.cn", "email")
    assert "zhang.wei" not in cleaned and "13700002222" not in cleaned and "token=abc" not in cleaned
    assert "z***@example.cn" in cleaned and "https://h.example/…" in cleaned


# ---- webhooks ----------------------------------------------------------------------------------------
def test_webhook_delivered_signed_and_recorded(services: Services, http: HttpSink) -> None:
    clock = Clock(T0)
    notifier = Notifier(services, {"webhook": WebhookChannel(WebhookSettings(secret=SECRET))}, clock)
    url = f"{http.url}/hook/E1?access_token=tok-123"
    contact = Contact(key="duty:E1-control", name="幸福里监控中心", webhook=url)
    [pk] = notifier.notify(7, "duty_officer", [contact], message())
    assert notifier.notify(7, "duty_officer", [contact], message()) == []  # queued once per occasion
    assert http.requests == []  # queueing sends nothing
    assert notifier.deliver_due(T0).to_json() == {"sent": 1, "retrying": 0, "failed": 0, "skipped": 0}
    [req] = http.requests
    assert req.path == "/hook/E1?access_token=tok-123"
    # A receiver's check: the HMAC-SM3 over timestamp and body, with the shared secret.
    assert verify_signature(SECRET, req.headers[TIMESTAMP_HEADER], req.body, req.headers[SIGNATURE_HEADER])
    assert req.headers[DELIVERY_HEADER] == str(pk)
    body = req.json()
    assert body["delivery"] == str(pk)
    assert body["alarm_id"] == 7 and body["severity"] == "critical" and body["event"] == "alarm.raised"
    assert body["subject"].startswith("【安居告警】紧急求助")
    [row] = rows(services)
    assert (row["status"], row["attempts"], row["last_error"], row["channel"]) == ("sent", 1, None, "webhook")
    assert row["sent_at"] == T0.replace(tzinfo=None) and row["next_attempt_at"] is None
    assert row["target_masked"] == f"http://127.0.0.1:{http.url.rsplit(':', 1)[1]}/…"
    assert row["target"].startswith("v1:") and "tok-123" not in row["target"]
    with services.db.engine.connect() as conn:
        assert notifier.target_of(conn, pk) == url
    assert [a[:2] for a in audit(services)] == [
        ("alarms.notify.queue", "alarm:7"),
        ("alarms.notify.sent", f"notification:{pk}"),
    ]
    assert audit(services)[1][2]["target"] == row["target_masked"]
    assert_not_stored(services, "tok-123")
    assert notifier.deliver_due(T0 + timedelta(hours=1)).sent == 0  # nothing twice


def test_failing_webhook_backs_off_then_succeeds(services: Services, http: HttpSink) -> None:
    clock = Clock(T0)
    retry = RetryPolicy(max_attempts=5, first_delay=timedelta(seconds=30), factor=2.0)
    notifier = Notifier(
        services, {"webhook": WebhookChannel(WebhookSettings(secret=SECRET))}, clock, retry=retry
    )
    http.script["/flaky"] = [500, 503]
    [pk] = notifier.notify(
        8, "duty_officer", [Contact(key="duty:x", name="x", webhook=f"{http.url}/flaky")], message(8)
    )

    assert notifier.deliver_due(T0).retrying == 1
    [row] = rows(services)
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 1, "HTTP 500")
    assert row["next_attempt_at"] == (T0 + timedelta(seconds=30)).replace(tzinfo=None)
    # Not yet due: nothing is sent.
    assert notifier.deliver_due(T0 + timedelta(seconds=29)).to_json() == {
        "sent": 0,
        "retrying": 0,
        "failed": 0,
        "skipped": 0,
    }
    assert len(http.on("/flaky")) == 1
    assert notifier.deliver_due(T0 + timedelta(seconds=30)).retrying == 1
    [row] = rows(services)
    assert (row["attempts"], row["last_error"]) == (2, "HTTP 503")
    assert row["next_attempt_at"] == (T0 + timedelta(seconds=30 + 60)).replace(tzinfo=None)  # doubled
    assert notifier.deliver_due(T0 + timedelta(seconds=89)).sent == 0
    assert notifier.deliver_due(T0 + timedelta(seconds=90)).sent == 1
    [row] = rows(services)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, None)
    assert len(http.on("/flaky")) == 3
    # Each try was the same delivery, so the receiver can drop repeats.
    assert {r.headers[DELIVERY_HEADER] for r in http.on("/flaky")} == {str(pk)}
    assert [a[0] for a in audit(services)] == [
        "alarms.notify.queue",
        "alarms.notify.retry",
        "alarms.notify.retry",
        "alarms.notify.sent",
    ]
    assert audit(services)[1][2]["next_attempt_at"] == "2026-05-02T19:00:30Z"


def test_webhook_gives_up_after_max_attempts_and_at_once_on_4xx(services: Services, http: HttpSink) -> None:
    clock = Clock(T0)
    retry = RetryPolicy(
        max_attempts=3, first_delay=timedelta(seconds=10), factor=3.0, max_delay=timedelta(seconds=60)
    )
    notifier = Notifier(services, {"webhook": WebhookChannel()}, clock, retry=retry)
    http.script["/down"] = [500] * 10
    http.script["/gone"] = [404]
    # A port nobody listens on: connection refused.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    contacts = [
        Contact(key="duty:down", name="a", webhook=f"{http.url}/down"),
        Contact(key="duty:gone", name="b", webhook=f"{http.url}/gone"),
        Contact(key="duty:dead", name="c", webhook=dead),
    ]
    down, gone, refused = notifier.notify(9, "duty_officer", contacts, message(9))
    assert notifier.deliver_due(T0).to_json() == {"sent": 0, "retrying": 2, "failed": 1, "skipped": 0}
    assert notifier.deliver_due(T0 + timedelta(seconds=10)).retrying == 2
    # Third attempt after 10 + 30 s: the last one allowed.
    assert notifier.deliver_due(T0 + timedelta(seconds=39)).to_json()["failed"] == 0
    assert notifier.deliver_due(T0 + timedelta(seconds=40)).to_json() == {
        "sent": 0,
        "retrying": 0,
        "failed": 2,
        "skipped": 0,
    }
    by_pk = {r["pk"]: r for r in rows(services)}
    assert (by_pk[down]["status"], by_pk[down]["attempts"], by_pk[down]["last_error"]) == (
        "failed",
        3,
        "HTTP 500",
    )
    assert (by_pk[gone]["status"], by_pk[gone]["attempts"], by_pk[gone]["last_error"]) == (
        "failed",
        1,
        "HTTP 404",
    )
    assert (by_pk[refused]["status"], by_pk[refused]["attempts"]) == ("failed", 3)
    assert by_pk[refused]["last_error"].startswith("ConnectError")
    assert all(r["next_attempt_at"] is None for r in by_pk.values())
    assert len(http.on("/down")) == 3 and len(http.on("/gone")) == 1
    assert notifier.deliver_due(T0 + timedelta(days=1)).to_json()["failed"] == 0  # given up for good
    assert [a[0] for a in audit(services)].count("alarms.notify.failed") == 3


def test_a_second_sender_does_not_send_a_claimed_row(sqlite_services: Services, http: HttpSink) -> None:
    svc = sqlite_services
    clock = Clock(T0)
    first = Notifier(svc, {"webhook": WebhookChannel()}, clock)
    [pk] = first.notify(
        10, "duty_officer", [Contact(key="duty:x", name="x", webhook=f"{http.url}/h")], message(10)
    )
    # The row was due for both; the first claims it (attempts 0 → 1), the second's claim then misses.
    assert first._claim(pk, 0, T0.replace(tzinfo=None)) is not None
    second = Notifier(svc, {"webhook": WebhookChannel()}, clock)
    assert second._claim(pk, 0, T0.replace(tzinfo=None)) is None
    # The claim pushed the row out by the lease: a crashed sender's row is retried after it.
    assert second.deliver_due(T0 + timedelta(minutes=4)).sent == 0
    assert second.deliver_due(T0 + timedelta(minutes=5)).sent == 1
    assert len(http.requests) == 1


def test_a_channel_that_raises_is_a_failure_not_a_crash(sqlite_services: Services) -> None:
    class Broken:
        name = "sms"

        def send(self, target: str, message: Message) -> Delivery:
            raise RuntimeError(f"gateway library bug for {target}")

    notifier = Notifier(sqlite_services, {"sms": Broken()}, Clock(T0))
    notifier.notify(
        11,
        "emergency_contact",
        [Contact(key="emergency_contact:1", name="王小明", phone="13700002222")],
        message(11),
    )
    assert notifier.deliver_due(T0).retrying == 1
    [row] = rows(sqlite_services)
    assert row["last_error"] == "RuntimeError: gateway library bug for 137****2222"


# ---- e-mail ------------------------------------------------------------------------------------------
def test_email_delivered_over_smtp_with_chinese_subject(
    services: Services, smtp: SmtpSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    data_dir = services.settings.data_dir
    (data_dir / "notify.yaml").write_text(
        f"""
email:
  host: 127.0.0.1
  port: {smtp.port}
  sender: 安居告警 <alarms@anju.example.cn>
  username: alarms@anju.example.cn
  password_env: TEST_SMTP_PASSWORD
  timeout_s: 5
retry: {{max_attempts: 2, first_delay_s: 60}}
""",
        encoding="utf-8",
    )
    config = load_notify_config(data_dir, {"TEST_SMTP_PASSWORD": "smtp-pa55word"})
    assert config.email is not None and "smtp-pa55word" not in repr(config)
    notifier = Notifier.from_config(services, config, Clock(T0))
    smtp.refuse.add("nobody@e1.example.cn")
    contacts = [
        Contact(key="duty:E1-control", name="幸福里监控中心", email="control@e1.example.cn"),
        Contact(key="duty:gone", name="离职人员", email="nobody@e1.example.cn"),
    ]
    ok, refused = notifier.notify(12, "duty_officer", contacts, message(12))
    assert notifier.deliver_due(T0).to_json() == {"sent": 1, "retrying": 0, "failed": 1, "skipped": 0}
    assert smtp.logins == [("alarms@anju.example.cn", "smtp-pa55word")] * 2  # one session per message
    [mail] = smtp.mails
    assert mail.sender == "alarms@anju.example.cn" and mail.recipients == ["control@e1.example.cn"]
    parsed = mail.parsed()
    assert b"=?utf-8?" in mail.data  # the subject went over the wire as RFC 2047 encoded-words
    assert parsed["Subject"] == message(12).subject
    assert parsed["From"].addresses[0].display_name == "安居告警"
    assert parsed[DELIVERY_HEADER] == str(ok)
    body = parsed.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "告警：紧急求助" in text and "时间：2026-05-02 08:30:00（北京时间）" in text
    assert "Details: https://anju.example.cn/alarms/12" in text
    by_pk = {r["pk"]: r for r in rows(services)}
    assert by_pk[ok]["status"] == "sent" and by_pk[ok]["target_masked"] == "c***@e1.example.cn"
    assert (by_pk[refused]["status"], by_pk[refused]["attempts"]) == ("failed", 1)  # 550: permanent
    assert by_pk[refused]["last_error"] == "recipient refused: SMTP [550]"
    assert_not_stored(services, "control@e1.example.cn", "nobody@e1.example.cn", "smtp-pa55word")
    assert "smtp-pa55word" not in caplog.text and "control@e1.example.cn" not in caplog.text


def test_email_server_down_is_retried(sqlite_services: Services) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    channel = EmailChannel(SmtpSettings(host="127.0.0.1", port=port, sender="a@b.cn", timeout_s=2))
    notifier = Notifier(sqlite_services, {"email": channel}, Clock(T0))
    notifier.notify(13, "duty_officer", [Contact(key="duty:x", name="x", email="x@y.cn")], message(13))
    assert notifier.deliver_due(T0).retrying == 1
    assert rows(sqlite_services)[0]["last_error"].startswith("ConnectionRefusedError")


# ---- SMS ---------------------------------------------------------------------------------------------
def test_sms_through_the_http_gateway_adapter(services: Services, http: HttpSink) -> None:
    settings = HttpSmsSettings(
        url=f"{http.url}/sms/send",
        key="sms-api-key",
        body={"mobile": "{phone}", "content": "{text}", "sign": "安居", "ref": "{delivery}"},
        auth_header="X-Api-Key",
        auth_value="{key}",
        success_field="code",
        success_values=("0",),
        reference_field="data.msgid",
        max_chars=120,
    )
    http.answer["/sms/send"] = b'{"code": "0", "data": {"msgid": "M-42"}}'
    notifier = Notifier(services, {"sms": SmsChannel(HttpSmsGateway(settings), max_chars=120)}, Clock(T0))
    [pk] = notifier.notify(
        14,
        "emergency_contact",
        [Contact(key="emergency_contact:1", name="王小明", phone="13700002222")],
        message(14),
    )
    assert notifier.deliver_due(T0).sent == 1
    [req] = http.on("/sms/send")
    assert req.headers["X-Api-Key"] == "sms-api-key"
    sent = req.json()
    assert sent["mobile"] == "13700002222" and sent["sign"] == "安居" and sent["ref"] == str(pk)
    assert sent["content"].startswith("【安居】告警：紧急求助（危急）") and len(sent["content"]) <= 120
    [row] = rows(services)
    assert (row["status"], row["target_masked"], row["purpose"]) == (
        "sent",
        "137****2222",
        "emergency_contact",
    )
    assert row["payload"]["contact_masked"] == "王*明"
    sent_audit = audit(services)[-1][2]
    assert sent_audit["reference"] == "M-42" and sent_audit["target"] == "137****2222"
    # No plaintext phone anywhere in the notification table, the audit log or (SQLite) the files.
    assert_not_stored(services, "13700002222", "王小明", "sms-api-key")

    # A gateway that answers 200 with an error code has not delivered.
    http.answer["/sms/send"] = b'{"code": "1001", "msg": "13700003333 blocked"}'
    notifier.notify(
        15,
        "emergency_contact",
        [Contact(key="emergency_contact:2", name="王小红", phone="13700003333")],
        message(15),
    )
    assert notifier.deliver_due(T0).retrying == 1
    assert rows(services)[-1]["last_error"] == "gateway code 1001"
    assert_not_stored(services, "13700003333")


# ---- end to end: an emergency call's alarm ------------------------------------------------------------
def test_emergency_call_notifies_duty_officer_and_contacts(
    services: Services, http: HttpSink, smtp: SmtpSink
) -> None:
    world = w.build(services)
    data_dir = services.settings.data_dir
    w.write_duty(data_dir, webhook_base=http.url)
    ref = w.emergency_call(services, "EC-9", name="王建国", phone="13912345678", SFZHM=world.id_numbers["P1"])
    alarm_id = insert_alarm(services, records=[ref])
    notify_file = data_dir / "notify.yaml"
    notify_file.write_text(
        f"""
webhook: {{secret: "{SECRET.decode()}"}}
email: {{host: 127.0.0.1, port: {smtp.port}, sender: alarms@anju.example.cn}}
sms: {{url: "{http.url}/sms", key_env: TEST_SMS_KEY, success_field: code, success_values: ["0"]}}
link_base: https://anju.example.cn
""",
        encoding="utf-8",
    )
    notify_file.chmod(0o644)
    with pytest.raises(NotifyConfigError, match="permissions 0644"):
        load_notify_config(data_dir, {"TEST_SMS_KEY": "k"})
    notify_file.chmod(0o600)
    config = load_notify_config(data_dir, {"TEST_SMS_KEY": "k-123"})
    http.answer["/sms"] = b'{"code": "0"}'
    clock = Clock(T0)
    notifier = Notifier.from_config(services, config, clock)
    roster = FileDutyRoster.for_data_dir(data_dir, TZ, services.regions.ancestors)
    history: list[tuple[int, dict[str, Any]]] = []
    handler = AlarmNotifications(
        notifier, Linkage(services, roster), on_queued=lambda a, d: history.append((a, d))
    )

    @dataclass
    class Change:
        alarm_id: int
        change: str

    created = handler.handle(Change(alarm_id, "created"))
    assert handler.handle(Change(alarm_id, "created")) == []  # an event handled twice queues nothing
    assert handler.handle(Change(alarm_id, "commented")) == []
    found = rows(services)
    assert [(r["purpose"], r["channel"], r["target_masked"]) for r in found] == [
        ("duty_officer", "webhook", f"{http.url}/…"),
        ("duty_officer", "email", "c***@e1.example.cn"),
        ("duty_officer", "sms", "138****0001"),
        ("emergency_contact", "sms", "137****2222"),
        ("emergency_contact", "sms", "137****3333"),
    ]
    assert [r["pk"] for r in found] == created
    [(told, summary)] = history  # for the alarm's history (the store's record_notified): masked only
    assert told == alarm_id and summary["occasion"] == "raised"
    assert [n["target"] for n in summary["notifications"]][-2:] == ["137****2222", "137****3333"]
    assert notifier.deliver_due().to_json() == {"sent": 5, "retrying": 0, "failed": 0, "skipped": 0}
    [hook] = http.on("/duty/E1-control")
    assert verify_signature(
        SECRET, hook.headers[TIMESTAMP_HEADER], hook.body, hook.headers[SIGNATURE_HEADER], now=T0
    )
    assert hook.json()["link"] == f"https://anju.example.cn/alarms/{alarm_id}"
    assert sorted(r.json()["phone"] for r in http.on("/sms")) == ["13700002222", "13700003333", "13800000001"]
    assert smtp.mails[0].recipients == ["control@e1.example.cn"]

    # Escalated to level 1 at 03:00 local: the community officer (night shift) is told.
    with services.db.engine.begin() as conn:
        t = services.db.table("alarm")
        conn.execute(t.update().where(t.c.id == alarm_id).values(escalation_level=1))
    escalated = handler.handle(Change(alarm_id, "escalated"))
    assert [(r["purpose"], r["target_masked"]) for r in rows(services) if r["pk"] in escalated] == [
        ("escalation", "138****0003")
    ]
    assert notifier.deliver_due().sent == 1
    assert all(r["status"] == "sent" for r in rows(services))
    assert_not_stored(services, "13700002222", "13700003333", "13800000001", "13800000003", "k-123", "王小明")


# ---- configuration -----------------------------------------------------------------------------------
def test_config_from_environment_and_refusals(tmp_path: Path) -> None:
    empty = load_notify_config(tmp_path, {})
    assert empty.email is None and empty.sms is None and empty.webhook.secret is None
    assert set(empty.channels()) == {"webhook"}
    env = {
        "ANJU_NOTIFY_WEBHOOK_SECRET": "s3",
        "ANJU_NOTIFY_SMTP_HOST": "smtp.example.cn",
        "ANJU_NOTIFY_SMTP_PORT": "587",
        "ANJU_NOTIFY_SMTP_FROM": "a@example.cn",
        "ANJU_NOTIFY_SMTP_STARTTLS": "true",
        "ANJU_NOTIFY_SMTP_PASSWORD": "pw",
        "ANJU_NOTIFY_SMS_URL": "https://sms.example.cn/send",
        "ANJU_NOTIFY_SMS_KEY": "key",
    }
    config = load_notify_config(tmp_path, env)
    assert config.webhook.secret == b"s3"
    assert config.email == SmtpSettings(
        host="smtp.example.cn", port=587, sender="a@example.cn", starttls=True, password="pw"
    )
    assert config.sms is not None and config.sms.key == "key"
    assert set(config.channels()) == {"webhook", "email", "sms"}
    for text in ("pw", "key", "s3"):
        assert f"'{text}'" not in repr(config)
    path = tmp_path / "notify.yaml"
    path.write_text("webhook: {secret_env: MISSING_VAR}\n", encoding="utf-8")
    with pytest.raises(NotifyConfigError, match="MISSING_VAR is not set"):
        load_notify_config(tmp_path, {})
    path.write_text("sms: {url: ftp://x}\n", encoding="utf-8")
    with pytest.raises(NotifyConfigError, match=r"sms\.url"):
        load_notify_config(tmp_path, {})
    path.write_text("retry: {max_attempts: 0}\n", encoding="utf-8")
    with pytest.raises(NotifyConfigError, match=r"retry\.max_attempts"):
        load_notify_config(tmp_path, {})
    path.write_text("email: {host: h, sender: a@b.cn, pasword: x}\n", encoding="utf-8")
    with pytest.raises(NotifyConfigError, match=r"email: unknown keys \['pasword'\]"):
        load_notify_config(tmp_path, {})
    path.write_text("webhook: {secret: 'abc\n", encoding="utf-8")
    with pytest.raises(NotifyConfigError, match="not valid YAML at line") as bad:
        load_notify_config(tmp_path, {})
    assert "abc" not in str(bad.value)
    path.write_text("smtp: {}\n", encoding="utf-8")
    with pytest.raises(NotifyConfigError, match="unknown sections"):
        load_notify_config(tmp_path, {})


def test_unconfigured_channel_is_recorded_failed_and_targets_reseal(sqlite_services: Services) -> None:
    svc = sqlite_services
    notifier = Notifier(svc, {}, Clock(T0))
    [pk] = notifier.notify(
        16, "duty_officer", [Contact(key="duty:x", name="x", phone="13800000009")], message(16)
    )
    [row] = rows(svc)
    assert (row["status"], row["attempts"]) == ("failed", 0)
    assert "channel sms is not configured" in row["last_error"]
    assert notifier.deliver_due(T0).to_json()["sent"] == 0
    # A target sealed for another row does not open here: the notification fails, nothing is sent.
    notifier = Notifier(
        svc, {"sms": SmsChannel(HttpSmsGateway(HttpSmsSettings(url="http://127.0.0.1:9/")))}, Clock(T0)
    )
    [moved] = notifier.notify(
        17, "duty_officer", [Contact(key="duty:y", name="y", phone="13800000008")], message(17)
    )
    t = svc.db.table("notification")
    with svc.db.engine.begin() as conn:
        conn.execute(t.update().where(t.c.pk == moved).values(target=row["target"]))
    assert notifier.deliver_due(T0).failed == 1
    assert rows(svc)[-1]["last_error"] == "the sealed target cannot be opened"
    # Key rotation re-encrypts a target under the new version, still bound to the row's key.
    cipher = svc.protector.cipher
    assert reseal_target(cipher, svc.keyring.current, pk, row["target"]) is None
    version = svc.keyring.rotate()
    resealed = reseal_target(cipher, version, pk, row["target"])
    assert resealed is not None and resealed.startswith(f"v1:{version}:")
    assert cipher.decrypt_text(resealed, "notification", "target", str(pk)) == "13800000009"
    with pytest.raises(ValueError):
        cipher.decrypt_text(resealed, "notification", "target", str(pk + 1))  # bound to its row
