"""Notifications of alarms through pluggable channels, with delivery status recorded and retried.

    Notifier.notify ──▶ notification rows (pending; target sealed) ──▶ deliver_due(now) ──▶ Channel.send
                                                                   ◀── sent | retry later | failed

Channels share one protocol, `Channel.send(target, message) -> Delivery`:
  * `WebhookChannel` — an HTTP POST of JSON (httpx), signed with HMAC-SM3 (see `sign`); any answer but
    2xx is a failure, and 4xx other than 408/425/429 a permanent one (retrying will not fix it).
  * `EmailChannel` — SMTP (smtplib), optional STARTTLS or implicit TLS, optional AUTH.
  * `SmsChannel` — over an `SmsGateway`; `HttpSmsGateway` posts a configurable JSON body to a vendor's
    HTTP API. Other vendors' SDKs implement `SmsGateway.send_sms`.

Configuration comes from `$ANJU_DATA_DIR/notify.yaml` and the environment (`load_notify_config`); the
repository holds no secret. A notify.yaml that holds a secret itself must be readable by its owner only
(mode 0600), as the key file must; secrets can instead be named by environment variable (`*_env`).

Delivery is at least once: a row is claimed (attempts + 1, next attempt pushed out by a lease) before it
is sent and its result recorded after; a process that dies in between leaves the row to be sent again
when the lease runs out. Webhook receivers can drop repeats by the `X-Anju-Delivery` header.

Nothing personal is stored or logged in clear. The target (a phone, an e-mail address, a webhook URL
that may hold an access token) is sealed with the field cipher bound to table "notification", column
"target" and the row's own primary key: the row is inserted with an empty target, then the target is
sealed under the key the insert returned, in the same transaction. The key never changes, so the
binding is stable. `target_masked` is what lists and audit entries show; payloads hold no personal data.
"""

from __future__ import annotations

import hmac as std_hmac
import logging
import os
import re
import smtplib
import ssl
import stat
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import httpx
import orjson
import yaml
from sqlalchemy import Connection, insert, select, update

from anju.alarms.duty import CHANNELS, Contact
from anju.alarms.tables import SEVERITIES
from anju.db.engine import WRITE_OPTIONS
from anju.security.crypto import DecryptionError, FieldCipher, hmac_sm3
from anju.security.masking import mask, mask_embedded_identifiers
from anju.yamlfiles import load_yaml

if TYPE_CHECKING:
    from anju.alarms.linkage import AlarmLinkage, Linkage
    from anju.services import Services

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
NOTIFY_FILE = "notify.yaml"
SEALED_TABLE, SEALED_COLUMN = "notification", "target"
ACTOR = "system:notifier"
SIGNATURE_HEADER = "X-Anju-Signature"
TIMESTAMP_HEADER = "X-Anju-Timestamp"
DELIVERY_HEADER = "X-Anju-Delivery"
SIGNATURE_SCHEME = "hmac-sm3"
USER_AGENT = "anju-notifier/1"
ERROR_MAX = 500

SEVERITY_LABELS = {
    "critical": ("危急", "critical"),
    "major": ("严重", "major"),
    "minor": ("一般", "minor"),
    "warning": ("提示", "warning"),
    "indeterminate": ("待定", "indeterminate"),
}
OCCASION_LABELS = {
    "raised": ("告警", "Alarm"),
    "escalated": ("告警升级", "Escalated alarm"),
    "reminder": ("告警未确认提醒", "Reminder: alarm not acknowledged"),
}
assert set(SEVERITY_LABELS) == set(SEVERITIES)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _naive(at: datetime) -> datetime:
    """Datetimes are stored naive in UTC (SQLite keeps no offsets)."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


class NotifyConfigError(ValueError):
    """notify.yaml or an ANJU_NOTIFY_* variable cannot be used; the message says which and why."""


# ---- messages and deliveries -------------------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    """What a notification says, in Chinese then English. `short` is the SMS text; `data` the structured
    form webhooks receive. None of it is personal: an alarm's type, severity, place, time and link."""

    subject: str
    text: str
    short: str
    data: dict[str, Any] = field(default_factory=dict)
    delivery_id: str | None = None  # the notification row's key, set when it is sent

    def to_payload(self) -> dict[str, Any]:
        return {"subject": self.subject, "text": self.text, "short": self.short, "data": self.data}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], delivery_id: str | None = None) -> Message:
        return cls(
            subject=str(payload.get("subject", "")),
            text=str(payload.get("text", "")),
            short=str(payload.get("short", "")),
            data=dict(payload.get("data") or {}),
            delivery_id=delivery_id,
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    ok: bool
    error: str | None = None  # why it failed, without the target or any personal value
    permanent: bool = False  # retrying cannot help (a 4xx, a refused address)
    reference: str | None = None  # what the far side answered: "HTTP 200", a gateway's message ID


class Channel(Protocol):
    name: str

    def send(self, target: str, message: Message) -> Delivery: ...


class SmsGateway(Protocol):
    """A vendor's SMS service. `delivery_id` is the notification's key, for gateways that dedupe."""

    def send_sms(self, phone: str, text: str, *, delivery_id: str = "") -> Delivery: ...


def local_time_text(at: datetime, tz: ZoneInfo) -> tuple[str, str]:
    """(Chinese, English) renderings of an instant in the deployment's zone."""
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    local = aware.astimezone(tz)
    stamp = local.strftime("%Y-%m-%d %H:%M:%S")
    offset = local.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}"
    zh_zone = "北京时间" if tz.key in ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC") else tz.key
    return f"{stamp}（{zh_zone}）", f"{stamp} ({tz.key}, {offset})"


