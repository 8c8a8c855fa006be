"""CAP 1.2 warnings validate against the official OASIS XSD shipped in the package, and round-trip."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from anju.emergency.cap import CapWarning, from_cap, schema, to_cap, validate
from anju.emergency.catalog import DATA, EmergencyError, catalog

SENT = datetime(2026, 11, 30, 1, 0, 5, 123456, tzinfo=UTC)
WARNING = CapWarning(
    identifier="ANJU-C1-20261130-0001",
    sender="anju@c1.example.cn",
    sent=SENT,
    status="Exercise",
    msg_type="Alert",
    event="消防疏散演练",
    category=str(catalog().hazards["fire"].extra["cap"]),
    urgency="Immediate",
    severity="Severe",
    certainty="Observed",
    headline="幸福里 3 栋火灾疏散演练",
    description="3 栋 5 楼厨房起火（演练），浓烟进入楼道",
    instruction="请 3 栋居民沿楼梯疏散至中心广场避难点，勿乘电梯",
    area_desc="幸福里小区 3 栋",
    sender_name="幸福社区居委会",
    expires=SENT + timedelta(hours=2),
)


def test_the_shipped_schema_is_the_official_one() -> None:
    text = (DATA / "CAP-v1.2.xsd").read_bytes()
    assert b'targetNamespace = "urn:oasis:names:tc:emergency:cap:1.2"' in text
    assert b"Copyright OASIS Open 2010" in text
    assert (
        hashlib.sha256(text).hexdigest() == "b7798ef25868b068c97b268bda02d067c7d4ba9373adc5638bf37105804ee723"
    )
    assert schema() is schema()


def test_export_validates_and_round_trips() -> None:
    doc = to_cap(WARNING)
    validate(doc)
    assert b"<status>Exercise</status>" in doc and b"<sent>2026-11-30T09:00:05+08:00</sent>" in doc
    back = from_cap(doc)
    assert back == replace(WARNING, sent=SENT.replace(microsecond=0), expires=back.expires)
    assert back.expires == (SENT + timedelta(hours=2)).replace(microsecond=0)
    assert to_cap(back) == doc


def test_update_and_cancel_refer_to_the_original() -> None:
    update = replace(
        WARNING,
        identifier="ANJU-C1-20261130-0002",
        msg_type="Update",
        references=(WARNING.reference(),),
        sent=SENT + timedelta(minutes=10),
        headline="演练：疏散改至幼儿园操场",
    )
    cancel = replace(
        update,
        identifier="ANJU-C1-20261130-0003",
        msg_type="Cancel",
        references=(WARNING.reference(), update.reference()),
        sent=SENT + timedelta(minutes=30),
    )
    for w in (update, cancel):
        back = from_cap(to_cap(w))
        assert back.msg_type == w.msg_type and back.references == w.references
    assert WARNING.reference() == "anju@c1.example.cn,ANJU-C1-20261130-0001,2026-11-30T09:00:05+08:00"
    with pytest.raises(EmergencyError) as err:
        to_cap(replace(WARNING, msg_type="Cancel"))
    assert err.value.field == "references"


def test_invalid_documents_are_refused_with_the_schema_finding() -> None:
    doc = to_cap(WARNING).replace(b"<status>Exercise</status>", b"<status>Rehearsal</status>")
    with pytest.raises(EmergencyError) as err:
        from_cap(doc)
    assert err.value.field == "cap" and "status" in str(err.value.value) and "CAP 1.2 XSD" in err.value.en
    with pytest.raises(EmergencyError):
        to_cap(replace(WARNING, urgency="Soon"))
    with pytest.raises(EmergencyError) as err:
        to_cap(replace(WARNING, identifier="has space"))
    assert err.value.field == "identifier"
