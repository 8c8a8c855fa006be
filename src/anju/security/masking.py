"""Masking of personal values for display: one place for API answers, pages, exports, logs and errors.

No national standard fixes the positions; these follow the de-facto patterns in
shared/reference/codes-crypto-masking.md §3 (phone 3+4, ID number 1+2, name keeps the first character).
"""

from __future__ import annotations

import re
from collections.abc import Callable


def _keep(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return "*" * len(value) if len(value) <= 2 else value[0] + "*" * (len(value) - 1)
    return value[:head] + "*" * (len(value) - head - tail) + (value[-tail:] if tail else "")


def mask_name(value: str) -> str:
    if len(value) <= 1:
        return "*"
    if len(value) == 2:
        return value[0] + "*"
    if len(value) == 3:
        return value[0] + "*" + value[2]
    return value[0] + "*" * (len(value) - 1)


def mask_phone(value: str) -> str:
    return _keep(value, 3, 4)


def mask_id_number(value: str) -> str:
    return _keep(value, 1, 2)


def mask_plate(value: str) -> str:
    return _keep(value, 3, 1)


def mask_address(value: str) -> str:
    return value[:6] + "****" if len(value) > 6 else _keep(value, 1, 0)


def mask_card(value: str) -> str:
    return _keep(value, 0, 4)


def mask_opaque(value: str) -> str:
    return f"[已隐藏 {len(value)} 字符]"


MASKERS: dict[str, Callable[[str], str]] = {
    "name": mask_name,
    "phone": mask_phone,
    "id_number": mask_id_number,
    "plate": mask_plate,
    "address": mask_address,
    "card": mask_card,
    "photo": mask_opaque,
    "biometric": mask_opaque,
}


def mask(kind: str | None, value: str) -> str:
    """Masked form of `value` for a personal kind; unknown kinds hide everything."""
    if kind is None:
        return value
    return MASKERS.get(kind, mask_opaque)(value)


# Digit runs shaped like a mainland mobile number or an ID number (18 or 15 characters), not inside a
# longer run of digits.
_EMBEDDED = re.compile(r"(?<![0-9])(?:\d{17}[\dXx]|\d{15}|1[3-9]\d{9})(?![0-9Xx])")


def mask_embedded_identifiers(text: str) -> str:
    """Mask phone- and ID-number-shaped runs inside free text (values that are not marked personal)."""

    def one(m: re.Match[str]) -> str:
        found = m.group(0)
        return mask_phone(found) if len(found) == 11 else mask_id_number(found)

    return _EMBEDDED.sub(one, text)