def alarm_message(
    alarm: Mapping[str, Any],
    *,
    timezone: ZoneInfo,
    link_base: str = "",
    occasion: str = "raised",
) -> Message:
    """The message for an alarm row on an occasion (raised | escalated | reminder)."""
    sev_zh, sev_en = SEVERITY_LABELS.get(str(alarm["severity"]), (str(alarm["severity"]),) * 2)
    occ_zh, occ_en = OCCASION_LABELS.get(occasion, OCCASION_LABELS["raised"])
    title_zh, title_en = (
        str(alarm.get("title_zh") or alarm["type"]),
        str(alarm.get("title_en") or alarm["type"]),
    )
    # A location is free text: a phone or ID number typed into it is masked like any other (payloads are
    # stored in clear and travel to third-party gateways).
    location = mask_embedded_identifiers(str(alarm["location"])) if alarm.get("location") else None
    place = location or alarm.get("estate") or "未知 / unknown"
    if location and alarm.get("estate"):
        place = f"{location}（{alarm['estate']}）"
    at = alarm.get("first_seen_at") or alarm.get("created_at") or utcnow()
    when_zh, when_en = local_time_text(at, timezone)
    link = f"{link_base.rstrip('/')}/alarms/{alarm['id']}"
    subject = f"【安居{occ_zh}】{title_zh}（{sev_zh}） / [Anju] {occ_en}: {title_en} ({sev_en})"
    text = "\n".join(
        (
            f"{occ_zh}：{title_zh}",
            f"级别：{sev_zh}",
            f"地点：{place}",
            f"时间：{when_zh}",
            f"查看：{link}",
            "",
            f"{occ_en}: {title_en}",
            f"Severity: {sev_en}",
            f"Location: {place}",
            f"Time: {when_en}",
            f"Details: {link}",
        )
    )
    short = f"【安居】{occ_zh}：{title_zh}（{sev_zh}），{place}，{when_zh}，{link} / {title_en} ({sev_en})"
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    cameras = alarm.get("cameras") or []
    data = {
        "event": f"alarm.{occasion}",
        "alarm_id": alarm["id"],
        "type": alarm["type"],
        "severity": alarm["severity"],
        "title_zh": title_zh,
        "title_en": title_en,
        "estate": alarm.get("estate"),
        "location": location,
        "lon": alarm.get("lon"),
        "lat": alarm.get("lat"),
        "at": aware.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "at_local": aware.astimezone(timezone).isoformat(),
        "link": link,
        "cameras": [c.get("id") for c in cameras if isinstance(c, Mapping)],
        "records": list(alarm.get("records") or []),
    }
    return Message(subject=subject, text=text, short=short, data=data)


# ---- masking and sanitising -------------------------------------------------------------------------
def mask_email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not at:
        return mask("name", value)
    return f"{local[:1]}***@{domain}"


def mask_url(value: str) -> str:
    """Scheme and host only: a webhook path or query often holds an access token."""
    try:
        url = httpx.URL(value)
    except Exception:
        return "[URL]"
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}/…"


def mask_target(channel: str, target: str) -> str:
    if channel == "sms":
        return mask("phone", target)
    if channel == "email":
        return mask_email(target)
    return mask_url(target)


_URL = re.compile(r"https?://[^\s'\"<>]+")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")


def clean_error(text: str, target: str, channel: str) -> str:
    """An error text safe to store and audit: the target, URLs, e-mail addresses, phone and ID numbers
    masked (SMTP servers echo the refused address; httpx names the URL)."""
    out = text.replace(target, mask_target(channel, target)) if target else text
    out = _URL.sub(lambda m: mask_url(m.group(0)), out)
    out = _EMAIL.sub(lambda m: mask_email(m.group(0)), out)
    out = mask_embedded_identifiers(out)
    return out[:ERROR_MAX]


