"""Channel adapters: how a published notice reaches each of the seven channels of SE71.1.

    webhook  HTTP POST of the notice as JSON (alarms/notify.py's WebhookChannel: timeout, optional
             HMAC-SM3 signature); 2xx is `sent`, anything else `failed` with the answer recorded
    screen   the notice written as JSON to $ANJU_DATA_DIR/screens/<channel>/<region>/notice-<id>.json,
             the folder an electronic screen's controller plays from; written then renamed (atomic)
    manual   staff post it by hand (radio, bulletin board): `pending_confirmation` until someone confirms

Per-deployment configuration: `$ANJU_DATA_DIR/notice_channels.yaml` (optional)

    position: {lon: 114.30, lat: 30.60}     # where notices are published when the region has no centre
    channels:
      portal_website: {adapter: webhook, url: "https://portal.example/api/notices", timeout_s: 5,
               secret_env: ANJU_NOTICE_PORTAL_SECRET}
      electronic_screen: {adapter: screen, dir: screens}
      community_radio: {adapter: manual}

A channel left out uses the adapter channels.yaml names; a webhook channel without a URL is manual.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from anju.alarms.notify import Message, WebhookChannel, WebhookSettings
from anju.notices.catalog import Entry, NoticeError, catalog
from anju.yamlfiles import load_yaml

CONFIG_FILE = "notice_channels.yaml"
_KEYS = {"adapter", "url", "timeout_s", "secret_env", "dir"}


@dataclass(frozen=True)
class ChannelConfig:
    key: str
    adapter: str  # webhook | screen | manual
    url: str | None = None
    timeout_s: float = 5.0
    secret: bytes | None = field(default=None, repr=False)
    folder: str = "screens"


@dataclass(frozen=True)
class DeploymentConfig:
    channels: dict[str, ChannelConfig]
    position: tuple[float, float] | None


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | failed | pending_confirmation
    detail: str | None


def _bad(path: Path, where: str, expected_zh: str, expected_en: str, value: Any) -> NoticeError:
    return NoticeError(
        "channel_config_invalid",
        where,
        value,
        f"{path}：{where}（{value!r}）无效，应为{expected_zh}",
        f"{path}: {where}={value!r}: expected {expected_en}",
        status=500,
    )


def load_config(data_dir: Path, env: Mapping[str, str] | None = None) -> DeploymentConfig:
    env = os.environ if env is None else env
    path = data_dir / CONFIG_FILE
    raw: dict[str, Any] = {}
    if path.exists():
        loaded = load_yaml(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise _bad(path, "(file)", "映射", "a mapping with channels and position", type(loaded).__name__)
        raw = loaded
    known = catalog().channels
    given = raw.get("channels") or {}
    if not isinstance(given, dict):
        raise _bad(path, "channels", "映射", "a mapping of channel keys", given)
    out: dict[str, ChannelConfig] = {}
    for key, entry in known.items():
        spec = given.get(key) or {}
        if not isinstance(spec, dict) or set(spec) - _KEYS:
            raise _bad(path, f"channels.{key}", f"键 {sorted(_KEYS)}", f"keys among {sorted(_KEYS)}", spec)
        adapter = str(spec.get("adapter", entry.extra["adapter"]))
        if adapter not in ("webhook", "screen", "manual"):
            raise _bad(
                path,
                f"channels.{key}.adapter",
                "webhook、screen 或 manual",
                "webhook, screen or manual",
                adapter,
            )
        timeout = spec.get("timeout_s", 5.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 60:
            raise _bad(
                path, f"channels.{key}.timeout_s", "0 到 60 秒", "seconds, above 0 and at most 60", timeout
            )
        secret_env = spec.get("secret_env")
        secret = env.get(str(secret_env)) if secret_env else None
        url = spec.get("url")
        if adapter == "webhook" and not url:
            adapter = "manual"  # nothing to post to: staff publish it by hand
        out[key] = ChannelConfig(
            key,
            adapter,
            url=None if url is None else str(url),
            timeout_s=float(timeout),
            secret=secret.encode() if secret else None,
            folder=str(spec.get("dir", "screens")),
        )
    unknown = set(given) - set(known)
    if unknown:
        raise _bad(
            path,
            "channels",
            f"已知渠道 {', '.join(known)}",
            f"known channels {', '.join(known)}",
            sorted(unknown),
        )
    position = raw.get("position")
    where: tuple[float, float] | None = None
    if position is not None:
        try:
            where = (float(position["lon"]), float(position["lat"]))
        except (KeyError, TypeError, ValueError):
            raise _bad(path, "position", "{lon: 经度, lat: 纬度}", "{lon: …, lat: …}", position) from None
    return DeploymentConfig(out, where)


def payload(notice: Mapping[str, Any], channel: Entry) -> dict[str, Any]:
    """What an adapter sends: the notice without anything personal (who drafted it is not included)."""
    return {
        "notice": notice["id"],
        "channel": channel.key,
        "channel_code": channel.extra["code"],
        "region": notice["region"],
        "title": notice["title"],
        "body": notice["body"],
        "category": notice["category"],
        "audience": notice["audience"],
        "published_at": notice["published_at"],
        "expires_at": notice["expires_at"],
    }


def deliver(config: ChannelConfig, channel: Entry, data_dir: Path, body: dict[str, Any]) -> Outcome:
    if config.adapter == "manual":
        return Outcome("pending_confirmation", "待人工发布并确认 / to be posted by hand and confirmed")
    if config.adapter == "screen":
        folder = data_dir / config.folder / channel.key / str(body["region"])
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"notice-{body['notice']}.json"
        partial = target.with_suffix(".tmp")
        partial.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
        partial.replace(target)
        return Outcome("sent", f"file {target.relative_to(data_dir)}")
    assert config.url is not None
    webhook = WebhookChannel(WebhookSettings(secret=config.secret, timeout_s=config.timeout_s))
    try:
        result = webhook.send(
            config.url,
            Message(
                subject=str(body["title"]),
                text=str(body["body"]),
                short=str(body["title"])[:60],
                data=body,
                delivery_id=f"notice-{body['notice']}-{channel.key}",
            ),
        )
    finally:
        webhook.close()
    if result.ok:
        return Outcome("sent", result.reference)
    return Outcome("failed", (result.error or "failed")[:500])
