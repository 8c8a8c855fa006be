"""Property-based tests: whatever arrives, the answer is a clear finding, never a crash, never a lost record.

Every record a batch receives is accounted for as stored, duplicate or quarantined, and every quarantined
payload is kept byte for byte.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anju.config import Settings
from anju.ingest.decode import decode_body
from anju.ingest.items import raw_bytes
from anju.services import Services
from anju.standard.dictionaries import load_dictionaries
from anju.standard.samples import SampleFactory
from anju.standard.spec import load_standard, record_type
from anju.standard.validate import RecordValidator, new_context

TYPES = list(load_standard())
DICTS = load_dictionaries()
NOW = datetime.now(UTC)


def _dumps(value: Any) -> bytes:
    """A request body; the standard library also writes integers beyond 64 bits, which senders do."""
    return json.dumps(value, ensure_ascii=False).encode()


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=50),
    # Huge strings built from a drawn length: random 20,000-character texts would exhaust hypothesis' entropy.
    st.tuples(st.integers(5000, 20000), st.sampled_from("长a0 ")).map(lambda t: t[1] * t[0]),
)
json_values = st.recursive(
    json_scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=20,
)


@st.composite
def damaged_record(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A valid record of a random type with some fields replaced by arbitrary JSON values or removed."""
    slug = draw(st.sampled_from(TYPES))
    rtype = record_type(slug)
    rec = SampleFactory(draw(st.integers(0, 10_000)), now=NOW, dictionaries=DICTS).record(
        rtype, draw(st.integers(0, 99))
    )
    codes = [f.code for f in rtype.fields]
    for code in draw(st.lists(st.sampled_from(codes), max_size=6, unique=True)):
        if draw(st.booleans()):
            rec[code] = draw(json_values)
        else:
            rec.pop(code, None)
    for key in draw(st.lists(st.text(max_size=12), max_size=3)):
        rec[key] = draw(json_values)
    return slug, rec


@settings(max_examples=400, deadline=None)
@given(damaged_record())
def test_validator_always_answers_with_findings(case: tuple[str, dict[str, Any]]) -> None:
    slug, rec = case
    validator = RecordValidator(record_type(slug), DICTS, Settings())
    out = validator.validate(rec, new_context(NOW, Settings()))
    if out.ok:
        assert out.row is not None and out.digest and out.record_id
    else:
        errors = [i for i in out.issues if i.severity == "error"]
        assert errors
        for issue in errors:
            assert issue.code and issue.message_zh and issue.message_en
            assert issue.value is None or len(issue.value) < 200  # long values are shortened in findings


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_decoder_never_raises_on_bytes(body: bytes) -> None:
    items = decode_body(body)
    for item in items:
        assert item.decoded or item.issues


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.binary(min_size=1, max_size=2000),
        st.lists(json_values, min_size=1, max_size=8).map(_dumps),
        st.lists(damaged_record(), min_size=1, max_size=8).map(lambda cases: _dumps([r for _, r in cases])),
        st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth),
        st.integers(1, 3000).map(lambda depth: b'{"ID": ' + b"[" * depth + b"]" * depth + b"}"),
    ),
    st.sampled_from(TYPES),
)
def test_pipeline_loses_nothing(sqlite_services: Services, body: bytes, slug: str) -> None:
    items = decode_body(body)
    result = sqlite_services.pipeline.ingest(slug, items, source="fuzz")
    assert result.received == len(items)
    assert result.accepted + result.duplicates + result.rejected == result.received
    kept = {item.index: item.raw for item in items}
    for rejected in result.rejects:
        entry = sqlite_services.quarantine.get(rejected.quarantine_id)
        assert entry is not None and entry.raw is not None and entry.raw_encoding is not None
        assert raw_bytes(entry.raw, entry.raw_encoding) == kept[rejected.index]
        assert rejected.errors and all(e["message_zh"] and e["message_en"] for e in rejected.errors)


def test_deep_json_and_huge_strings_get_clear_findings(sqlite_services: Services) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    result = sqlite_services.pipeline.ingest("notice", decode_body(deep), source="t")
    assert result.rejected == 1 and result.rejects[0].errors[0]["code"] == "json_invalid"
    rec = SampleFactory(1, now=NOW).record(record_type("notice"), 0)
    rec["FB_NR"] = "长" * 1_000_000
    result = sqlite_services.pipeline.ingest("notice", decode_body(orjson.dumps([rec])), source="t")
    (err,) = result.rejects[0].errors
    assert (err["field"], err["code"]) == ("FB_NR", "too_long")
    assert "2000000" in err["message_en"] and len(err["value"]) < 200