# ---- webhook -----------------------------------------------------------------------------------------
def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value: HMAC-SM3 over "<timestamp>.<body>", hex. The timestamp is inside the
    MAC so that a captured request cannot be replayed later with a fresh one."""
    return f"{SIGNATURE_SCHEME}={hmac_sm3(secret, timestamp.encode('ascii') + b'.' + body).hex()}"


def verify_signature(
    secret: bytes,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    now: datetime | None = None,
    tolerance: timedelta = timedelta(minutes=5),
) -> bool:
    """What a receiver checks: the MAC (in constant time) and that the timestamp is recent."""
    try:
        sent = datetime.fromtimestamp(int(timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        return False
    if abs((now or utcnow()) - sent) > tolerance:
        return False
    return std_hmac.compare_digest(sign(secret, timestamp, body), header.strip())


@dataclass(frozen=True)
class WebhookSettings:
    secret: bytes | None = field(default=None, repr=False)
    timeout_s: float = 5.0


class WebhookChannel:
    name: str = "webhook"

    def __init__(
        self,
        settings: WebhookSettings | None = None,
        *,
        clock: Clock = utcnow,
        client: httpx.Client | None = None,
    ) -> None:
        self.settings = settings or WebhookSettings()
        self.clock = clock
        # One pooled client; redirects are not followed: a 3xx is not a delivery.
        self.client = client or httpx.Client(
            timeout=self.settings.timeout_s, follow_redirects=False, headers={"User-Agent": USER_AGENT}
        )

    def send(self, target: str, message: Message) -> Delivery:
        body = orjson.dumps(
            {
                "delivery": message.delivery_id,
                "subject": message.subject,
                "text": message.text,
                **message.data,
            }
        )
        timestamp = str(int(self.clock().timestamp()))
        headers = {"Content-Type": "application/json; charset=utf-8", TIMESTAMP_HEADER: timestamp}
        if message.delivery_id is not None:
            headers[DELIVERY_HEADER] = message.delivery_id
        if self.settings.secret:
            headers[SIGNATURE_HEADER] = sign(self.settings.secret, timestamp, body)
        try:
            response = self.client.post(target, content=body, headers=headers)
        except httpx.TimeoutException:
            return Delivery(False, f"timeout after {self.settings.timeout_s:g} s")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return Delivery(False, f"{type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            return Delivery(True, reference=f"HTTP {status}")
        permanent = 400 <= status < 500 and status not in (408, 425, 429)
        return Delivery(False, f"HTTP {status}", permanent=permanent, reference=f"HTTP {status}")

    def close(self) -> None:
        self.client.close()


# ---- e-mail ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SmtpSettings:
    host: str
    sender: str  # "安居告警 <alarms@example.cn>" or a bare address
    port: int = 25
    starttls: bool = False
    tls: bool = False  # implicit TLS (port 465)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0


class EmailChannel:
    name: str = "email"

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        clock: Clock = utcnow,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.envelope_from = parseaddr(settings.sender)[1] or settings.sender

    def build(self, target: str, message: Message) -> EmailMessage:
        msg = EmailMessage()  # policy.default: non-ASCII headers become RFC 2047 encoded-words
        msg["Subject"] = message.subject
        msg["From"] = self.settings.sender
        msg["To"] = target
        msg["Date"] = format_datetime(self.clock().astimezone(UTC))
        domain = self.envelope_from.partition("@")[2] or None
        msg["Message-ID"] = make_msgid(domain=domain)
        if message.delivery_id is not None:
            msg[DELIVERY_HEADER] = message.delivery_id
        msg.set_content(message.text, charset="utf-8")
        return msg

    def send(self, target: str, message: Message) -> Delivery:
        s = self.settings
        msg = self.build(target, message)
        try:
            smtp: smtplib.SMTP
            if s.tls:
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=self.ssl_context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            with smtp:
                smtp.ehlo()
                if s.starttls and not s.tls:
                    smtp.starttls(context=self.ssl_context)
                    smtp.ehlo()
                if s.username:
                    smtp.login(s.username, s.password or "")
                smtp.send_message(msg, from_addr=self.envelope_from, to_addrs=[target])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return Delivery(False, f"recipient refused: SMTP {codes}", permanent=all(c >= 500 for c in codes))
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
            return Delivery(False, f"SMTP {exc.smtp_code} {text}".strip(), permanent=exc.smtp_code >= 500)
        except (OSError, smtplib.SMTPException) as exc:
            return Delivery(False, f"{type(exc).__name__}: {exc}")
        return Delivery(True, reference=str(msg["Message-ID"]))


# ---- SMS ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HttpSmsSettings:
    """A vendor's HTTP SMS API. `body` is the JSON body with placeholders {phone}, {text}, {key} and
    {delivery} in its strings; `auth_value` is the header value, e.g. "Bearer {key}" or "{key}". Many
    gateways answer 200 with a code in the body: `success_field` and `success_values` say which."""

    url: str
    key: str | None = field(default=None, repr=False)
    body: Mapping[str, Any] = field(default_factory=lambda: {"phone": "{phone}", "text": "{text}"})
    auth_header: str | None = "Authorization"
    auth_value: str = "Bearer {key}"
    success_field: str | None = None
    success_values: tuple[str, ...] = ()
    reference_field: str | None = None
    timeout_s: float = 5.0
    max_chars: int = 300


def _fill(template: Any, values: Mapping[str, str]) -> Any:
    """The template with placeholders replaced in every string (no str.format: braces in texts are
    literal, and nothing else of the value can be reached)."""
    if isinstance(template, str):
        out = template
        for name, value in values.items():
            out = out.replace("{" + name + "}", value)
        return out
    if isinstance(template, Mapping):
        return {str(k): _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


def _field(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


class HttpSmsGateway:
    def __init__(self, settings: HttpSmsSettings, *, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self.client = client or httpx.Client(
            timeout=settings.timeout_s, follow_redirects=False, headers={"User-Agent": USER_AGENT}
        )

    def send_sms(self, phone: str, text: str, *, delivery_id: str = "") -> Delivery:
        s = self.settings
        values = {"phone": phone, "text": text, "key": s.key or "", "delivery": delivery_id}
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if s.auth_header and s.key:
            headers[s.auth_header] = _fill(s.auth_value, values)
        try:
            response = self.client.post(
                s.url, content=orjson.dumps(_fill(dict(s.body), values)), headers=headers
            )
        except httpx.TimeoutException:
            return Delivery(False, f"timeout after {s.timeout_s:g} s")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return Delivery(False, f"{type(exc).__name__}: {exc}")
        status = response.status_code
        if not 200 <= status < 300:
            permanent = 400 <= status < 500 and status not in (408, 425, 429)
            return Delivery(False, f"HTTP {status}", permanent=permanent, reference=f"HTTP {status}")
        data: Any = None
        if s.success_field or s.reference_field:
            try:
                data = response.json()
            except ValueError:
                return Delivery(False, f"HTTP {status}: the gateway's answer is not JSON")
        if s.success_field:
            got = _field(data, s.success_field)
            if str(got) not in s.success_values:
                # The vendor's own code; its text may echo the phone, so only the code is kept.
                return Delivery(False, f"gateway code {got!s:.40}", reference=f"HTTP {status}")
        ref = _field(data, s.reference_field) if s.reference_field else None
        return Delivery(True, reference=str(ref) if ref is not None else f"HTTP {status}")

    def close(self) -> None:
        self.client.close()


class SmsChannel:
    name: str = "sms"

    def __init__(self, gateway: SmsGateway, *, max_chars: int = 300) -> None:
        self.gateway = gateway
        self.max_chars = max_chars

    def send(self, target: str, message: Message) -> Delivery:
        text = message.short
        if len(text) > self.max_chars:
            text = text[: self.max_chars - 1] + "…"
        return self.gateway.send_sms(target, text, delivery_id=message.delivery_id or "")

    def close(self) -> None:
        close = getattr(self.gateway, "close", None)
        if callable(close):
            close()


# ---- configuration -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: the n-th failed attempt waits first_delay * factor^(n-1), at most max_delay;
    after max_attempts attempts the notification is failed for good."""

    max_attempts: int = 5
    first_delay: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    max_delay: timedelta = timedelta(hours=1)

    def delay(self, attempts: int) -> timedelta:
        seconds = self.first_delay.total_seconds() * self.factor ** max(attempts - 1, 0)
        return timedelta(seconds=min(seconds, self.max_delay.total_seconds()))


