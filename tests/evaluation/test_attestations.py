"""Attestations: stated facts with files, superseded by newer statements and by the platform's data,
served to the engine with their evidence chain, over the CLI and the HTTP API."""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from anju.cli import app
from anju.evaluation.attestations import Attachment, open_attestations
from anju.evaluation.errors import EvaluationError
from anju.evaluation.evidence import SourceKind
from anju.evaluation.inputs import gather
from anju.evaluation.platform import platform_providers
from anju.evaluation.systems import wuhan_system
from anju.evaluation.wuhan import evaluate_wuhan
from anju.security.crypto import sm3
from anju.services import Services
from tests.conftest import signed_in_client
from tests.registry.rates_fixture import build

PHOTO = b"\x89PNG\r\n\x1a\n" + b"monitoring room photo" * 10


def test_add_checks_the_value_and_keeps_files(services: Services) -> None:
    store = open_attestations(services)
    made = store.add(
        "C1",
        "WH.video_room",
        True,
        note="监控室于 2026-03 建成，见照片",
        actor="admin-1",
        files=[Attachment("room.png", PHOTO)],
    )
    digest = sm3(PHOTO).hex()
    assert made.files == [{"name": "room.png", "sm3": digest, "size": len(PHOTO)}]
    assert store.file_path(digest).read_bytes() == PHOTO
    entries = services.audit.query(action="evaluation.attest", limit=5)
    assert [(e.actor, e.target) for e in entries] == [("admin-1", "C1/WH.video_room")]

    with pytest.raises(EvaluationError, match=re.escape("fact key = 'WH.nonsense'")):
        store.add("C1", "WH.nonsense", True, note="x", actor="a")
    with pytest.raises(EvaluationError, match=r"facts.WH.video_room = 'yes': expected true or false"):
        store.add("C1", "WH.video_room", "yes", note="x", actor="a")
    with pytest.raises(EvaluationError, match="note"):
        store.add("C1", "WH.video_room", True, note="  ", actor="a")
    with pytest.raises(EvaluationError, match="file name"):
        store.add("C1", "WH.video_room", True, note="x", actor="a", files=[Attachment("", b"1")])


def test_standing_attestations_by_date(sqlite_services: Services) -> None:
    times = iter(
        [
            datetime(2026, 3, 1, 9, tzinfo=UTC),  # first statement
            datetime(2026, 6, 1, 9, tzinfo=UTC),  # a newer one
            datetime(2026, 9, 1, 9, tzinfo=UTC),  # revocation of the newer one
        ]
    )
    store = open_attestations(sqlite_services)
    store.clock = lambda: next(times)
    first = store.add("C1", "WH.ebikes", 300, note="值班表", actor="a")
    second = store.add("C1", "WH.ebikes", 365, note="全年值班表", actor="b")
    assert store.standing("C1", date(2026, 2, 1)) == {}
    assert store.standing("C1", date(2026, 3, 1))["WH.ebikes"].id == first.id
    assert store.standing("C1", date(2026, 7, 1))["WH.ebikes"].id == second.id
    store.revoke(second.id, actor="c", reason="值班表不实")
    # Revoked in September: it stood in July and no longer stands in October, where the first returns.
    assert store.standing("C1", date(2026, 7, 1))["WH.ebikes"].id == second.id
    assert store.standing("C1", date(2026, 10, 1))["WH.ebikes"].id == first.id
    assert [a.revoked_by for a in store.list("C1")] == [None, "c"]


def test_the_engine_scores_attested_facts_and_data_supersedes_them(services: Services) -> None:
    build(services)
    store = open_attestations(services)
    # Stated before the evaluation date below, whatever today's date is.
    store.clock = lambda: datetime(2026, 11, 20, 9, tzinfo=UTC)
    video = store.add(
        "C1", "WH.video_room", True, note="监控室照片", actor="admin-1", files=[Attachment("r.png", PHOTO)]
    )
    stated = store.add("C1", "WH.doors", 99, note="自报门牌总数", actor="admin-1")
    [community] = gather([], ["C1"], platform_providers(services), date(2026, 11, 30))
    ev = community.facts["WH.video_room"]
    assert ev.source is SourceKind.attestation and ev.provider == "attestations"
    assert ev.references == (f"attestation:{video.id}", f"file:{sm3(PHOTO).hex()}")
    doors = community.facts["WH.doors"]
    # The registry counts 16 doors in C1; the stated 99 stays visible as superseded.
    assert doors.value == 16 and doors.source is SourceKind.records
    assert [(s.value, s.references) for s in doors.superseded] == [(99, (f"attestation:{stated.id}",))]
    result = evaluate_wuhan(wuhan_system(), "standard", community).to_dict()
    assert f"attestation:{video.id}" in orjson.dumps(result).decode()


def test_http_scorecard_and_attestations(sqlite_services: Services) -> None:
    svc = sqlite_services
    build(svc)
    with signed_in_client(svc, "admin-c1", (("community_admin", "C1"),)) as client:
        body = {
            "community": "C1",
            "key": "WH.video_room",
            "value": True,
            "note": "监控室照片",
            "files": [{"name": "room.png", "content_base64": base64.b64encode(PHOTO).decode()}],
        }
        made = client.post("/api/v1/evaluation/attestations", json=body)
        assert made.status_code == 201, made.text
        outside = client.post("/api/v1/evaluation/attestations", json={**body, "community": "C2"})
        assert outside.status_code == 403
        bad = client.post("/api/v1/evaluation/attestations", json={**body, "value": "yes"})
        assert bad.status_code == 422 and "true or false" in bad.json()["error"]["message_en"]
        # Evaluated as of today: the attestation above was made now, by the real clock.
        today = datetime.now(UTC).date().isoformat()
        card = client.get("/api/v1/evaluation/wuhan", params={"community": "C1", "as_of": today})
        assert card.status_code == 200, card.text
        text = card.text
        assert f"attestation:{made.json()['id']}" in text and "WH.doors_qr" in text
        paper = client.get("/api/v1/evaluation/paper", params={"community": "C1", "as_of": today})
        assert paper.status_code == 200 and paper.json()["weighting"] == "equal"
        assert client.get("/api/v1/evaluation/wuhan", params={"community": "C2"}).status_code == 404
        listed = client.get("/api/v1/evaluation/attestations/C1").json()["attestations"]
        assert [a["key"] for a in listed] == ["WH.video_room"]


def test_cli_attest_and_list(
    sqlite_services: Services, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = sqlite_services.settings
    monkeypatch.setenv("ANJU_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ANJU_DATABASE_URL", settings.database_url)
    photo = tmp_path / "room.png"
    photo.write_bytes(PHOTO)
    runner = CliRunner()
    made = runner.invoke(
        app,
        [
            "evaluate", "attest", "-c", "C1", "-k", "WH.video_room", "--value", "true",
            "--note", "监控室照片", "--file", str(photo), "--json",
        ],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert orjson.loads(made.output)["files"][0]["sm3"] == sm3(PHOTO).hex()
    wrong = runner.invoke(
        app, ["evaluate", "attest", "-c", "C1", "-k", "WH.x", "--value", "1", "--note", "n"]
    )
    assert wrong.exit_code == 2 and "fact key = 'WH.x'" in wrong.output and "Traceback" not in wrong.output
    listed = runner.invoke(app, ["evaluate", "attestations", "-c", "C1", "--json"])
    assert listed.exit_code == 0 and [a["key"] for a in orjson.loads(listed.output)] == ["WH.video_room"]
