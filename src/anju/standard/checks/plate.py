"""Motor vehicle plate numbers (机动车号牌号码, JDCHPHM) and their cross-check with the plate type (HPZL)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from anju.standard.checks import CheckFailed

__all__ = ["Plate", "check_plate", "check_plate_type"]

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_SERIAL = "[A-HJ-NP-Z0-9]"  # serial characters exclude I and O
_SUFFIXES = "挂学警港澳领试超"
_NE_TYPES = "DABCEFGHJK"  # D/F originally; other letters used since 2021

# One regex, one call: the name of the alternative that matched is the plate kind.
_RE_PLATE = re.compile(
    rf"(?P<normal>[{_PROVINCES}][A-HJ-NP-Z]{_SERIAL}{{4}}[A-HJ-NP-Z0-9{_SUFFIXES}])"
    rf"|(?P<new_energy_small>[{_PROVINCES}][A-HJ-NP-Z][{_NE_TYPES}]{_SERIAL}[0-9]{{4}})"
    rf"|(?P<new_energy_large>[{_PROVINCES}][A-HJ-NP-Z][0-9]{{5}}[{_NE_TYPES}])"
    r"|(?P<embassy>[0-9]{6}使|使[0-9]{6})"
)

# Full-width ASCII -> half-width, ASCII lower case -> upper case (str.upper() would also map e.g. "ſ" to "S"),
# and the separators that people type inside plates are removed.
_NORMALISE: dict[int, int | None] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_NORMALISE.update({cp: cp - 0x20 for cp in range(ord("a"), ord("z") + 1)})
_NORMALISE.update({cp: cp - 0xFEE0 - 0x20 for cp in range(0xFF41, 0xFF5B)})
_NORMALISE.update(dict.fromkeys(map(ord, "·•・‧∙.．-－ \u3000\t"), None))


@dataclass(frozen=True, slots=True)
class Plate:
    """A valid plate number (half-width, upper-case, without separators) and its kind."""

    number: str
    kind: str  # "normal" | "new_energy_small" | "new_energy_large" | "embassy"


def check_plate(value: str) -> Plate:
    """Validate and normalise a plate number; raise :class:`CheckFailed` (``plate_format``) when invalid."""
    m = _RE_PLATE.fullmatch(value)
    if m is None:
        value = value.translate(_NORMALISE)
        m = _RE_PLATE.fullmatch(value)
        if m is None:
            raise CheckFailed(
                "plate_format",
                "应为省份简称加发牌机关字母加 5 位序号（可带挂/学/警/港/澳/领/试/超），"
                "或 6 位新能源号牌序号，序号不含字母 I 和 O",
                "should be a province abbreviation, an issuing-authority letter and 5 serial characters "
                "(optionally ending in a suffix such as 挂/学/警), or 6 for a new-energy plate; "
                "serial characters exclude the letters I and O",
            )
    kind = m.lastgroup
    assert kind is not None
    return Plate(value, kind)


_SUFFIX_FOR_HPZL = {"15": "挂", "16": "学", "23": "警"}
_HPZL_NAMES = {
    "01": ("大型汽车号牌", "large vehicle"),
    "02": ("小型汽车号牌", "small vehicle"),
    "15": ("挂车号牌", "trailer"),
    "16": ("教练汽车号牌", "driving-school vehicle"),
    "23": ("警用汽车号牌", "police vehicle"),
    "51": ("大型新能源汽车号牌", "large new-energy vehicle"),
    "52": ("小型新能源汽车号牌", "small new-energy vehicle"),
}


def _mismatch(hpzl: str, zh_expect: str, en_expect: str) -> CheckFailed:
    zh_name, en_name = _HPZL_NAMES[hpzl]
    return CheckFailed(
        "plate_type_mismatch",
        f"与号牌种类 {hpzl}（{zh_name}）不符，应为{zh_expect}",
        f"does not match plate type {hpzl} ({en_name} plate); expected {en_expect}",
    )


def check_plate_type(plate: Plate, hpzl: str) -> None:
    """Cross-check a valid plate with its plate type code (GA 24.7); raise ``plate_type_mismatch``.

    Only the clear cases are checked: 51 needs a large new-energy plate, 52 a small one; 01/02 need an
    ordinary 7-character plate without a Chinese suffix (挂/学/警/港/澳/领/试/超 plates have their own types);
    15, 16 and 23 need an ordinary plate ending in 挂, 学 and 警.  Other codes are not checked.
    """
    kind = plate.kind
    if hpzl == "51":
        if kind != "new_energy_large":
            raise _mismatch(
                hpzl, "大型新能源号牌（8 位，末位为 D、F 等字母）", "a large new-energy plate (8 characters)"
            )
    elif hpzl == "52":
        if kind != "new_energy_small":
            raise _mismatch(
                hpzl,
                "小型新能源号牌（8 位，第 3 位为 D、F 等字母）",
                "a small new-energy plate (8 characters)",
            )
    elif hpzl == "01" or hpzl == "02":
        if kind != "normal" or plate.number[-1] in _SUFFIXES:
            raise _mismatch(
                hpzl,
                "普通 7 位号牌（不带挂、学、警等汉字后缀）",
                "an ordinary 7-character plate without a Chinese suffix",
            )
    else:
        suffix = _SUFFIX_FOR_HPZL.get(hpzl)
        if suffix is not None and (kind != "normal" or plate.number[-1] != suffix):
            raise _mismatch(hpzl, f"以“{suffix}”结尾的号牌", f"a plate ending in {suffix}")
