"""Standard addresses (标准地址): how a house's address is written, and the key addresses are matched by.

Records name a house by its address text (FANGWU_DZMC, MPH), typed by different systems: full-width
digits, spaces, 3号楼 / 3幢 / 3栋, 301室 / 301号 / 301. `normalise` folds those spellings into one key so
that a resident registration finds the house a building record created. It does not guess beyond that:
an address that still does not match stays on the residence, unlinked, until a house with that key
appears or staff link it.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[\s\u3000·・,，、\-－—_/]+")
# 3号楼, 3幢, 3座, 3#, 3号楼栋 -> 3栋 (a building number followed by one of its usual suffixes)
_BUILDING = re.compile(r"(\d+)(?:号楼|号栋|幢|座|#楼|#|楼栋|号幢|栋)")
_UNIT = re.compile(r"(\d+)(?:单元|号单元)")
# a house number at the end: 301室, 301号, 301号房, 301房, 301户 -> 301
_HOUSE = re.compile(r"(\d+)(?:室|号房|房|号|户)$")


def normalise(text: str) -> str:
    """The matching key of an address: NFKC, no spaces or separators, one spelling per part."""
    key = unicodedata.normalize("NFKC", text).strip()
    key = _SPACES.sub("", key)
    key = _BUILDING.sub(r"\1栋", key)
    key = _UNIT.sub(r"\1单元", key)
    key = _HOUSE.sub(r"\1", key)
    return key


def house_address(building_address: str, building_name: str, unit_name: str | None, number: str) -> str:
    """The standard address of a house: the building's address, its number, unit and house number.

    Parts the building address already ends with are not repeated (building records often write the
    building into DZ)."""
    address = building_address.strip()
    for part in (building_name, unit_name):
        if part and not normalise(address).endswith(normalise(part)):
            address += part.strip()
    number = number.strip()
    if number and not normalise(address).endswith(normalise(number)):
        address += number if number.endswith("室") else f"{number}室"
    return address
