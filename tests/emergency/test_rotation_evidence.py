"""Key rotation re-seals the supply stores' custodians (readable after, under the new key version), and
the shelter (SE64) and supply (SE65) facts the emergency provider gives the evaluation engine."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from anju.emergency.evidence import KEYS, EmergencyEvidence
from anju.emergency.shelters import save_graph, save_shelter
from anju.emergency.supplies import add_item, create_store, supplies_view
from anju.security.rotation import rotate
from anju.services import Services
from tests.emergency.test_routing import EDGES, NODES

AS_OF = date(2026, 11, 30)


def test_key_rotation_reseals_the_custodian(esvc: Services) -> None:
    create_store(
        esvc,
        estate="E1",
        name="储备点",
        location="1栋",
        custodian="欧阳建华",
        custodian_phone="13812345678",
        actor="t",
    )
    create_store(esvc, estate="E2", name="无人看管的储备点", location="2栋", actor="t")
    report = rotate(esvc, actor="test")
    assert report.resealed["supply_store"] == 1
    with esvc.db.engine.connect() as conn:
        raw = conn.execute(
            text("SELECT custodian, custodian_phone FROM supply_store WHERE estate = 'E1'")
        ).one()
    assert all(v.startswith(f"v1:{report.version}:") for v in raw), raw
    [full] = supplies_view(esvc, ["E1"], resident=False, unmask=True)
    assert (full["custodian"], full["custodian_phone"]) == ("欧阳建华", "13812345678")
    # A second rotation re-seals again; nothing is left under an old version.
    assert rotate(esvc, actor="test").resealed["supply_store"] == 1


def test_shelter_and_supply_facts(esvc: Services) -> None:
    provider = EmergencyEvidence(esvc)
    assert not {"SE64.1", "SE65.1"} & set(provider.facts("C1", AS_OF))  # nothing recorded: no claim
    save_graph(esvc, "E1", NODES, EDGES, actor="t")
    facts = provider.facts("C1", AS_OF)
    assert facts["SE64.1"].value == () and facts["SE64.2"].value is False and facts["SE64.3"].value is False
    save_shelter(
        esvc,
        id="S1",
        estate="E1",
        name="广场",
        type="emergency",
        capacity=80,
        lon=114.3015,
        lat=30.6,
        facilities=["signage", "water"],
        actor="t",
    )
    facts = provider.facts("C1", AS_OF)
    assert set(facts) <= KEYS
    assert facts["SE64.1"].value == ("shelter_signs", "evacuation_images", "shelter_distribution_map")
    assert facts["SE64.2"].value is True and facts["SE64.3"].value is True
    assert "evacuation_route:E1:B4" in facts["SE64.3"].references
    assert "SE64.1" not in provider.facts("C2", AS_OF)

    store = create_store(esvc, estate="E2", name="安宁苑储备点", location="物业用房", actor="t")
    facts = provider.facts("C1", AS_OF)
    assert facts["SE65.1"].value is False and facts["SE65.3"].value is False  # a store with nothing in it
    add_item(esvc, store, name="饮用水", unit="箱", quantity=10, minimum=5, actor="t")
    facts = provider.facts("C1", AS_OF)
    assert facts["SE65.1"].value is True and facts["SE65.2"].value is True and facts["SE65.3"].value is False
    add_item(esvc, store, name="应急通信背包", unit="个", quantity=2, minimum=1, actor="t")
    facts = provider.facts("C1", AS_OF)
    assert facts["SE65.3"].value is True and facts["SE65.3"].references == ("supply_item:2",)
