"""GB 11643-1999 citizen identity numbers (公民身份号码, GMSFHM/ZJHM).

18 characters: 6-digit address code, birth date YYYYMMDD, 3-digit sequence (odd = male, even = female) and
an ISO 7064 MOD 11-2 check character.  Legacy 15-digit numbers (address, YYMMDD, sequence, no check
character) are accepted and upgraded to 18.  The 2023 foreign permanent residence ID card (first digit 9)
has the same layout and check character.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from anju.standard.checks import CheckFailed

__all__ = ["IdNumber", "check_id_number", "id_check_char"]

_CHECK_CHARS = "10X98765432"
_EARLIEST_BIRTH = date(1880, 1, 1)
# YYYYMMDD -> date for the accepted birth dates seen so far: saves the int() and date() calls on the hot path.
# Only real dates from 1880-01-01 to `today` go in, so it holds at most ~53,000 small entries (a few MB).
_BIRTH_CACHE: dict[str, date] = {}

# ASCII digits only: \d would also match other Unicode digits.
_RE_18 = re.compile(r"[0-9]{17}[0-9Xx]")
_RE_15 = re.compile(r"[0-9]{15}")

# Full-width digits and X/x (common in spreadsheet data) -> ASCII; only used on the slow path.
_FULLWIDTH = {0xFF10 + i: 0x30 + i for i in range(10)} | {0xFF38: 0x58, 0xFF58: 0x78}


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A valid identity number, normalised to 18 characters with an upper-case X."""

    number: str
    birth: date
    sex_code: str  # "1" male (odd sequence), "2" female (even sequence)
    region: str  # the 6-digit address code
    legacy15: bool  # given as a 15-digit number and upgraded
    region_unknown: bool  # region_known() said the address code is not known (a warning, not an error)


def id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of 17 ASCII digits.

    S = sum(d_i * (2**(17-i) mod 11)) and int(s, 13) = sum(d_i * 13**(16-i)); since 13 = 2 (mod 11),
    S = 2 * int(s, 13) (mod 11).  This is the python-stdnum formulation and much faster than the weighted sum.
    """
    return _CHECK_CHARS[(2 * int(first17, 13)) % 11]


def _format_error(length: int) -> CheckFailed:
    return CheckFailed(
        "id_format",
        f"应为 18 位（17 位数字加校验位 0-9 或 X）或 15 位数字，实际为 {length} 位",
        f"should be 18 characters (17 digits and a check character 0-9 or X) or 15 digits; got {length}",
    )


def _char_error() -> CheckFailed:
    return CheckFailed(
        "id_format",
        "应为 18 位（17 位数字加校验位 0-9 或 X）或 15 位数字，含有不允许的字符",
        "should be 18 characters (17 digits and a check character 0-9 or X) or 15 digits; "
        "it contains characters that are not allowed",
    )


def check_id_number(
    value: str,
    *,
    today: date,
    region_known: Callable[[str], bool] | None = None,
) -> IdNumber:
    """Validate and normalise an identity number; raise :class:`CheckFailed` when invalid.

    Codes: ``id_format`` (length or characters), ``id_region`` (the address code cannot be a region code),
    ``id_birth_date`` (impossible, future or before 1880-01-01) and ``id_checksum``.  When ``region_known`` is
    given and returns False the number is still accepted with ``region_unknown=True``: abolished address codes
    are legitimately still in circulation.  ``region_known`` is not consulted for foreign permanent residence
    IDs (first digit 9), whose address part is a province and country code.
    """
    if _RE_18.fullmatch(value) is not None:
        legacy15 = False
    elif _RE_15.fullmatch(value) is not None:
        legacy15 = True
    else:
        if value.isascii():
            n = len(value)
            raise _char_error() if n in (15, 18) else _format_error(n)
        converted = value.translate(_FULLWIDTH)
        if _RE_18.fullmatch(converted) is not None:
            legacy15 = False
        elif _RE_15.fullmatch(converted) is not None:
            legacy15 = True
        else:
            n = len(value)
            raise _char_error() if n in (15, 18) else _format_error(n)
        value = converted

    if isinstance(today, datetime):  # a datetime is a date, but it cannot be compared with one
        today = today.date()
    if value[0] == "0":
        raise CheckFailed(
            "id_region",
            "前 6 位地址码应为行政区划代码，首位应为 1-9",
            "the first 6 digits should be an administrative region code starting with 1-9",
        )

    if legacy15:
        key = "19" + value[6:12]
        sequence_last = value[14]
    else:
        key = value[6:14]
        sequence_last = value[16]
    birth = _BIRTH_CACHE.get(key)
    if birth is None:
        try:
            birth = date(int(key[:4]), int(key[4:6]), int(key[6:]))
        except ValueError:
            raise CheckFailed(
                "id_birth_date",
                "出生日期部分不是有效的日期",
                "the birth date part is not a valid calendar date",
            ) from None
        if birth < _EARLIEST_BIRTH:
            raise CheckFailed(
                "id_birth_date",
                "出生日期不应早于 1880-01-01",
                "the birth date should not be earlier than 1880-01-01",
            )
        if birth <= today:
            _BIRTH_CACHE[key] = birth
    if birth > today:
        raise CheckFailed(
            "id_birth_date",
            "出生日期不应晚于今天",
            "the birth date should not be later than today",
        )

    if legacy15:
        first17 = f"{value[:6]}19{value[6:]}"
        number = first17 + _CHECK_CHARS[(2 * int(first17, 13)) % 11]
    else:
        expected = _CHECK_CHARS[(2 * int(value[:17], 13)) % 11]
        given = value[17]
        if given != expected:
            if given == "x" and expected == "X":
                value = value[:17] + "X"
            else:
                raise CheckFailed(
                    "id_checksum",
                    f"校验位应为 {expected}",
                    f"the check character should be {expected}",
                )
        number = value

    region = number[:6]
    region_unknown = region_known is not None and number[0] != "9" and not region_known(region)
    return IdNumber(
        number,
        birth,
        "1" if sequence_last in "13579" else "2",
        region,
        legacy15,
        region_unknown,
    )