@dataclass(frozen=True)
class NotifyConfig:
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    email: SmtpSettings | None = None
    sms: HttpSmsSettings | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    link_base: str = ""  # e.g. "https://anju.example.cn": links become <base>/alarms/<id>

    def channels(self, *, clock: Clock = utcnow) -> dict[str, Channel]:
        """The configured channels. Webhooks need no settings (unsigned without a secret); e-mail and
        SMS only exist when configured."""
        out: dict[str, Channel] = {"webhook": WebhookChannel(self.webhook, clock=clock)}
        if self.email is not None:
            out["email"] = EmailChannel(self.email, clock=clock)
        if self.sms is not None:
            out["sms"] = SmsChannel(HttpSmsGateway(self.sms), max_chars=self.sms.max_chars)
        return out


_KEYS = {
    "webhook": {"secret", "secret_env", "timeout_s"},
    "email": {
        "host",
        "port",
        "sender",
        "starttls",
        "tls",
        "username",
        "password",
        "password_env",
        "timeout_s",
    },
    "sms": {
        "url",
        "key",
        "key_env",
        "body",
        "auth_header",
        "auth_value",
        "success_field",
        "success_values",
        "reference_field",
        "timeout_s",
        "max_chars",
    },
    "retry": {"max_attempts", "first_delay_s", "factor", "max_delay_s"},
}


def _section(data: Mapping[str, Any], name: str, source: str) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise NotifyConfigError(f"{source}: `{name}` must be a mapping")
    # A misspelt key ("pasword") would otherwise be ignored silently and show up only as failed sends.
    unknown = set(value) - _KEYS[name]
    if unknown:
        raise NotifyConfigError(
            f"{source}: {name}: unknown keys {sorted(unknown)}; known: {sorted(_KEYS[name])}"
        )
    return dict(value)


def _secret(
    section: Mapping[str, Any], key: str, env: Mapping[str, str], default_env: str, where: str
) -> str | None:
    """A secret from the environment (the default variable, or the one `<key>_env` names), else the file."""
    named = section.get(f"{key}_env")
    if named is not None and not isinstance(named, str):
        raise NotifyConfigError(f"{where}.{key}_env: expected the name of an environment variable")
    for var in (named, default_env):
        if var and env.get(var):
            return env[var]
    if named and not env.get(named):
        raise NotifyConfigError(f"{where}.{key}_env: environment variable {named} is not set")
    value = section.get(key)
    return None if value in (None, "") else str(value)


