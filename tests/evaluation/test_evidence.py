"""Evidence providers: the registry interface, merging with an input file, and evidence in every score."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from anju.evaluation.errors import EvaluationError, NoFactsError
from anju.evaluation.evidence import Evidence, EvidenceProvider, ProviderRegistry, SourceKind
from anju.evaluation.inputs import gather, parse_communities
from anju.evaluation.paper import evaluate_paper
from anju.evaluation.systems import paper_system

AS_OF = date(2026, 11, 30)


@dataclass
class DrillProvider:
    """Stands in for the emergency module: drills and their participants from stored records."""

    name: str = "emergency.drills"
    keys: frozenset[str] = frozenset({"SE32.1", "SE32.2"})
    asked: list[tuple[str, date]] = field(default_factory=list)

    def facts(self, community_code: str, as_of: date) -> Mapping[str, Evidence]:
        self.asked.append((community_code, as_of))
        if community_code != "XQ001":
            return {}
        return {
            "SE32.1": Evidence(2, SourceKind.records, "一年内应急演练 2 次", ("exercise:17", "exercise:23")),
            "SE32.2": Evidence(
                ("residents", "enterprises", "volunteers", "property"),
                SourceKind.records,
                "演练参与方",
                ("exercise:17", "exercise:23"),
            ),
        }


@dataclass
class AttestationProvider:
    name: str = "attestations"
    keys: frozenset[str] = frozenset({"SE32.1", "SE11.1"})

    def facts(self, community_code: str, as_of: date) -> Mapping[str, Evidence]:
        return {
            "SE32.1": Evidence(
                3, SourceKind.attestation, "社区主任声明：另有 1 次演练", ("attestation:5", "photo.jpg")
            ),
            "SE11.1": Evidence(True, SourceKind.attestation, "组织架构文件", ("attestation:6",)),
        }


def test_a_provider_is_an_evidence_provider() -> None:
    assert isinstance(DrillProvider(), EvidenceProvider)
    with pytest.raises(TypeError):
        ProviderRegistry([object()])  # type: ignore[list-item]
    reg = ProviderRegistry([DrillProvider()])
    with pytest.raises(ValueError, match="already registered"):
        reg.register(DrillProvider())


def test_provider_facts_score_with_their_records() -> None:
    drills = DrillProvider()
    reg = ProviderRegistry([drills])
    (c,) = gather([], ["XQ001"], reg, AS_OF)
    assert drills.asked == [("XQ001", AS_OF)]
    r = evaluate_paper(paper_system(), [c])
    (pc,) = r.communities
    assert pc.indicators["SE32"] == 84  # 52 (2 drills) + 4 categories x 8
    ev = pc.criteria["SE32.2"].evidence
    assert ev is not None and ev.source is SourceKind.records
    assert (
        ev.references == ("exercise:17", "exercise:23")
        and ev.provider == "emergency.drills"
        and ev.as_of == AS_OF
    )


def test_later_sources_override_and_keep_what_they_replace(tmp_path: Path) -> None:
    reg = ProviderRegistry([DrillProvider(), AttestationProvider()])
    (c,) = gather([], ["XQ001"], reg, AS_OF)
    ev = c.facts["SE32.1"]
    assert ev.value == 3 and ev.source is SourceKind.attestation
    assert [s.value for s in ev.superseded] == [2]  # the records' 2 drills are kept beside it
    # an input file overrides the providers for its communities
    file_cs = parse_communities(
        {"communities": [{"code": "XQ001", "name": "一号小区", "facts": {"SE32.1": 1}}]}, tmp_path / "f.yaml"
    )
    (c2,) = gather(file_cs, [], reg, AS_OF)
    assert c2.name == "一号小区" and c2.facts["SE32.1"].value == 1
    assert c2.facts["SE32.1"].source is SourceKind.input_file
    assert [s.source for s in c2.facts["SE32.1"].superseded] == [SourceKind.attestation]
    assert c2.facts["SE11.1"].value is True  # a fact the file does not give still comes from a provider


def test_no_provider_no_facts() -> None:
    with pytest.raises(
        NoFactsError, match="no facts available for community XQ001: no evidence provider is registered"
    ):
        gather([], ["XQ001"], ProviderRegistry(), AS_OF)
    with pytest.raises(NoFactsError, match="know nothing about it"):
        gather([], ["XQ999"], ProviderRegistry([DrillProvider()]), AS_OF)


def test_provider_values_are_checked_like_input() -> None:
    @dataclass
    class Broken:
        name: str = "broken"
        keys: frozenset[str] = frozenset({"SE32.1", "SE11.1"})

        def facts(self, community_code: str, as_of: date) -> Mapping[str, Evidence]:
            return {"SE32.1": Evidence("two", SourceKind.records, "x")}

    with pytest.raises(
        EvaluationError, match=r"evidence provider 'broken' for community A: facts\.SE32\.1 = 'two'"
    ):
        gather([], ["A"], ProviderRegistry([Broken()]), AS_OF)

    @dataclass
    class Undeclared:
        name: str = "undeclared"
        keys: frozenset[str] = frozenset({"SE11.1"})

        def facts(self, community_code: str, as_of: date) -> Mapping[str, Evidence]:
            return {"SE12.1": Evidence(True, SourceKind.records, "x")}

    with pytest.raises(ValueError, match=r"undeclared fact 'SE12\.1'"):
        gather([], ["A"], ProviderRegistry([Undeclared()]), AS_OF)


def test_attestation_in_an_input_file(tmp_path: Path) -> None:
    data = {
        "communities": [
            {
                "code": "A",
                "facts": {
                    "SE11.1": {
                        "value": True,
                        "by": "王主任",
                        "at": date(2026, 11, 2),
                        "note": "见组织文件",
                        "files": ["org.pdf"],
                    },
                    "SE12.1": {"value": True, "note": "预算表第 3 页"},
                },
            }
        ]
    }
    (c,) = parse_communities(data, tmp_path / "in.yaml")
    ev = c.facts["SE11.1"]
    assert (
        ev.source is SourceKind.attestation and ev.description == "由 王主任 声明（2026-11-02）：见组织文件"
    )
    assert ev.references == ("in.yaml#communities[0].facts.SE11.1", "org.pdf")
    assert (
        c.facts["SE12.1"].source is SourceKind.input_file and c.facts["SE12.1"].description == "预算表第 3 页"
    )
