"""The MQTT topics devices publish on, and the gateway's shared subscription to them.

    anju/{estate}/{record_type}/{device_id}    one record (JSON object) or several (JSON array, NDJSON)
    anju/{estate}/heartbeat/{device_id}        "I am alive", any payload

`estate` is an estate code (1-40 letters, digits, _ or -), `record_type` a record type's slug
(`anju standard list`), `device_id` the device's registered ID. A topic level cannot hold `/`, `+` or `#`,
so a device whose ID contains one of them cannot publish over MQTT. The root `anju` can be changed (a
broker shared by several deployments, tests that must not see each other's messages).
"""

from __future__ import annotations

from dataclasses import dataclass

from anju.ingest.pipeline import ESTATE_CODE
from anju.registry.devices import DeviceRefused, check_device_id
from anju.standard.spec import load_standard

ROOT = "anju"
HEARTBEAT = "heartbeat"
_GROUP_MAX = 64
_ROOT_MAX = 200


class TopicError(ValueError):
    """A topic the gateway cannot take a record from. `code` is the quarantine reason; `kind` and `estate`
    are the topic's record-type level and estate when they could be read (for the quarantine entry)."""

    def __init__(self, code: str, zh: str, en: str, *, kind: str | None = None, estate: str | None = None):
        super().__init__(f"{en} · {zh}")
        self.code, self.zh, self.en, self.kind, self.estate = code, zh, en, kind, estate


@dataclass(frozen=True, slots=True)
class Topic:
    text: str
    estate: str
    kind: str  # a record type's slug, or "heartbeat"
    device_id: str

    @property
    def is_heartbeat(self) -> bool:
        return self.kind == HEARTBEAT


def check_root(root: str) -> str:
    if (
        not root
        or len(root) > _ROOT_MAX
        or any(c in root for c in "+#")
        or root.startswith("$")
        or "" in root.split("/")
        or not root.isprintable()
    ):
        raise ValueError(
            f"topic root {root[:80]!r} is invalid: expected topic levels without '+', '#', empty levels or "
            "a leading '$' · 主题根无效"
        )
    return root


def topic_filter(root: str = ROOT) -> str:
    """Every estate, every kind, every device: one level each."""
    return f"{check_root(root)}/+/+/+"


def shared_filter(group: str, root: str = ROOT) -> str:
    """The MQTT 5 shared subscription of a gateway group: the broker hands each message to one member."""
    if (
        not group
        or len(group) > _GROUP_MAX
        or any(c in group for c in "/+#")
        or not group.isprintable()
        or group != group.strip()
    ):
        raise ValueError(
            f"gateway group {group[:80]!r} is invalid: expected 1-{_GROUP_MAX} printable characters "
            "without '/', '+', '#' or surrounding spaces · 网关组名无效"
        )
    return f"$share/{group}/{topic_filter(root)}"


def record_topic(estate: str, record_type: str, device_id: str, root: str = ROOT) -> str:
    return f"{root}/{estate}/{record_type}/{device_id}"


def heartbeat_topic(estate: str, device_id: str, root: str = ROOT) -> str:
    return f"{root}/{estate}/{HEARTBEAT}/{device_id}"


def parse_topic(text: str, root: str = ROOT) -> Topic:
    """The parts of a device topic, each checked; TopicError says what is wrong (code `topic_invalid` or
    `type_unknown`). The device's registration is the gateway's check, not this one's."""
    parts = text.removeprefix(f"{root}/").split("/") if text.startswith(f"{root}/") else []
    if len(parts) != 3:
        raise TopicError(
            "topic_invalid",
            f"主题 {text[:120]!r} 不是 {root}/小区/记录类型/设备编号 形式",
            f"topic {text[:120]!r} is not of the form {root}/estate/record_type/device_id",
        )
    estate, kind, device = parts
    known_kind = kind == HEARTBEAT or kind in load_standard()
    shown_kind = kind[:40] if kind else None
    if not ESTATE_CODE.match(estate):
        raise TopicError(
            "topic_invalid",
            f"主题中的小区编号 {estate[:60]!r} 无效：应为 1-40 位字母、数字、_ 或 -",
            f"the topic's estate {estate[:60]!r} is invalid: expected 1-40 letters, digits, _ or -",
            kind=shown_kind,
        )
    try:
        device_ok = check_device_id(device) == device
    except DeviceRefused:
        device_ok = False
    if not device_ok:
        raise TopicError(
            "topic_invalid",
            f"主题中的设备编号 {device[:60]!r} 无效：应为 1-40 个可打印字符，首尾无空格",
            f"the topic's device ID {device[:60]!r} is invalid: expected 1-40 printable characters "
            "without surrounding spaces",
            kind=shown_kind,
            estate=estate,
        )
    if not known_kind:
        raise TopicError(
            "type_unknown",
            f"主题中的记录类型 {kind[:60]!r} 不存在（见 anju standard list）",
            f"the topic's record type {kind[:60]!r} does not exist (see anju standard list)",
            kind=shown_kind or "?",
            estate=estate,
        )
    return Topic(text, estate, kind, device)