def _number(value: Any, where: str, *, minimum: float = 0.0, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        kind = "a whole number" if integer else "a number"
        raise NotifyConfigError(f"{where}: expected {kind} ≥ {minimum:g}, got {value!r}")
    if integer and int(value) != value:
        raise NotifyConfigError(f"{where}: expected a whole number, got {value!r}")
    return float(value)


def _flag(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return value.lower() in ("1", "true", "yes", "on")
    raise NotifyConfigError(f"{where}: expected true or false, got {value!r}")


_SECRET_KEYS = ("secret", "password", "key")


def load_notify_config(data_dir: Path, env: Mapping[str, str] | None = None) -> NotifyConfig:
    """notify.yaml under the data directory (optional), with ANJU_NOTIFY_* variables over it:

    ANJU_NOTIFY_WEBHOOK_SECRET   webhook.secret          ANJU_NOTIFY_SMTP_HOST   email.host
    ANJU_NOTIFY_SMTP_PASSWORD    email.password          ANJU_NOTIFY_SMTP_PORT   email.port
    ANJU_NOTIFY_SMS_KEY          sms.key                 ANJU_NOTIFY_SMTP_USER   email.username
    ANJU_NOTIFY_SMS_URL          sms.url                 ANJU_NOTIFY_SMTP_FROM   email.sender
    ANJU_NOTIFY_LINK_BASE        link_base               ANJU_NOTIFY_SMTP_STARTTLS email.starttls
    """
    env = dict(os.environ) if env is None else dict(env)
    path = data_dir / NOTIFY_FILE
    source = str(path)
    data: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = load_yaml(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            # Only the line: the parser's own message quotes the text around it, which may be a secret.
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise NotifyConfigError(f"{source}: not valid YAML{where}") from None
        if loaded is not None and not isinstance(loaded, Mapping):
            raise NotifyConfigError(f"{source}: expected a mapping of sections webhook, email, sms, retry")
        data = dict(loaded or {})
        unknown = set(data) - {"webhook", "email", "sms", "retry", "link_base"}
        if unknown:
            raise NotifyConfigError(f"{source}: unknown sections {sorted(unknown)}")
        holds_secret = any(
            isinstance(data.get(s), Mapping) and any(data[s].get(k) for k in _SECRET_KEYS)
            for s in ("webhook", "email", "sms")
        )
        mode = stat.S_IMODE(path.stat().st_mode)
        if holds_secret and mode & 0o077:
            raise NotifyConfigError(
                f"{source}: permissions {mode:04o} let other users read its secrets; "
                f"expected 0600 (chmod 600 {path}), or name them by environment variable (*_env)"
            )

    wh = _section(data, "webhook", source)
    secret = _secret(wh, "secret", env, "ANJU_NOTIFY_WEBHOOK_SECRET", f"{source}: webhook")
    webhook = WebhookSettings(
        secret=secret.encode("utf-8") if secret else None,
        timeout_s=_number(wh.get("timeout_s", 5.0), f"{source}: webhook.timeout_s", minimum=0.1),
    )

    em = _section(data, "email", source)
    for key, var in (
        ("host", "ANJU_NOTIFY_SMTP_HOST"),
        ("port", "ANJU_NOTIFY_SMTP_PORT"),
        ("username", "ANJU_NOTIFY_SMTP_USER"),
        ("sender", "ANJU_NOTIFY_SMTP_FROM"),
        ("starttls", "ANJU_NOTIFY_SMTP_STARTTLS"),
    ):
        if env.get(var):
            em[key] = env[var]
    email: SmtpSettings | None = None
    password = _secret(em, "password", env, "ANJU_NOTIFY_SMTP_PASSWORD", f"{source}: email")
    if em.get("host"):
        where = f"{source}: email"
        sender = em.get("sender") or em.get("username")
        if not sender:
            raise NotifyConfigError(f"{where}.sender: required (the From address)")
        try:
            port = int(em.get("port", 25))
        except (TypeError, ValueError):
            raise NotifyConfigError(f"{where}.port: expected a port number") from None
        email = SmtpSettings(
            host=str(em["host"]),
            port=port,
            sender=str(sender),
            starttls=_flag(em.get("starttls", False), f"{where}.starttls"),
            tls=_flag(em.get("tls", False), f"{where}.tls"),
            username=str(em["username"]) if em.get("username") else None,
            password=password,
            timeout_s=_number(em.get("timeout_s", 10.0), f"{where}.timeout_s", minimum=0.1),
        )

    sm = _section(data, "sms", source)
    if env.get("ANJU_NOTIFY_SMS_URL"):
        sm["url"] = env["ANJU_NOTIFY_SMS_URL"]
    sms: HttpSmsSettings | None = None
    sms_key = _secret(sm, "key", env, "ANJU_NOTIFY_SMS_KEY", f"{source}: sms")
    if sm.get("url"):
        where = f"{source}: sms"
        url = str(sm["url"])
        if not url.startswith(("https://", "http://")):
            raise NotifyConfigError(f"{where}.url: expected an http:// or https:// URL")
        body = sm.get("body", {"phone": "{phone}", "text": "{text}"})
        if not isinstance(body, Mapping):
            raise NotifyConfigError(f"{where}.body: expected a mapping (the JSON body template)")
        success_values = sm.get("success_values", [])
        if not isinstance(success_values, list):
            raise NotifyConfigError(f"{where}.success_values: expected a list")
        sms = HttpSmsSettings(
            url=url,
            key=sms_key,
            body=dict(body),
            # `auth_header: null` (or "") for a gateway that takes the key in the body instead.
            auth_header=str(sm.get("auth_header", "Authorization"))
            if sm.get("auth_header", "Authorization")
            else None,
            auth_value=str(sm.get("auth_value", "Bearer {key}")),
            success_field=str(sm["success_field"]) if sm.get("success_field") else None,
            success_values=tuple(str(v) for v in success_values),
            reference_field=str(sm["reference_field"]) if sm.get("reference_field") else None,
            timeout_s=_number(sm.get("timeout_s", 5.0), f"{where}.timeout_s", minimum=0.1),
            max_chars=int(_number(sm.get("max_chars", 300), f"{where}.max_chars", minimum=20, integer=True)),
        )

    rt = _section(data, "retry", source)
    where = f"{source}: retry"
    retry = RetryPolicy(
        max_attempts=int(
            _number(rt.get("max_attempts", 5), f"{where}.max_attempts", minimum=1, integer=True)
        ),
        first_delay=timedelta(seconds=_number(rt.get("first_delay_s", 30), f"{where}.first_delay_s")),
        factor=_number(rt.get("factor", 2.0), f"{where}.factor", minimum=1.0),
        max_delay=timedelta(seconds=_number(rt.get("max_delay_s", 3600), f"{where}.max_delay_s")),
    )
    link_base = str(env.get("ANJU_NOTIFY_LINK_BASE") or data.get("link_base") or "")
    return NotifyConfig(webhook=webhook, email=email, sms=sms, retry=retry, link_base=link_base)


# ---- the notifier ------------------------------------------------------------------------------------
@dataclass
class DeliveryCounts:
    sent: int = 0
    retrying: int = 0  # failed this time, another attempt scheduled
    failed: int = 0  # gave up (attempts exhausted, permanent error, no such channel)
    skipped: int = 0  # claimed by another sender first

    def to_json(self) -> dict[str, int]:
        return {"sent": self.sent, "retrying": self.retrying, "failed": self.failed, "skipped": self.skipped}


class Notifier:
    """Queues notifications as rows and delivers them when due. Call `deliver_due` from a scheduler."""

    def __init__(
        self,
        services: Services,
        channels: Mapping[str, Channel],
        clock: Clock | None = None,
        *,
        retry: RetryPolicy | None = None,
        link_base: str = "",
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self.services = services
        self.channels = dict(channels)
        self.clock: Clock = clock or services.pipeline.clock
        self.retry = retry or RetryPolicy()
        self.link_base = link_base
        # Longer than any channel's timeout: a claimed row is not sent twice while its send is running.
        self.lease = lease
        self.table = services.db.table("notification")
        self.engine = services.db.engine
        self.cipher: FieldCipher = services.protector.cipher

    @classmethod
    def from_config(cls, services: Services, config: NotifyConfig, clock: Clock | None = None) -> Notifier:
        return cls(
            services,
            config.channels(clock=clock or utcnow),
            clock,
            retry=config.retry,
            link_base=config.link_base,
        )

    # ---- queueing -----------------------------------------------------------------------------------
    def notify(
        self,
        alarm_id: int | None,
        purpose: str,
        contacts: Sequence[Contact],
        message: Message,
        *,
        occasion: str = "raised",
        conn: Connection | None = None,
    ) -> list[int]:
        """One pending notification per contact and channel address; returns their keys.

        Idempotent per (alarm, occasion, purpose, contact, channel): an alarm event handled twice queues
        nothing the second time. Pass `conn` to queue inside the caller's transaction (the alarm's own
        write), so that the notification exists exactly when the alarm does."""
        if conn is not None:
            return self._queue(conn, alarm_id, purpose, contacts, message, occasion)
        with self.engine.connect().execution_options(**WRITE_OPTIONS) as own, own.begin():
            return self._queue(own, alarm_id, purpose, contacts, message, occasion)

    def _queue(
        self,
        conn: Connection,
        alarm_id: int | None,
        purpose: str,
        contacts: Sequence[Contact],
        message: Message,
        occasion: str,
    ) -> list[int]:
        t = self.table
        now = _naive(self.clock())
        existing: set[str] = set()
        if alarm_id is not None:
            for payload in conn.execute(select(t.c.payload).where(t.c.alarm_id == alarm_id)).scalars():
                if isinstance(payload, Mapping) and payload.get("key"):
                    existing.add(str(payload["key"]))
        created: list[int] = []
        per_channel: dict[str, int] = defaultdict(int)
        unavailable: dict[str, int] = defaultdict(int)
        for contact in contacts:
            for channel, target in contact.targets():
                key = f"{alarm_id}:{occasion}:{purpose}:{contact.key}:{channel}"
                if key in existing:
                    continue
                existing.add(key)
                ready = channel in self.channels
                payload = {
                    "key": key,
                    "occasion": occasion,
                    "contact": contact.key,
                    "contact_masked": mask("name", contact.name) if contact.name else None,
                    "relation": contact.relation,
                    **message.to_payload(),
                }
                inserted = conn.execute(
                    insert(t).values(
                        alarm_id=alarm_id,
                        channel=channel,
                        target="",
                        target_masked=mask_target(channel, target)[:200],
                        purpose=purpose[:40],
                        payload=payload,
                        status="pending" if ready else "failed",
                        attempts=0,
                        last_error=None
                        if ready
                        else f"通道 {channel} 未配置 / channel {channel} is not configured",
                        next_attempt_at=now if ready else None,
                        created_at=now,
                    )
                ).inserted_primary_key
                assert inserted is not None
                pk = int(inserted[0])
                # Sealed under the key the insert just returned: see the module's docstring.
                conn.execute(
                    update(t)
                    .where(t.c.pk == pk)
                    .values(target=self.cipher.encrypt_text(target, SEALED_TABLE, SEALED_COLUMN, str(pk)))
                )
                created.append(pk)
                (per_channel if ready else unavailable)[channel] += 1
        if created:
            self.services.audit.append(
                conn,
                actor=ACTOR,
                action="alarms.notify.queue",
                target=f"alarm:{alarm_id}" if alarm_id is not None else "notification",
                detail={
                    "purpose": purpose,
                    "occasion": occasion,
                    "queued": dict(per_channel),
                    "unconfigured": dict(unavailable),
                },
            )
        return created

    def notify_linkage(
        self,
        alarm_id: int,
        linkage: AlarmLinkage,
        message: Message,
        *,
        occasion: str = "raised",
        conn: Connection | None = None,
    ) -> list[int]:
        """Queue the recipients of a linkage, grouped by their purpose."""
        groups: dict[str, list[Contact]] = defaultdict(list)
        for r in linkage.recipients:
            groups[r.purpose].append(r.contact)
        created: list[int] = []
        for purpose, contacts in groups.items():
            created += self.notify(alarm_id, purpose, contacts, message, occasion=occasion, conn=conn)
        return created

    def notify_alarm(
        self,
        linkage: Linkage,
        alarm_id: int,
        *,
        occasion: str = "raised",
        level: int | None = None,
        nth: int | None = None,
    ) -> list[int]:
        """Queue the notifications of a stored alarm on an occasion: `raised` (duty officer, and the
        caller's emergency contacts for an emergency call), `escalated` (the duty officers of `level`,
        default the alarm's escalation level) or `reminder`. `nth` tells repeated occasions apart
        (the reminder count; escalations default to the level), so each is queued once."""
        alarm_t = self.services.db.table("alarm")
        with self.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            row = conn.execute(select(alarm_t).where(alarm_t.c.id == alarm_id)).first()
            if row is None:
                raise LookupError(f"alarm {alarm_id} does not exist")
            alarm = dict(row._mapping)
            linked = linkage.for_alarm(conn, alarm, occasion=occasion, level=level, at=self.clock())
            message = alarm_message(
                alarm, timezone=self.services.settings.timezone, link_base=self.link_base, occasion=occasion
            )
            if nth is None and occasion == "escalated":
                nth = level if level is not None else int(alarm.get("escalation_level") or 0)
            elif nth is None and occasion == "reminder":
                nth = int(alarm.get("reminders") or 0)
            tag = occasion if nth is None else f"{occasion}:{nth}"
            return self.notify_linkage(alarm_id, linked, message, occasion=tag, conn=conn)

    # ---- delivering ---------------------------------------------------------------------------------
    def deliver_due(self, now: datetime | None = None, *, limit: int = 100) -> DeliveryCounts:
        """Send the pending notifications whose time has come, oldest first; record each outcome."""
        now = now or self.clock()
        at = _naive(now)
        t = self.table
        counts = DeliveryCounts()
        with self.engine.connect() as conn:
            due = conn.execute(
                select(t.c.pk, t.c.attempts)
                .where(t.c.status == "pending", t.c.next_attempt_at <= at)
                .order_by(t.c.next_attempt_at, t.c.pk)
                .limit(limit)
            ).all()
        for pk, attempts in due:
            row = self._claim(pk, attempts, at)
            if row is None:
                counts.skipped += 1
                continue
            channel_name = row.channel
            try:
                target = self.cipher.decrypt_text(row.target, SEALED_TABLE, SEALED_COLUMN, str(pk))
            except DecryptionError:
                # A key version missing from the key file, or a row edited behind the application's back.
                target = ""
            message = Message.from_payload(row.payload or {}, delivery_id=str(pk))
            channel = self.channels.get(channel_name)
            if not target:
                delivery = Delivery(False, "the sealed target cannot be opened", permanent=True)
            elif channel is None:
                delivery = Delivery(False, f"channel {channel_name} is not configured", permanent=True)
            else:
                try:
                    delivery = channel.send(target, message)
                except Exception as exc:  # a channel's bug must not stop the other deliveries
                    log.exception("notification %s: channel %s raised", pk, channel_name)
                    delivery = Delivery(False, f"{type(exc).__name__}: {exc}")
            if not delivery.ok:
                delivery = replace(
                    delivery, error=clean_error(delivery.error or "failed", target, channel_name)
                )
            outcome = self._record(pk, row, attempts + 1, delivery, now)
            if outcome == "sent":
                counts.sent += 1
            elif outcome == "pending":
                counts.retrying += 1
            else:
                counts.failed += 1
        return counts

    def _claim(self, pk: int, attempts: int, at: datetime) -> Any:
        """Take a due row for this sender: count the attempt and push its next attempt out by the lease.
        The attempts count is the row's version, so of two senders only one claims it."""
        t = self.table
        with self.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            done = conn.execute(
                update(t)
                .where(t.c.pk == pk, t.c.status == "pending", t.c.attempts == attempts)
                .values(attempts=attempts + 1, next_attempt_at=at + self.lease)
            )
            if done.rowcount != 1:
                return None
            return conn.execute(
                select(
                    t.c.alarm_id, t.c.channel, t.c.target, t.c.target_masked, t.c.purpose, t.c.payload
                ).where(t.c.pk == pk)
            ).first()

    def _record(self, pk: int, row: Any, attempts: int, delivery: Delivery, now: datetime) -> str:
        t = self.table
        at = _naive(now)
        values: dict[str, Any]
        if delivery.ok:
            status, values = (
                "sent",
                {"status": "sent", "sent_at": at, "last_error": None, "next_attempt_at": None},
            )
        elif delivery.permanent or attempts >= self.retry.max_attempts:
            status = "failed"
            values = {"status": "failed", "last_error": delivery.error, "next_attempt_at": None}
        else:
            status = "pending"
            values = {
                "status": "pending",
                "last_error": delivery.error,
                "next_attempt_at": at + self.retry.delay(attempts),
            }
        detail: dict[str, Any] = {
            "alarm_id": row.alarm_id,
            "channel": row.channel,
            "purpose": row.purpose,
            "target": row.target_masked,
            "attempt": attempts,
            "status": status,
        }
        if delivery.reference:
            detail["reference"] = clean_error(delivery.reference, "", row.channel)[:100]
        if not delivery.ok:
            detail["error"] = delivery.error
            if status == "pending":
                detail["next_attempt_at"] = values["next_attempt_at"].isoformat() + "Z"
        with self.engine.connect().execution_options(**WRITE_OPTIONS) as conn, conn.begin():
            conn.execute(update(t).where(t.c.pk == pk).values(**values))
            action = {"sent": "alarms.notify.sent", "pending": "alarms.notify.retry"}.get(
                status, "alarms.notify.failed"
            )
            self.services.audit.append(
                conn, actor=ACTOR, action=action, target=f"notification:{pk}", detail=detail
            )
        return status

    # ---- reading ------------------------------------------------------------------------------------
    def summary(self, pks: Sequence[int], *, occasion: str) -> dict[str, Any]:
        """Who was queued, for an alarm's history: purposes, channels and masked targets only."""
        t = self.table
        with self.engine.connect() as conn:
            found = conn.execute(
                select(t.c.pk, t.c.purpose, t.c.channel, t.c.target_masked, t.c.status)
                .where(t.c.pk.in_(list(pks)))
                .order_by(t.c.pk)
            ).all()
        return {
            "occasion": occasion,
            "notifications": [
                {
                    "id": r.pk,
                    "purpose": r.purpose,
                    "channel": r.channel,
                    "target": r.target_masked,
                    "status": r.status,
                }
                for r in found
            ],
        }

    def target_of(self, conn: Connection, pk: int) -> str:
        """The opened target of a notification (for a privileged view; callers audit the unmask)."""
        t = self.table
        stored = conn.execute(select(t.c.target).where(t.c.pk == pk)).scalar_one()
        return self.cipher.decrypt_text(stored, SEALED_TABLE, SEALED_COLUMN, str(pk))

    def close(self) -> None:
        for channel in self.channels.values():
            close = getattr(channel, "close", None)
            if callable(close):
                close()


class _Change(Protocol):
    """What the alarm events hub publishes (events.AlarmChange), as far as notifications need it."""

    @property
    def alarm_id(self) -> int: ...
    @property
    def change(self) -> str: ...


# Alarm changes that notify someone, and the occasion each is.
CHANGE_OCCASIONS = {"created": "raised", "escalated": "escalated", "reminded": "reminder"}


class AlarmNotifications:
    """The glue between the alarm events hub and the notifier: a created alarm notifies the duty officer
    (and an emergency call the caller's contacts), an escalation the next level, a reminder the current
    one. Run `handle` off the writer's thread (a hub `Subscription` drained by a worker), because it
    reads and writes the database."""

    def __init__(
        self,
        notifier: Notifier,
        linkage: Linkage,
        *,
        on_queued: Callable[[int, dict[str, Any]], object] | None = None,
    ) -> None:
        self.notifier = notifier
        self.linkage = linkage
        # E.g. the alarm store's `record_notified`, so that the alarm's history says who was told.
        self.on_queued = on_queued

    def handle(self, change: _Change) -> list[int]:
        occasion = CHANGE_OCCASIONS.get(change.change)
        if occasion is None:
            return []
        try:
            created = self.notifier.notify_alarm(self.linkage, change.alarm_id, occasion=occasion)
        except LookupError:
            log.warning("alarm %s changed (%s) but is not stored", change.alarm_id, change.change)
            return []
        if created and self.on_queued is not None:
            self.on_queued(change.alarm_id, self.notifier.summary(created, occasion=occasion))
        return created


def reseal_target(cipher: FieldCipher, current_version: int, pk: int, stored: str) -> str | None:
    """The target re-encrypted under the current key version, or None when it already is (for key
    rotation, which walks the notification table by `pk`)."""
    if not stored or FieldCipher.version_of(stored) == current_version:
        return None
    plain = cipher.decrypt_text(stored, SEALED_TABLE, SEALED_COLUMN, str(pk))
    return cipher.encrypt_text(plain, SEALED_TABLE, SEALED_COLUMN, str(pk))


__all__ = [
    "CHANGE_OCCASIONS",
    "CHANNELS",
    "AlarmNotifications",
    "Channel",
    "Delivery",
    "DeliveryCounts",
    "EmailChannel",
    "HttpSmsGateway",
    "HttpSmsSettings",
    "Message",
    "Notifier",
    "NotifyConfig",
    "NotifyConfigError",
    "RetryPolicy",
    "SmsChannel",
    "SmsGateway",
    "SmtpSettings",
    "WebhookChannel",
    "WebhookSettings",
    "alarm_message",
    "clean_error",
    "load_notify_config",
    "mask_target",
    "reseal_target",
    "sign",
    "verify_signature",
]
