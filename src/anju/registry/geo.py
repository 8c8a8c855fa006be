"""Coordinates: WGS-84 (what the registry stores) and GCJ-02 (what Chinese web maps draw), and estate
boundaries as GeoJSON polygons.

Maps licensed in mainland China (AMap, Tencent) draw in GCJ-02, an obfuscated datum offset from WGS-84
by a few hundred metres. The registry keeps WGS-84, the datum of the standard's DQJD/DQWD and of GeoJSON,
and converts only for display; a boundary drawn on such a map comes back in GCJ-02 and is converted
with the iterative inverse. The forward formula is the published one used by every open implementation;
outside China it is the identity, as it is on those maps.

Areas are computed on a local equirectangular projection about the polygon's centroid: for an estate a
few hundred metres across the error is far below what a surveyed boundary is accurate to.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

import numpy as np
import shapely  # type: ignore[import-untyped]
from shapely.geometry import Point, Polygon  # type: ignore[import-untyped]
from shapely.validation import explain_validity  # type: ignore[import-untyped]

Datum = Literal["wgs84", "gcj02"]

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as the GCJ-02 formula uses
_EE = 0.00669342162296594323  # its first eccentricity squared
_EARTH_M = 6371008.8  # mean Earth radius (IUGG), for areas
_INVERSE_TOLERANCE = 1e-10  # degrees, about 0.01 mm
_INVERSE_STEPS = 30
# An estate's fence needs tens of vertices; thousands mean an unsimplified survey or a hostile body.
MAX_POSITIONS = 5000


class LatLon(NamedTuple):
    lat: float
    lon: float


def out_of_china(lat: float, lon: float) -> bool:
    """The rectangle the published formula leaves unshifted (it is coarse on purpose: maps use it too)."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _shift_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _shift_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lat: float, lon: float) -> LatLon:
    if out_of_china(lat, lon):
        return LatLon(lat, lon)
    dlat = _shift_lat(lon - 105.0, lat - 35.0)
    dlon = _shift_lon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return LatLon(lat + dlat, lon + dlon)


def gcj02_to_wgs84(lat: float, lon: float) -> LatLon:
    """The inverse by fixed-point iteration: the offset varies slowly, so each step gains several digits."""
    if out_of_china(lat, lon):
        return LatLon(lat, lon)
    guess_lat, guess_lon = lat, lon
    for _ in range(_INVERSE_STEPS):
        shifted = wgs84_to_gcj02(guess_lat, guess_lon)
        err_lat, err_lon = shifted.lat - lat, shifted.lon - lon
        guess_lat -= err_lat
        guess_lon -= err_lon
        if abs(err_lat) < _INVERSE_TOLERANCE and abs(err_lon) < _INVERSE_TOLERANCE:
            break
    return LatLon(guess_lat, guess_lon)


def to_wgs84(lat: float, lon: float, datum: Datum) -> LatLon:
    return gcj02_to_wgs84(lat, lon) if datum == "gcj02" else LatLon(lat, lon)


def point_json(lat: float | None, lon: float | None) -> dict[str, Any] | None:
    """A stored WGS-84 point in both datums, for the API."""
    if lat is None or lon is None:
        return None
    gcj = wgs84_to_gcj02(lat, lon)
    return {"wgs84": {"lat": lat, "lon": lon}, "gcj02": {"lat": round(gcj.lat, 7), "lon": round(gcj.lon, 7)}}


# ---- boundaries ----------------------------------------------------------------------------------------
class BoundaryInvalid(ValueError):
    """A boundary that is not a usable GeoJSON polygon; names the part, the value and what is expected."""

    def __init__(self, field: str, value: Any, zh: str, en: str) -> None:
        super().__init__(f"{field}: {en}")
        self.field = field
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        self.value = shown if len(shown) <= 80 else shown[:80] + "…"
        self.zh, self.en = zh, en


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _ring(raw: Any, where: str) -> list[tuple[float, float]]:
    if not isinstance(raw, list) or len(raw) < 4:
        raise BoundaryInvalid(
            where,
            raw,
            "多边形的每个环应为至少 4 个 [经度, 纬度] 点的数组（首尾相同）",
            "each ring of a polygon must be an array of at least 4 [longitude, latitude] positions, "
            "the first equal to the last",
        )
    points: list[tuple[float, float]] = []
    for i, pos in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(pos, list) or len(pos) not in (2, 3) or not all(_number(v) for v in pos):
            raise BoundaryInvalid(
                at,
                pos,
                "坐标点应为 [经度, 纬度] 两个数字",
                "a position must be [longitude, latitude], two numbers",
            )
        lon, lat = float(pos[0]), float(pos[1])
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            swapped = -180.0 <= lat <= 180.0 and -90.0 <= lon <= 90.0
            hint_zh = "；看起来经纬度顺序颠倒了，GeoJSON 的顺序是 [经度, 纬度]" if swapped else ""
            hint_en = (
                "; it looks like [latitude, longitude]: GeoJSON is [longitude, latitude]" if swapped else ""
            )
            raise BoundaryInvalid(
                at,
                pos,
                f"经度应在 -180 到 180 之间、纬度应在 -90 到 90 之间{hint_zh}",
                f"longitude must lie in -180..180 and latitude in -90..90{hint_en}",
            )
        points.append((lon, lat))
    if points[0] != points[-1]:
        raise BoundaryInvalid(
            where,
            [list(points[0]), list(points[-1])],
            "环未闭合：最后一个点应与第一个点相同",
            "the ring is not closed: its last position must equal its first",
        )
    return points


