"""Mainland China telephone numbers: mobiles, landlines (with extension), 400/800 and short numbers."""

from __future__ import annotations

import re

from anju.standard.checks import CheckFailed

__all__ = ["check_phone"]

_MOBILE = r"1[3-9][0-9]{9}"
# 3-digit area codes (010, 02x) have 8-digit local numbers; 4-digit ones (03xx-09xx) have 7 or 8.
_LANDLINE = r"(?:010|02[0-9])[0-9]{8}|0[3-9][0-9]{2}[0-9]{7,8}"
_SERVICE = r"[48]00[0-9]{7}"
_SHORT = r"11[09]|12[02]|12345|95[0-9]{3,4}"

_RE_MOBILE = re.compile(_MOBILE)
_RE_ANY = re.compile(f"{_MOBILE}|{_LANDLINE}|{_SERVICE}|{_SHORT}")
_RE_LANDLINE = re.compile(_LANDLINE)
_RE_PREFIXED_MOBILE = re.compile(rf"(?:\+86|0086|86)({_MOBILE})")
# "+86 27 8765 4321": international form of a landline, the trunk 0 dropped.
_RE_INTL_LANDLINE = re.compile(r"(?:\+86|0086)0?([1-9][0-9]{9,10})")
_RE_EXTENSION = re.compile(r"[0-9]{1,6}")

# Full-width ASCII -> half-width; spaces and parentheses removed.  Dashes are kept for the extension logic.
_NORMALISE: dict[int, int | None] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_NORMALISE.update(dict.fromkeys(map(ord, " \u3000\t()（）"), None))
_NORMALISE[0xFF0D] = 0x2D  # full-width hyphen-minus
_NORMALISE[0x2014] = 0x2D  # em dash
_NORMALISE[0x2013] = 0x2D  # en dash


def _error(mobile_only: bool) -> CheckFailed:
    if mobile_only:
        return CheckFailed(
            "phone_format",
            "应为 11 位手机号码（1 开头，第 2 位为 3-9），可带 +86 前缀",
            "should be an 11-digit mobile number (1, then 3-9, then 9 digits), optionally with +86",
        )
    return CheckFailed(
        "phone_format",
        "应为 11 位手机号码、带区号的固定电话（可带“-分机号”）、400/800 服务号码或特服号码",
        "should be an 11-digit mobile number, a landline with its area code (optionally with -extension), "
        "a 400/800 service number or a short service number",
    )


def check_phone(value: str, *, mobile_only: bool = False) -> str:
    """Validate and normalise a telephone number; raise :class:`CheckFailed` (``phone_format``).

    Returns the digits only (a country prefix before a mobile is dropped); a landline extension stays
    separated by "-", e.g. ``02787654321-123``.
    """
    # Fast path: already normalised.
    if mobile_only:
        if _RE_MOBILE.fullmatch(value) is not None:
            return value
    elif _RE_ANY.fullmatch(value) is not None:
        return value

    s = value.translate(_NORMALISE)
    digits = s.replace("-", "") if "-" in s else s

    m = _RE_PREFIXED_MOBILE.fullmatch(digits)
    if m is not None:
        return m.group(1)
    if mobile_only:
        if _RE_MOBILE.fullmatch(digits) is not None:
            return digits
        raise _error(True)

    if "-" in s:
        # The last dash-separated group is an extension when what precedes it is a complete landline
        # ("027-87654321-123"); otherwise dashes are only grouping ("010-1234-5678").
        head, tail = s.rsplit("-", 1)
        if _RE_EXTENSION.fullmatch(tail) is not None:
            head = head.replace("-", "")
            if _RE_LANDLINE.fullmatch(head) is not None:
                return f"{head}-{tail}"
            m = _RE_INTL_LANDLINE.fullmatch(head)
            if m is not None and _RE_LANDLINE.fullmatch("0" + m.group(1)) is not None:
                return f"0{m.group(1)}-{tail}"

    if _RE_ANY.fullmatch(digits) is not None:
        return digits
    m = _RE_INTL_LANDLINE.fullmatch(digits)
    if m is not None:
        landline = "0" + m.group(1)
        if _RE_LANDLINE.fullmatch(landline) is not None:
            return landline
    raise _error(False)
