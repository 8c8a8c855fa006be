"""Pure field checks of the Wuhan data standard.

Every check takes an already-stripped value and either returns the normalised value or raises
:class:`CheckFailed`.  The checks never raise anything else on ``str`` input, allocate no tables per call
and take fast paths for well-formed values, because record validation calls them in a hot loop.

:class:`CheckFailed` carries a machine-readable ``code`` and a short Chinese and English sentence saying what
is wrong and what is expected.  The sentences never name the field and never echo the value: the caller
adds the field name and the (masked where personal) value.
"""

from __future__ import annotations


class CheckFailed(ValueError):
    """A field value failed a check of the data standard."""

    code: str
    zh: str
    en: str

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(f"{code}: {en}")
        self.code = code
        self.zh = zh
        self.en = en

    def __reduce__(self) -> tuple[type[CheckFailed], tuple[str, str, str]]:
        return (type(self), (self.code, self.zh, self.en))

    def __repr__(self) -> str:
        return f"CheckFailed({self.code!r}, {self.zh!r}, {self.en!r})"


# The submodules import CheckFailed from this module, so it must be defined first.
from anju.standard.checks.blob import check_image, sniff_image_type  # noqa: E402
from anju.standard.checks.datetimes import check_date_range, format_local, parse_datetime  # noqa: E402
from anju.standard.checks.geo import check_latitude, check_longitude, in_china  # noqa: E402
from anju.standard.checks.idnumber import IdNumber, check_id_number, id_check_char  # noqa: E402
from anju.standard.checks.phone import check_phone  # noqa: E402
from anju.standard.checks.plate import Plate, check_plate, check_plate_type  # noqa: E402

__all__ = [
    "CheckFailed",
    "IdNumber",
    "Plate",
    "check_date_range",
    "check_id_number",
    "check_image",
    "check_latitude",
    "check_longitude",
    "check_phone",
    "check_plate",
    "check_plate_type",
    "format_local",
    "id_check_char",
    "in_china",
    "parse_datetime",
    "sniff_image_type",
]
