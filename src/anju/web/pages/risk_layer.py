"""The estate map's risk-zone layer: the emergency module's risk map (`emergency/risk.py`, the same GeoJSON
FeatureCollection as GET /api/v1/emergency/risk-map) projected onto the map's plane in metres.

Only the fields a map needs are copied from each feature. The special-population aggregate is passed on
exactly as the risk map carries it (a count from k upwards, otherwise only "fewer than k"): the page must
not be a way round that suppression, so nothing else about the people in a zone is looked up here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shapely.geometry import shape  # type: ignore[import-untyped]

from anju.emergency import risk
from anju.emergency.ops_catalog import ops_catalog

if TYPE_CHECKING:
    from anju.services import Services
    from anju.web.pages.i18n import Lang
    from anju.web.pages.maps import Projection

# The colour lands in an SVG style attribute: anything but a plain hex colour from risk.yaml is replaced.
HEX = re.compile(r"^#[0-9a-fA-F]{3,8}$")
FALLBACK = "#8a939c"


def _colour(value: Any) -> str:
    return value if isinstance(value, str) and HEX.fullmatch(value) else FALLBACK


def _rings(geometry: dict[str, Any]) -> list[Sequence[Sequence[float]]]:
    if geometry.get("type") == "Polygon":
        return list(geometry["coordinates"])
    if geometry.get("type") == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    return []


def _path(geometry: dict[str, Any], proj: Projection) -> str:
    """Every ring as one closed subpath; holes stay holes through fill-rule evenodd in the stylesheet."""
    parts = []
    for ring in _rings(geometry):
        pts = [proj.xy(float(p[0]), float(p[1])) for p in ring]
        if len(pts) >= 3:
            parts.append("M" + "L".join(f"{x:g},{y:g}" for x, y in pts) + "Z")
    return "".join(parts)


def _people(value: Any) -> dict[str, Any]:
    """The risk map's aggregate, re-checked: a count is shown only when the risk map did not suppress it."""
    k = ops_catalog().special_population_k
    count = value.get("count") if isinstance(value, dict) else None
    # Defence in depth: whatever the risk map sent, a count below k never reaches the page.
    if not isinstance(value, dict) or value.get("suppressed") or not isinstance(count, int) or count < k:
        return {"count": None, "suppressed": True, "k": k}
    return {"count": count, "suppressed": False, "k": k}


def map_layer(svc: Services, estate: str, proj: Projection | None, lang: Lang) -> dict[str, Any]:
    """The zones in force for the map (lowest level first, so higher levels are drawn on top) and the
    levels for the legend. Without a projection (an estate with no geometry) the zones are listed only."""
    cat = ops_catalog()
    doc = risk.risk_map(svc, [estate])
    zones: list[dict[str, Any]] = []
    for feature in doc["features"]:
        p = feature["properties"]
        geometry = feature["geometry"]
        level = cat.risk_levels.get(str(p["level"]))
        zone: dict[str, Any] = {
            "id": p["id"],
            "name": p["name"],
            "hazard": p["hazard"],
            "hazard_label": p["hazard_zh"] if lang == "zh" else p["hazard_en"],
            "level": p["level"],
            "level_label": p["level_zh"] if lang == "zh" else p["level_en"],
            "rank": int(level.extra.get("rank", 0)) if level else 0,
            "colour": _colour(p.get("colour")),
            "assessed_on": p["assessed_on"],
            "stale": bool(p["stale"]),
            "reviewer": p["reviewer"],
            "people": _people(p.get("special_population")),
            "d": "",
            "x": None,
            "y": None,
        }
        if proj is not None:
            zone["d"] = _path(geometry, proj)
            point = shape(geometry).representative_point()
            zone["x"], zone["y"] = proj.xy(float(point.x), float(point.y))
        zones.append(zone)
    zones.sort(key=lambda z: (z["rank"], z["id"]))
    levels = [
        {
            "key": key,
            "label": entry.zh if lang == "zh" else entry.en,
            "colour": _colour(entry.extra.get("colour")),
        }
        for key, entry in sorted(cat.risk_levels.items(), key=lambda kv: int(kv[1].extra.get("rank", 0)))
        if any(z["level"] == key for z in zones)
    ]
    return {"zones": zones, "levels": levels}
