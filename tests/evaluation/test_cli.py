"""`anju evaluate …` through typer's runner: JSON shapes, Chinese tables, clear errors with exit code 2."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from anju.evaluation.cli import evaluate_app
from anju.evaluation.evidence import Evidence, SourceKind, default_registry
from anju.evaluation.systems import paper_system, shandong_system, wuhan_system

from .test_shandong import GROWTH
from .test_wuhan import FULL

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    r = runner.invoke(evaluate_app, list(args))
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.output


@pytest.fixture
def input_file(tmp_path: Path) -> Path:
    data = {
        "communities": [
            {
                "code": "A",
                "name": "甲社区",
                "facts": {"SE11.1": True, "SE21.1": True, "SE21.2": 0, "SE32.1": 2, "SE32.2": 4, **FULL},
            },
            {
                "code": "B",
                "name": "乙社区",
                "facts": {"SE11.1": False, "SE21.1": True, "SE21.2": 2, "SE32.2": 6, **GROWTH},
            },
            {"code": "C", "name": "丙社区", "facts": {"SE11.2": 1, "SE54.1": True}},
        ]
    }
    path = tmp_path / "in.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_paper_json(input_file: Path) -> None:
    code, out = invoke("paper", "--input", str(input_file), "--json")
    assert code == 0
    d = json.loads(out)
    assert d["weighting"] == "critic" and len(d["weights"]) == 32
    assert sum(d["weights"].values()) == pytest.approx(1)
    a = d["communities"][0]
    assert {"indicators", "dimensions", "score", "closeness", "rank"} <= set(a)
    assert len(a["indicators"]) == 32 and set(a["dimensions"]) == {"SM", "PS", "EP", "CPS", "SI", "EM", "SPE"}
    assert sorted(c["rank"] for c in d["communities"]) == [1, 2, 3]
    assert a["criteria"]["SE32.1"]["evidence"]["references"] == ["in.yaml#communities[0].facts.SE32.1"]


def test_paper_equal_and_configured(input_file: Path, tmp_path: Path) -> None:
    code, out = invoke("paper", "-i", str(input_file), "--equal-weights", "--json")
    assert code == 0 and json.loads(out)["weighting"] == "equal"
    w = tmp_path / "w.yaml"
    w.write_text("weights: {SE11: 1, SE32: 3}\n", encoding="utf-8")
    d = json.loads(invoke("paper", "-i", str(input_file), "--weights", str(w), "--json")[1])
    assert d["weighting"] == "configured" and d["weights"]["SE32"] == 0.75
    code, out = invoke("paper", "-i", str(input_file), "-c", "A", "-c", "B", "--json")
    d = json.loads(out)
    assert [c["code"] for c in d["communities"]] == ["A", "B"] and d["weighting"] == "equal"


def test_paper_table_in_chinese(input_file: Path) -> None:
    code, out = invoke("paper", "--input", str(input_file))
    assert code == 0
    for label in ("社区排名", "加权得分", "贴近度", "保障机制", "组织保障", "甲社区", "CRITIC"):
        assert label in out


def test_wuhan_and_shandong(input_file: Path) -> None:
    d = json.loads(
        invoke("wuhan", "-i", str(input_file), "-c", "A", "--variant", "demonstration", "--json")[1]
    )
    (a,) = d["communities"]
    assert (a["variant"], a["smart"], a["safe"], a["total"], a["passed"]) == (
        "demonstration",
        70,
        30,
        100,
        True,
    )
    code, out = invoke("wuhan", "-i", str(input_file), "-c", "A")
    assert code == 0 and "智慧标准 70/70，平安标准 30/30，总分 100" in out and "通过验收" in out
    d = json.loads(invoke("shandong", "-i", str(input_file), "-c", "B", "--json")[1])
    assert d["communities"][0]["reached"] == "growth"
    d = json.loads(invoke("shandong", "-i", str(input_file), "-c", "B", "--tier", "basic", "--json")[1])
    assert list(d["communities"][0]["tiers"]) == ["basic"]
    code, out = invoke("shandong", "-i", str(input_file), "-c", "C")
    assert code == 0 and "达到等级：未达到任何等级" in out and "基础型" in out


def test_check_claims(seed_004: Path) -> None:
    code, out = invoke("check-claims", str(seed_004), "--json")
    assert code == 0
    d = json.loads(out)
    assert len(d["communities"]) == 14
    assert d["counts"]["template_remnant"] == 16 and d["counts"]["copy_paste"] == 8
    assert {"community", "tier", "indicator_no", "kind", "evidence", "detail"} <= set(d["findings"][0])
    code, out = invoke("check-claims", str(seed_004))
    assert code == 0 and "材料核查" in out and "模板残留" in out


def test_plan(input_file: Path) -> None:
    d = json.loads(invoke("plan", "wuhan", "-i", str(input_file), "-c", "C", "--json")[1])
    (p,) = d["plans"]
    assert p["reachable"] and p["changes"][0]["gain"] == 15
    d = json.loads(
        invoke("plan", "shandong", "-i", str(input_file), "-c", "B", "--tier", "growth", "--json")[1]
    )
    assert d["plans"][0]["reached_already"]
    d = json.loads(invoke("plan", "paper", "-i", str(input_file), "-c", "C", "--target", "30", "--json")[1])
    assert d["plans"][0]["code"] == "C" and d["plans"][0]["changes"]
    code, out = invoke("plan", "paper", "-i", str(input_file))
    assert code == 2 and "--target" in out
    code, out = invoke("plan", "wuhan", "-i", str(input_file), "-c", "C")
    assert code == 0 and "改进计划" in out


def test_systems_show_lists_every_key() -> None:
    code, out = invoke("systems", "show", "paper")
    assert code == 0
    for key in paper_system().criteria:
        assert key in out
    assert "多方人员参与" in out
    for system, facts in (("wuhan", wuhan_system().facts), ("shandong", shandong_system().facts)):
        code, out = invoke("systems", "show", system)
        assert code == 0
        for f in facts:
            assert f.key in out
        d = json.loads(invoke("systems", "show", system, "--json")[1])
        assert [k["key"] for k in d["keys"]] == [f.key for f in facts] and all(k["zh"] for k in d["keys"])
    assert "基础型" in invoke("systems", "list")[1]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "communities:\n  - code: A\n    facts: {SE11.1: maybe}\n",
            "facts.SE11.1 = 'maybe': expected true or false",
        ),
        (
            "communities:\n  - code: A\n    facts: {SE32.2: [residents, pets]}\n",
            "facts.SE32.2[1] = 'pets': expected one of",
        ),
        (
            "communities:\n  - code: A\n    facts: {SD.satisfaction_pct: 120}\n",
            "= 120: expected a percentage between 0 and 100",
        ),
        ("communities:\n  - code: A\n    facts: {XX.1: 1}\n", "fact key = 'XX.1'"),
        (
            "communities:\n  - code: A\n  - code: A\n",
            "code = 'A': expected a code not used by another community",
        ),
        ("communities:\n  - name: 无代码\n", "code = None: expected a non-empty community code"),
        ("communities:\n  - code: A\n    colour: red\n", "field = 'colour': expected code, name or facts"),
        ("communities: []\n", "communities = []: expected a non-empty list"),
        ("- just a list\n", "top level = 'list'"),
        ("communities: [\n", "not valid YAML: line 2"),
    ],
)
def test_bad_input_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    for command in ("paper", "wuhan", "shandong"):
        code, out = invoke(command, "--input", str(path))
        assert code == 2, out
        assert message in out and "Traceback" not in out


def test_other_errors(tmp_path: Path, input_file: Path) -> None:
    code, out = invoke("paper", "--input", str(tmp_path / "missing.yaml"))
    assert code == 2 and "no such file" in out
    code, out = invoke("paper", "-i", str(input_file), "-c", "Z")
    assert code == 2 and "--community: code = 'Z': expected a community of the input file (A, B, C)" in out
    code, out = invoke("paper", "-i", str(input_file), "--as-of", "yesterday")
    assert code == 2 and "--as-of: date = 'yesterday'" in out
    code, out = invoke("check-claims", str(input_file))
    assert code == 2 and "tier = None" in out
    (tmp_path / "x.json").write_text("{bad json", encoding="utf-8")
    code, out = invoke("paper", "-i", str(tmp_path / "x.json"))
    assert code == 2 and "not valid JSON: line 1, column 2" in out


def test_community_without_providers_is_a_clear_error() -> None:
    code, out = invoke("paper", "--community", "XQ001")
    assert code == 2
    assert "no facts available for community XQ001: no evidence provider is registered" in out
    assert "Traceback" not in out


@dataclass
class Registry:
    name: str = "test.platform"
    keys: frozenset[str] = frozenset({"SE32.1", "SE32.2", "WH.video_room"})

    def facts(self, community_code: str, as_of: date) -> Mapping[str, Evidence]:
        return {
            "SE32.1": Evidence(
                2,
                SourceKind.records,
                "演练记录",
                (f"exercise:{community_code}:1", f"exercise:{community_code}:2"),
            ),
            "SE32.2": Evidence(
                ("residents", "property", "volunteers", "enterprises"), SourceKind.records, "参与方", ()
            ),
            "WH.video_room": Evidence(True, SourceKind.records, "监控室设备在线", ("device:9",)),
        }


@pytest.fixture
def provider() -> Iterator[Registry]:
    p = Registry()
    default_registry().register(p)
    try:
        yield p
    finally:
        default_registry().unregister(p.name)


def test_community_from_a_registered_provider(provider: Registry) -> None:
    code, out = invoke(
        "paper", "--community", "XQ001", "--community", "XQ002", "--as-of", "2026-11-30", "--json"
    )
    assert code == 0, out
    d = json.loads(out)
    assert [c["code"] for c in d["communities"]] == ["XQ001", "XQ002"]
    c = d["communities"][0]
    assert c["indicators"]["SE32"] == 84  # 52 + 4 x 8
    ev = c["criteria"]["SE32.1"]["evidence"]
    assert ev == {
        "value": 2,
        "source": "records",
        "description": "演练记录",
        "references": ["exercise:XQ001:1", "exercise:XQ001:2"],
        "provider": "test.platform",
        "as_of": "2026-11-30",
    }
