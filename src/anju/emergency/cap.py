"""Warnings as CAP 1.2 (OASIS Common Alerting Protocol, urn:oasis:names:tc:emergency:cap:1.2).

Export builds the XML and validates it against the official OASIS schema shipped in
`emergency/data/CAP-v1.2.xsd` (copied unchanged from docs.oasis-open.org/emergency/cap/v1.2/CAP-v1.2.xsd,
via the IBM/cap repository's resources/CAP-v1.2.xsd); import validates first, then reads. A drill's warning
carries status Exercise; an Update or Cancel names the messages it refers to in `references`
("sender,identifier,sent" each, CAP 1.2 3.2.1), and must have at least one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from lxml import etree

from anju.emergency.catalog import DATA, EmergencyError

NS = "urn:oasis:names:tc:emergency:cap:1.2"
STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel")
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
EXERCISE_NOTE = "演练 / exercise"
_SHANGHAI = ZoneInfo("Asia/Shanghai")


@cache
def schema() -> etree.XMLSchema:
    with (DATA / "CAP-v1.2.xsd").open("rb") as f:
        return etree.XMLSchema(etree.parse(f))


@dataclass(frozen=True)
class CapWarning:
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    event: str
    category: str  # CAP category (hazards.yaml `cap`)
    urgency: str
    severity: str
    certainty: str
    headline: str
    description: str
    instruction: str
    area_desc: str
    references: tuple[str, ...] = ()
    language: str = "zh-CN"
    sender_name: str | None = None
    expires: datetime | None = None
    note: str | None = None  # <note>: why a Cancel was sent, what an exercise is; Exercise has a default

    def reference(self) -> str:
        """How another message refers to this one."""
        return f"{self.sender},{self.identifier},{_time(self.sent)}"


def referenced_identifiers(references: tuple[str, ...]) -> list[str]:
    """The identifiers named by `references` ("sender,identifier,sent" each)."""
    return [r.split(",")[1] for r in references if r.count(",") == 2]


def _time(t: datetime) -> str:
    if t.tzinfo is None:
        raise EmergencyError.bad("sent", t.isoformat(), "带时区的时间", "a time with an offset")
    # CAP's pattern: seconds, no fraction, a numeric offset (no Z).
    return t.astimezone(_SHANGHAI).replace(microsecond=0).isoformat()


def _check(w: CapWarning) -> None:
    if w.status not in STATUSES:
        raise EmergencyError.bad("status", w.status, "、".join(STATUSES), ", ".join(STATUSES))
    if w.msg_type not in MSG_TYPES:
        raise EmergencyError.bad("msg_type", w.msg_type, "、".join(MSG_TYPES), ", ".join(MSG_TYPES))
    if w.msg_type in ("Update", "Cancel") and not w.references:
        raise EmergencyError.bad(
            "references",
            "",
            f"{w.msg_type} 消息所指的原消息（sender,identifier,sent）",
            f"the messages this {w.msg_type} refers to (sender,identifier,sent)",
        )
    for ref in w.references:
        if ref.count(",") != 2 or " " in ref:
            raise EmergencyError.bad(
                "references",
                ref,
                "sender,identifier,sent 形式的引用",
                "a reference of the form sender,identifier,sent",
            )
    for name in ("identifier", "sender"):
        value = getattr(w, name)
        if not value or any(c in value for c in " ,<&"):
            raise EmergencyError.bad(
                name,
                value,
                "不含空格、逗号、< 和 & 的非空文本",
                "a non-empty text without spaces, commas, < or &",
            )


def to_cap(w: CapWarning) -> bytes:
    """The warning as a CAP 1.2 document, validated against the official schema."""
    _check(w)
    alert = etree.fromstring(f'<alert xmlns="{NS}"/>'.encode())

    def sub(parent: etree._Element, tag: str, value: str | None) -> None:
        if value is not None:
            etree.SubElement(parent, f"{{{NS}}}{tag}").text = value

    sub(alert, "identifier", w.identifier)
    sub(alert, "sender", w.sender)
    sub(alert, "sent", _time(w.sent))
    sub(alert, "status", w.status)
    sub(alert, "msgType", w.msg_type)
    sub(alert, "scope", "Public")
    sub(alert, "note", w.note or (EXERCISE_NOTE if w.status == "Exercise" else None))
    if w.references:
        sub(alert, "references", " ".join(w.references))
    info = etree.SubElement(alert, f"{{{NS}}}info")
    sub(info, "language", w.language)
    sub(info, "category", w.category)
    sub(info, "event", w.event)
    sub(info, "urgency", w.urgency)
    sub(info, "severity", w.severity)
    sub(info, "certainty", w.certainty)
    sub(info, "expires", None if w.expires is None else _time(w.expires))
    sub(info, "senderName", w.sender_name)
    sub(info, "headline", w.headline)
    sub(info, "description", w.description)
    sub(info, "instruction", w.instruction)
    area = etree.SubElement(info, f"{{{NS}}}area")
    sub(area, "areaDesc", w.area_desc)
    doc = etree.tostring(alert, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    validate(doc)
    return doc


def validate(doc: bytes) -> etree._Element:
    """The parsed document, or an error naming the first schema violation and its line."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(doc, parser)
    except etree.XMLSyntaxError as exc:
        raise EmergencyError.bad("cap", str(exc)[:200], "格式正确的 XML", "well-formed XML") from None
    s = schema()
    if not s.validate(root):
        lines = str(s.error_log).splitlines()  # "<string>:LINE:COL:ERROR:SCHEMASV:…: message"
        where = lines[0].split(":", 1)[-1] if lines else "invalid"
        raise EmergencyError.bad(
            "cap",
            where[:300],
            "符合 OASIS CAP 1.2 XSD 的文档",
            "a document valid under the OASIS CAP 1.2 XSD",
        )
    return root


def from_cap(doc: bytes) -> CapWarning:
    """A CAP 1.2 document (validated) as a warning: the first <info> and its first <area>."""
    root = validate(doc)
    ns = {"c": NS}

    def get(node: etree._Element, path: str) -> str | None:
        found = node.find(path, ns)
        return None if found is None else found.text

    info = root.find("c:info", ns)
    if info is None:
        raise EmergencyError.bad("cap.info", None, "至少一个 info 元素", "at least one info element")
    expires = get(info, "c:expires")
    refs = get(root, "c:references")
    note = get(root, "c:note")
    return CapWarning(
        identifier=get(root, "c:identifier") or "",
        sender=get(root, "c:sender") or "",
        sent=datetime.fromisoformat(get(root, "c:sent") or ""),
        status=get(root, "c:status") or "",
        msg_type=get(root, "c:msgType") or "",
        event=get(info, "c:event") or "",
        category=get(info, "c:category") or "",
        urgency=get(info, "c:urgency") or "",
        severity=get(info, "c:severity") or "",
        certainty=get(info, "c:certainty") or "",
        headline=get(info, "c:headline") or "",
        description=get(info, "c:description") or "",
        instruction=get(info, "c:instruction") or "",
        area_desc=get(info, "c:area/c:areaDesc") or "",
        references=tuple(refs.split()) if refs else (),
        language=get(info, "c:language") or "en-US",
        sender_name=get(info, "c:senderName"),
        expires=None if expires is None else datetime.fromisoformat(expires),
        note=None if note == EXERCISE_NOTE else note,
    )
