"""The risk map: zones validated as WGS-84 polygons, exported as a GeoJSON FeatureCollection, with special
populations shown only as a count per zone, hidden below k."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from shapely.geometry import shape  # type: ignore[import-untyped]

from anju.emergency import risk
from anju.emergency.catalog import EmergencyError
from anju.emergency.ops_catalog import ops_catalog
from anju.registry.addresses import normalise
from anju.registry.store import Provenance
from anju.services import Services


def square(lon: float, lat: float, d: float = 0.001) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]],
    }


def add_special_residents(svc: Services, building: str, lon: float, lat: float, n: int) -> None:
    """`n` special-population residents living in one building, written by the registry's own rule."""
    store, staff, now = svc.registry, Provenance("staff", verified_by="test"), datetime.now(UTC)
    with svc.db.engine.begin() as conn:
        store.upsert(
            conn,
            "building",
            building,
            {"estate": "E1", "code": building, "name": building, "lon": lon, "lat": lat},
            staff,
            now=now,
        )
        house = f"H-{building}"
        address = f"武汉市江岸区幸福路1号{building}101室"
        store.upsert(
            conn,
            "house",
            house,
            {
                "estate": "E1",
                "building_id": building,
                "address": address,
                "address_key": normalise(address),
                "key_house": False,
            },
            staff,
            now=now,
        )
        for i in range(n):
            person = store.new_id()
            store.upsert(
                conn,
                "person",
                person,
                {"name": f"居民{building}{i}", "key_population": False, "special_category": "elderly_alone"},
                staff,
                now=now,
            )
            store.upsert(
                conn,
                "residence",
                store.new_id(),
                {
                    "person_id": person,
                    "house_id": house,
                    "estate": "E1",
                    "address": address,
                    "_bi_address": store.sealer.blind("address", normalise(address)),
                    "category": "resident",
                    "status": "active",
                },
                staff,
                now=now,
            )


def test_risk_map_is_a_feature_collection_with_suppressed_special_population_counts(esvc: Services) -> None:
    k = ops_catalog().special_population_k
    add_special_residents(esvc, "B-many", 114.3005, 30.6005, k + 1)
    add_special_residents(esvc, "B-few", 114.3105, 30.6005, k - 1)
    many = risk.create_zone(
        esvc,
        estate="E1",
        hazard="special_population",
        level="moderate",
        name="北区",
        geometry=square(114.3, 30.6),
        assessed_on="2026-10-01",
        reviewer="community_admin",
        actor="admin",
    )
    few = risk.create_zone(
        esvc,
        estate="E1",
        hazard="waterlogging",
        level="high",
        name="地下车库",
        geometry=square(114.31, 30.6),
        assessed_on="2026-10-01",
        reviewer="community_admin",
        actor="admin",
    )
    risk.create_zone(
        esvc,
        estate="E3",
        hazard="fire",
        level="low",
        name="别的小区",
        geometry=square(114.2, 30.5),
        assessed_on="2026-10-01",
        reviewer="x",
        actor="admin",
    )
    doc = json.loads(json.dumps(risk.risk_map(esvc, ["E1"])))  # plain JSON, as served
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 2
    for f in doc["features"]:
        assert f["type"] == "Feature" and shape(f["geometry"]).is_valid
        assert set(f["properties"]) >= {"hazard", "level", "assessed_on", "reviewer", "special_population"}
    props = {f["id"]: f["properties"] for f in doc["features"]}
    assert props[many]["special_population"] == {"count": k + 1, "suppressed": False, "k": k}
    assert props[few]["special_population"] == {"count": None, "suppressed": True, "k": k}
    text = json.dumps(doc, ensure_ascii=False)
    assert "居民" not in text and "elderly_alone" not in text  # no person, no category: counts only
    assert props[few]["natural"] is True and props[many]["natural"] is False


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [114.3, 30.6]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},  # a bow tie
        square(200.0, 30.0),
        "not geojson",
    ],
)
def test_bad_geometries_are_refused_naming_the_field(esvc: Services, geometry: Any) -> None:
    with pytest.raises(EmergencyError) as err:
        risk.create_zone(
            esvc,
            estate="E1",
            hazard="flood",
            level="low",
            name="x",
            geometry=geometry,
            assessed_on="2026-10-01",
            reviewer="r",
            actor="a",
        )
    assert err.value.field == "geometry" and ("GeoJSON" in err.value.en or "lon" in err.value.en)


def test_unknown_hazard_and_reassessment(esvc: Services) -> None:
    with pytest.raises(EmergencyError) as err:
        risk.create_zone(
            esvc,
            estate="E1",
            hazard="volcano",
            level="low",
            name="x",
            geometry=square(114.3, 30.6),
            assessed_on="2026-10-01",
            reviewer="r",
            actor="a",
        )
    assert err.value.field == "hazard" and "waterlogging" in err.value.en
    zid = risk.create_zone(
        esvc,
        estate="E1",
        hazard="内涝",
        level="low",
        name="x",
        geometry=square(114.3, 30.6),
        assessed_on="2024-10-01",
        reviewer="r",
        actor="a",
    )
    (zone,) = risk.list_zones(esvc, ["E1"])
    assert zone["hazard"] == "waterlogging" and zone["stale"] is True
    risk.reassess(esvc, zid, {"level": "high", "assessed_on": "2026-11-01", "reviewer": "r2"}, actor="a")
    (zone,) = risk.list_zones(esvc, ["E1"])
    assert (zone["level"], zone["stale"], zone["reviewer"]) == ("high", False, "r2")
    risk.retire(esvc, zid, actor="a")
    assert risk.list_zones(esvc, ["E1"]) == []
