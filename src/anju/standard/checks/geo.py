"""Coordinates (当前经度/当前纬度, DQJD/DQWD): NUMBER(10,6) degrees, plausibly inside China."""

from __future__ import annotations

from anju.standard.checks import CheckFailed

__all__ = ["CHINA_BOX", "check_latitude", "check_longitude", "in_china"]

# The China plausibility box used by the GCJ-02 libraries (eviltransform): lng_min, lng_max, lat_min, lat_max.
_LNG_MIN = 72.004
_LNG_MAX = 137.8347
_LAT_MIN = 0.8293
_LAT_MAX = 55.8271
CHINA_BOX = (_LNG_MIN, _LNG_MAX, _LAT_MIN, _LAT_MAX)


def check_longitude(value: float) -> float:
    """Round to 6 decimals and check the range.

    Codes: ``coord_range`` (outside [-180, 180], NaN, inf) and ``coord_outside_china``.
    """
    v = round(value, 6)  # round(x, n) keeps NaN and inf, which then fail the comparisons below
    if _LNG_MIN <= v <= _LNG_MAX:
        return v
    if not -180.0 <= v <= 180.0:
        raise CheckFailed(
            "coord_range", "经度应在 -180 到 180 之间", "the longitude should be between -180 and 180"
        )
    raise CheckFailed(
        "coord_outside_china",
        f"经度应在中国境内，即 {_LNG_MIN} 到 {_LNG_MAX} 之间",
        f"the longitude should be inside China, between {_LNG_MIN} and {_LNG_MAX}",
    )


def check_latitude(value: float) -> float:
    """Round to 6 decimals and check the range.

    Codes: ``coord_range`` (outside [-90, 90], NaN, inf) and ``coord_outside_china``.
    """
    v = round(value, 6)
    if _LAT_MIN <= v <= _LAT_MAX:
        return v
    if not -90.0 <= v <= 90.0:
        raise CheckFailed(
            "coord_range", "纬度应在 -90 到 90 之间", "the latitude should be between -90 and 90"
        )
    raise CheckFailed(
        "coord_outside_china",
        f"纬度应在中国境内，即 {_LAT_MIN} 到 {_LAT_MAX} 之间",
        f"the latitude should be inside China, between {_LAT_MIN} and {_LAT_MAX}",
    )


def in_china(lng: float, lat: float) -> bool:
    """Whether the point is inside the China plausibility box (False for NaN)."""
    return _LNG_MIN <= lng <= _LNG_MAX and _LAT_MIN <= lat <= _LAT_MAX
