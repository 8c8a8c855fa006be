"""Figures stated in a completion text (本社区完成情况), read with patterns written for each indicator.

A figure keeps the exact words it was read from (the evidence a reviewer checks), its value, and its
precision: counts of households, devices and estates are exact; areas and percentages are as precise as
their last written digit ("1.6平方公里" may be anything from 1.55 to 1.65). Keys are the Shandong fact keys
(SD.…) so the tier's own conditions can judge them; a stated rate is keyed "rate:" + its numerator's key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NUM = r"(?P<v>\d+(?:\.\d+)?)"
SP = r"[ \t\u3000\u00a0]*"  # spaces inside a figure ("100  %"); not line breaks


@dataclass(frozen=True)
class Figure:
    key: str
    value: float
    text: str  # the words the figure was read from
    decimals: int
    exact: bool  # a count: no rounding

    @property
    def unit(self) -> float:
        """One unit of the last written digit."""
        return 10.0**-self.decimals

    def bounds(self) -> tuple[float, float]:
        """The values this figure may stand for once rounded to its written digits."""
        if self.exact:
            return self.value, self.value
        half = self.unit / 2
        return self.value - half, self.value + half


@dataclass(frozen=True)
class Pattern:
    keys: tuple[str, ...]  # one figure may set several facts ("均达到95%": three rates)
    regex: re.Pattern[str]
    exact: bool


def _p(keys: str | tuple[str, ...], regex: str, exact: bool = True) -> Pattern:
    return Pattern((keys,) if isinstance(keys, str) else keys, re.compile(regex), exact)


RATE = r"率达到" + SP + NUM + SP + "%"
VIDEO_KEY = ("SD.video_key_coverage_pct", "SD.video_key_networked_pct", "SD.video_key_intact_pct")

# indicator id -> patterns (the same id in every tier; tier-specific wording is covered by alternatives)
PATTERNS: dict[str, tuple[Pattern, ...]] = {
    "broadband": (
        _p("rate:SD.gigabit_households", "覆盖" + RATE, exact=False),
        _p("SD.gigabit_households", r"千兆接入能力的家庭数" + SP + NUM + SP + "户"),
        _p("SD.households", r"社区家庭总数" + SP + NUM + SP + "户"),
    ),
    "mobile_5g": (
        _p("rate:SD.area_5g_km2", "覆盖" + RATE, exact=False),
        _p("SD.area_5g_km2", r"覆盖的区域面积是" + SP + NUM + SP + "平?方公里", exact=False),
        _p("SD.area_km2", r"社区总面积是" + SP + NUM + SP + "平?方公里", exact=False),
    ),
    "broadcast_tv": (
        _p("rate:SD.tv_households", "覆盖" + RATE, exact=False),
        _p("SD.tv_households", r"接入能力的家庭数" + SP + NUM + SP + "户"),
        _p("SD.households", r"社区家庭总数" + SP + NUM + SP + "户"),
    ),
    "smart_lighting": (
        _p("rate:SD.smart_lights", "安装" + RATE, exact=False),
        _p("SD.smart_lights", r"智能照明设备数" + SP + NUM + SP + "个"),
        _p("SD.public_lights", r"公共照明设备总数" + SP + NUM + SP + "个"),
    ),
    "home_energy": (
        _p("rate:SD.remote_meters", "安装" + RATE, exact=False),
        _p("SD.remote_meters", r"监控表数量" + SP + NUM + SP + "个"),
        _p("SD.households", r"社区家庭总数" + SP + NUM + SP + "户"),
    ),
    "smart_charging": (
        _p("SD.estates", r"社区内共" + SP + NUM + SP + "个小区"),
        _p("SD.ebike_estates", r"有电动自行车的小区有" + SP + NUM + SP + "个"),
    ),
    "video": (
        _p(VIDEO_KEY, r"均达到" + SP + NUM + SP + "%", exact=False),
        _p("SD.video_key_coverage_pct", r"关键位置的覆盖率" + SP + NUM + SP + "%", exact=False),
        _p("SD.video_key_networked_pct", r"联网率" + SP + NUM + SP + "%", exact=False),
        _p("SD.video_key_intact_pct", r"完好率" + SP + NUM + SP + "%", exact=False),
        _p("SD.video_image_rate_pct", r"出图" + RATE, exact=False),
        _p("SD.video_compliance_pct", r"合规" + RATE, exact=False),
    ),
    "elderly_care": (
        _p("rate:SD.residents_60_plus", r"占比" + SP + NUM + SP + "%", exact=False),
        _p("SD.elderly_services", r"提供" + SP + NUM + SP + "种"),
    ),
    "culture_sports": (
        _p("SD.book_corners", NUM + SP + r"个(?:共享图书角|智能共享图书柜)"),
        _p("SD.sports_venues_15min", NUM + SP + r"处体育场地"),
    ),
    "property_services": (
        _p("rate:SD.estates_smart_garbage", NUM + SP + r"%" + SP + r"小区实现垃圾分类", exact=False),
    ),
    "access_control": (
        _p("SD.closed_estates", r"(?<!非)封闭式小区" + SP + NUM + SP + "个"),
        _p("SD.closed_estates_access", NUM + SP + r"个小区出入口"),
        _p("unequipped", NUM + SP + r"个无主小区"),
    ),
    "perimeter": (
        _p("SD.closed_estates", r"(?<!非)封闭式小区" + SP + NUM + SP + "个"),
        _p("SD.closed_estates_perimeter", NUM + SP + r"个小区通过"),
        _p("unequipped", NUM + SP + r"个无主小区"),
    ),
    "throwing_from_height": (
        _p("SD.highrise_19f", r"19层及以上住宅\s*" + NUM + SP + "栋"),
        _p("SD.highrise_12f", r"12层及以上住宅\s*" + NUM + SP + "栋"),
    ),
    "fire_hazards": (
        _p("rate:SD.estates_fire_hazard_detection", NUM + SP + r"%" + SP + r"小区实现消防通道", exact=False),
        _p(
            "rate:SD.estates_ebike_elevator_detection",
            NUM + SP + r"%" + SP + r"小区实现电动车进电梯",
            exact=False,
        ),
    ),
    "publicity": (_p("SD.publicity_events", r"开展" + SP + NUM + SP + "次"),),
    "innovation": (
        _p("SD.city_promoted_scenarios", r"形成" + SP + NUM + SP + r"项在市级层面推广"),
        _p("SD.innovation_scenarios", r"(?:形成|打造)" + SP + NUM + SP + "项"),
    ),
    "satisfaction": (_p("SD.satisfaction_pct", r"满意度达到" + SP + NUM + SP + "%", exact=False),),
}

# the list after "分别为" / "为" that names the elderly-care services counted by "提供N种"
SERVICE_LIST = re.compile(r"提供[^，。；\n]*?种社区养老服务[，,]?\s*(?:分别为|为)(?P<list>[^。；\n]*)")
LIST_SPLIT = re.compile(r"[、，,；;]")


def figures(indicator_id: str, text: str) -> dict[str, list[Figure]]:
    """Every figure of the indicator's patterns found in the text, by key, in order of appearance."""
    found: dict[str, list[Figure]] = {}
    for pattern in PATTERNS.get(indicator_id, ()):
        for m in pattern.regex.finditer(text):
            raw = m.group("v")
            decimals = len(raw.split(".")[1]) if "." in raw else 0
            for key in pattern.keys:
                found.setdefault(key, []).append(
                    Figure(key, float(raw), m.group(0), decimals, pattern.exact and decimals == 0)
                )
    return found


@dataclass(frozen=True)
class ServiceList:
    words: str  # "提供…种社区养老服务，分别为A、B"
    raw: str  # the list as written, spaces included: "A、 B"
    items: tuple[str, ...]


def listed_services(text: str) -> ServiceList | None:
    """The list of elderly-care services that "提供N种" counts, if the text has one."""
    m = SERVICE_LIST.search(text)
    if not m:
        return None
    items = [i.strip(" \t\u3000") for i in LIST_SPLIT.split(m.group("list"))]
    items = [i.rstrip("等") for i in items if i]
    return ServiceList(m.group(0).strip(), m.group("list").rstrip(" \t\u3000"), tuple(items))