def parse_boundary(raw: str | Mapping[str, Any], *, datum: Datum = "wgs84") -> Polygon:
    """A GeoJSON Polygon (or a Feature holding one), as a WGS-84 shapely polygon.

    `datum` says what the coordinates are in; GCJ-02 ones (drawn on a Chinese web map) are converted."""
    data: Any = raw
    if isinstance(raw, str):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BoundaryInvalid(
                "boundary", raw, f"不是有效的 JSON：{exc.msg}", f"not valid JSON: {exc.msg}"
            ) from None
    if isinstance(data, Mapping) and data.get("type") == "Feature":
        data = data.get("geometry")
        field = "boundary.geometry"
    else:
        field = "boundary"
    if not isinstance(data, Mapping) or data.get("type") != "Polygon":
        kind = data.get("type") if isinstance(data, Mapping) else type(data).__name__
        raise BoundaryInvalid(
            f"{field}.type",
            kind,
            "边界应为 GeoJSON Polygon（或包含 Polygon 的 Feature）",
            "the boundary must be a GeoJSON Polygon (or a Feature holding one)",
        )
    rings = data.get("coordinates")
    if not isinstance(rings, list) or not rings:
        raise BoundaryInvalid(
            f"{field}.coordinates",
            rings,
            "coordinates 应为环的数组：第一个是外边界，其余是内部空洞",
            "coordinates must be an array of rings: the outer boundary first, then any holes",
        )
    positions = sum(len(r) if isinstance(r, list) else 0 for r in rings)
    if positions > MAX_POSITIONS:
        raise BoundaryInvalid(
            f"{field}.coordinates",
            f"{positions} positions",
            f"边界最多 {MAX_POSITIONS} 个坐标点，请先简化",
            f"a boundary may have at most {MAX_POSITIONS} positions; simplify it first",
        )
    parsed = [_ring(r, f"{field}.coordinates[{i}]") for i, r in enumerate(rings)]
    if datum == "gcj02":
        parsed = [
            [(p.lon, p.lat) for p in (gcj02_to_wgs84(lat, lon) for lon, lat in ring)] for ring in parsed
        ]
    polygon = Polygon(parsed[0], parsed[1:])
    # Checked first: GEOS calls a flat ring a self-intersection, which would hide the plainer reason. The
    # hull, not the polygon: a bow tie's two halves cancel out in the polygon's own (signed) area.
    if area_m2(polygon.convex_hull) < 1.0:
        raise BoundaryInvalid(
            f"{field}.coordinates",
            parsed[0][:4],
            "多边形面积为零：点重合或共线",
            "the polygon has no area: its positions coincide or lie on one line",
        )
    if not polygon.is_valid:
        reason = str(explain_validity(polygon))
        raise BoundaryInvalid(
            f"{field}.coordinates",
            reason,
            f"多边形无效（如边自相交、空洞越界）：{reason}",
            f"the polygon is invalid (e.g. self-intersecting edges, a hole outside it): {reason}",
        )
    return polygon


def boundary_geojson(polygon: Polygon, *, datum: Datum = "wgs84") -> dict[str, Any]:
    """The polygon as GeoJSON, its coordinates in the datum asked for (GCJ-02 only for display)."""

    def ring(coords: Sequence[tuple[float, float]]) -> list[list[float]]:
        out = []
        for lon, lat in coords:
            if datum == "gcj02":
                lat, lon = wgs84_to_gcj02(lat, lon)
            out.append([round(lon, 7), round(lat, 7)])
        return out

    rings = [ring(list(polygon.exterior.coords)), *(ring(list(h.coords)) for h in polygon.interiors)]
    return {"type": "Polygon", "coordinates": rings}


def contains(polygon: Polygon, lat: float, lon: float) -> bool:
    """Whether the WGS-84 point lies inside the boundary or on it (a gate sits on the fence line)."""
    return bool(polygon.covers(Point(lon, lat)))


def centroid(polygon: Polygon) -> LatLon:
    c = polygon.centroid
    return LatLon(float(c.y), float(c.x))


def area_m2(polygon: Polygon) -> float:
    """Area in square metres, approximately (see the module's docstring)."""
    c = polygon.centroid
    lat0 = math.radians(float(c.y)) if not polygon.is_empty else 0.0
    lon0 = float(c.x) if not polygon.is_empty else 0.0
    scale = math.pi / 180.0 * _EARTH_M

    def project(xy: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        out = np.empty_like(xy)
        out[:, 0] = (xy[:, 0] - lon0) * scale * math.cos(lat0)
        out[:, 1] = xy[:, 1] * scale
        return out

    return float(shapely.transform(polygon, project).area)


def stored_boundary(text: str | None) -> Polygon | None:
    """The polygon of a stored boundary (written by `parse_boundary`, so trusted), or None."""
    if not text:
        return None
    return parse_boundary(text)
