"""The registry's facts for the evaluation engine: the fixture's hand counts, checked by the engine's own
fact checks and scored by the Wuhan item that reads them."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import insert, update

from anju.evaluation.conditions import AllOf, RatioLeaf
from anju.evaluation.evidence import EvidenceProvider, ProviderRegistry, SourceKind, default_registry
from anju.evaluation.inputs import gather
from anju.evaluation.systems import wuhan_system
from anju.registry.evidence import KEYS, RegistryEvidence, install
from anju.services import Services
from tests.registry.rates_fixture import build

AS_OF = date(2026, 11, 30)


def test_facts_of_a_community(services: Services) -> None:
    build(services)
    provider = RegistryEvidence(services)
    assert isinstance(provider, EvidenceProvider)
    facts = provider.facts("C1", AS_OF)
    assert set(facts) <= KEYS

    # Doors of C1: E1 13 (9 plated) and E2 3 (2 plated).
    assert facts["WH.doors"].value == 16
    assert facts["WH.doors_qr"].value == 11
    assert set(facts["WH.doors_qr"].references) == {
        "gate:E1-G2",
        "unit:E1-B2-U1",
        "house:E1-H5",
        "house:E1-H6",
        "building:E2-B1",
    }
    assert facts["WH.doors"].source is SourceKind.records
    assert facts["SD.estates"].value == 2
    # Houses with a residence in force: E1-H1..H4 and E2-H1 (H5 ended, H6 only pending).
    assert facts["SD.households"].value == 5
    # Permanent residents (category resident) in force: P1 P2 P3 P8; P1 is a lodger in E2 as well.
    assert facts["SD.residents"].value == 4
    # Of those, born 1950 (P1) and 1956 (P8) are 60 or over on 30 November 2026; P3 (1970), P2 (1985) not.
    assert facts["SD.residents_60_plus"].value == 2
    # Every building of E1 and E2 is rated A.
    assert facts["SE46.3"].value is True


def test_an_estate_and_missing_facts(services: Services) -> None:
    build(services)
    provider = RegistryEvidence(services)
    e1 = provider.facts("E1", AS_OF)
    assert (e1["WH.doors"].value, e1["WH.doors_qr"].value) == (13, 9)
    assert "SD.estates" not in e1  # an estate is not a community of estates
    # A building rated C makes SE46.3 false, naming it; an unrated one (and nothing worse) leaves it out.
    building = services.registry.table("building")
    with services.db.engine.begin() as conn:
        conn.execute(update(building).where(building.c.id == "E1-B2").values(safety_level="C"))
    e1 = provider.facts("E1", AS_OF)
    assert e1["SE46.3"].value is False and e1["SE46.3"].references == ("building:E1-B2",)
    with services.db.engine.begin() as conn:
        conn.execute(update(building).where(building.c.id == "E1-B2").values(safety_level=None))
    assert "SE46.3" not in provider.facts("E1", AS_OF)
    # Nothing registered under a code: the provider knows nothing about it.
    assert provider.facts("NOWHERE", AS_OF) == {}
    # Before anything was registered nothing is established but the region tree's own shape (undated).
    assert set(provider.facts("C1", date(2025, 12, 31))) == {"SD.estates"}


def test_the_engine_accepts_and_scores_the_facts(sqlite_services: Services) -> None:
    build(sqlite_services)
    registry = ProviderRegistry()
    install(sqlite_services, registry)
    install(sqlite_services, registry)  # installing again replaces, not duplicates
    assert [p.name for p in registry.providers] == ["registry"]
    # gather() runs every value through the same checks as an input file's facts.
    [c1] = gather([], ["C1"], registry, AS_OF)
    assert c1.facts["WH.doors_qr"].provider == "registry"
    assert c1.facts["WH.doors_qr"].value == 11

    # Wuhan demonstration item 5 reads the doorplate coverage: 11/16 is short of its 100 %.
    item = next(i for i in wuhan_system().variant("demonstration").items if i.no == 5)
    assert isinstance(item.condition, AllOf)
    doors = next(p for p in item.condition.parts if isinstance(p, RatioLeaf) and p.numerator == "WH.doors_qr")
    shortfall = doors.evaluate(c1.facts)
    assert not shortfall.met and shortfall.value == 11 / 16 * 100
    # Plate (or re-issue the revoked plate of) the five doors the references name: now it holds.
    plate = sqlite_services.registry.table("doorplate")
    with sqlite_services.db.engine.begin() as conn:
        for ref in c1.facts["WH.doors_qr"].references:
            kind, target = ref.split(":")
            reissued = conn.execute(
                update(plate)
                .where(plate.c.target_kind == kind, plate.c.target_id == target)
                .values(version=2, revoked_at=None, issued_at=datetime(2026, 7, 1))
            )
            if reissued.rowcount:
                continue
            conn.execute(
                insert(plate).values(
                    id=f"N-{target}",
                    estate=target[:2],
                    target_kind=kind,
                    target_id=target,
                    version=1,
                    issued_at=datetime(2026, 7, 1),
                    issued_by="test",
                )
            )
    [c1] = gather([], ["C1"], registry, AS_OF)
    assert doors.evaluate(c1.facts).met


def test_install_uses_the_default_registry(sqlite_services: Services) -> None:
    provider = install(sqlite_services)
    try:
        assert provider in default_registry().providers
    finally:
        default_registry().unregister("registry")


def test_evaluate_community_reads_the_platform_database(
    sqlite_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`anju evaluate wuhan --community C1` finds the registry's facts in the configured database."""
    import orjson
    from typer.testing import CliRunner

    from anju.cli import app

    build(sqlite_services)
    settings = sqlite_services.settings
    monkeypatch.setenv("ANJU_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ANJU_DATABASE_URL", settings.database_url)
    try:
        result = CliRunner().invoke(
            app, ["evaluate", "wuhan", "--community", "C1", "--as-of", "2026-11-30", "--json"]
        )
        assert result.exit_code == 0, result.output
        text = result.output
        assert "WH.doors_qr" in text and '"registry"' in text, text[:2000]
        assert orjson.loads(text)  # one JSON document
    finally:
        default_registry().unregister("registry")
