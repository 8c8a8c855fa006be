"""WGS-84 ↔ GCJ-02 and estate boundaries."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anju.registry.geo import (
    BoundaryInvalid,
    area_m2,
    boundary_geojson,
    centroid,
    contains,
    gcj02_to_wgs84,
    parse_boundary,
    point_json,
    wgs84_to_gcj02,
)


def test_the_published_pair() -> None:
    # Tian'anmen: the pair every GCJ-02 implementation is checked against.
    gcj = wgs84_to_gcj02(39.908722, 116.397499)
    assert gcj.lat == pytest.approx(39.910126, abs=1e-5)
    assert gcj.lon == pytest.approx(116.403743, abs=1e-5)


def test_outside_china_nothing_moves() -> None:
    assert wgs84_to_gcj02(51.4779, -0.0015) == (51.4779, -0.0015)
    assert gcj02_to_wgs84(40.6892, -74.0445) == (40.6892, -74.0445)


@given(st.floats(18.0, 53.0), st.floats(74.0, 134.0))
def test_the_inverse_recovers_the_wgs84_point(lat: float, lon: float) -> None:
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lat, lon))
    assert back.lat == pytest.approx(lat, abs=1e-8)
    assert back.lon == pytest.approx(lon, abs=1e-8)


def test_the_offset_is_hundreds_of_metres_in_wuhan() -> None:
    lat, lon = 30.5928, 114.3055
    gcj = wgs84_to_gcj02(lat, lon)
    metres = math.hypot((gcj.lat - lat) * 111_195, (gcj.lon - lon) * 111_195 * math.cos(math.radians(lat)))
    assert 100 < metres < 1000
    assert point_json(lat, lon) == {
        "wgs84": {"lat": lat, "lon": lon},
        "gcj02": {"lat": round(gcj.lat, 7), "lon": round(gcj.lon, 7)},
    }
    assert point_json(None, lon) is None


SQUARE: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [
        [[114.300, 30.600], [114.301, 30.600], [114.301, 30.601], [114.300, 30.601], [114.300, 30.600]]
    ],
}


def test_a_square_boundary() -> None:
    p = parse_boundary(SQUARE)
    # 0.001° of latitude is 111.2 m; of longitude at 30.6° N, 111.2 m × cos 30.6° = 95.7 m.
    expected = (0.001 * math.pi / 180 * 6371008.8) ** 2 * math.cos(math.radians(30.6005))
    assert area_m2(p) == pytest.approx(expected, rel=1e-4)
    assert area_m2(p) == pytest.approx(10_642, rel=1e-3)
    c = centroid(p)
    assert (c.lat, c.lon) == pytest.approx((30.6005, 114.3005))
    assert contains(p, 30.6005, 114.3005)
    assert contains(p, 30.600, 114.3005)  # on the fence line
    assert not contains(p, 30.602, 114.3005)
    assert boundary_geojson(p) == SQUARE
    assert parse_boundary({"type": "Feature", "geometry": SQUARE, "properties": {}}).equals(p)
    assert parse_boundary('{"type": "Polygon", "coordinates": ' + str(SQUARE["coordinates"]) + "}").equals(p)


def test_a_boundary_drawn_in_gcj02_is_stored_in_wgs84() -> None:
    p = parse_boundary(SQUARE)
    drawn = boundary_geojson(p, datum="gcj02")
    assert drawn != SQUARE
    back = parse_boundary(drawn, datum="gcj02")
    for (lon, lat), (lon0, lat0) in zip(back.exterior.coords, p.exterior.coords, strict=True):
        assert (lon, lat) == pytest.approx((lon0, lat0), abs=1e-6)  # the 7-decimal rounding of the display


@pytest.mark.parametrize(
    ("boundary", "field", "words"),
    [
        ({"type": "Point", "coordinates": [114.3, 30.6]}, "boundary.type", "Polygon"),
        ({"type": "Polygon", "coordinates": []}, "boundary.coordinates", "rings"),
        (
            {"type": "Polygon", "coordinates": [[[114.3, 30.6], [114.31, 30.6], [114.3, 30.6]]]},
            "boundary.coordinates[0]",
            "at least 4",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[114.3, 30.6], [114.31, 30.6], [114.31, 30.61], [114.3, 30.61]]],
            },
            "boundary.coordinates[0]",
            "not closed",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[30.6, 114.3], [30.6, 114.31], [30.61, 114.31], [30.6, 114.3]]],
            },
            "boundary.coordinates[0][0]",
            "[latitude, longitude]",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[114.3, 30.6], ["x", 30.6], [114.31, 30.61], [114.3, 30.6]]],
            },
            "boundary.coordinates[0][1]",
            "two numbers",
        ),
        (
            # A bow tie: its edges cross.
            {
                "type": "Polygon",
                "coordinates": [
                    [[114.3, 30.6], [114.31, 30.61], [114.31, 30.6], [114.3, 30.61], [114.3, 30.6]]
                ],
            },
            "boundary.coordinates",
            "Self-intersection",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[114.3, 30.6], [114.31, 30.6], [114.32, 30.6], [114.3, 30.6]]],
            },
            "boundary.coordinates",
            "no area",
        ),
        ("{not json", "boundary", "not valid JSON"),
        (
            {"type": "Polygon", "coordinates": [[[114.3, 30.6]] * 5001]},
            "boundary.coordinates",
            "at most 5000 positions",
        ),
    ],
)
def test_bad_boundaries_are_refused_naming_the_part(boundary: Any, field: str, words: str) -> None:
    with pytest.raises(BoundaryInvalid) as refused:
        parse_boundary(boundary)
    assert refused.value.field == field
    assert words in refused.value.en
    assert refused.value.zh and refused.value.value
