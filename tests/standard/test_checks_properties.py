"""Property tests for the pure field checks: on any input they return or raise CheckFailed, nothing else."""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from anju.standard.checks import (
    CheckFailed,
    IdNumber,
    Plate,
    check_date_range,
    check_id_number,
    check_image,
    check_latitude,
    check_longitude,
    check_phone,
    check_plate,
    check_plate_type,
    format_local,
    id_check_char,
    in_china,
    parse_datetime,
    sniff_image_type,
)

TODAY = date(2025, 6, 1)
SHANGHAI = ZoneInfo("Asia/Shanghai")
CHECK_CHARS = "0123456789X"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

SETTINGS = settings(max_examples=300, deadline=None)


def weighted_check_char(first17: str) -> str:
    """The textbook ISO 7064 MOD 11-2 computation, independent of the implementation's int(s, 13) trick."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


# Arbitrary strings: Unicode text, bytes read as latin-1, and huge strings up to 100,000 characters built by
# repetition (generating them character by character would be too slow).
huge_text = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=10), st.integers(1, 10_000))
any_text = st.one_of(
    st.text(),
    st.text(max_size=40),
    st.binary().map(lambda b: b.decode("latin-1")),
    huge_text,
)


def text_over(alphabet: str, max_size: int = 30) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, max_size=max_size)


def outcome(func: object, *args: object, **kwargs: object) -> object:
    """Call; return the result or the CheckFailed raised. Any other exception fails the test."""
    assert callable(func)
    try:
        return func(*args, **kwargs)
    except CheckFailed as err:
        assert err.code
        assert err.zh
        assert err.en
        return err


# ------------------------------------------------------------------------------------------------ ID number

ID_CODES = {"id_format", "id_region", "id_birth_date", "id_checksum"}
id_like = st.one_of(
    any_text,
    text_over("0123456789Xx", 20),
    st.text(alphabet="0123456789", min_size=15, max_size=15),
    st.text(alphabet="0123456789", min_size=17, max_size=17).flatmap(
        lambda s: st.sampled_from([s + c for c in "0123456789Xxy"])
    ),
    text_over("0123456789Xx１２３４５６７８９０ＸｘⅠ٣ \n-", 20),
)
regions = st.integers(100000, 999999).map(str)
sequences = st.integers(0, 999).map(lambda n: f"{n:03d}")
birth_dates = st.dates(min_value=date(1880, 1, 1), max_value=TODAY)


def region_lookup(known: bool | None) -> Callable[[str], bool] | None:
    return None if known is None else (lambda region: known)


@SETTINGS
@given(id_like, st.sampled_from([None, True, False]))
def test_id_any_input(value: str, known: bool | None) -> None:
    result = outcome(check_id_number, value, today=TODAY, region_known=region_lookup(known))
    if isinstance(result, CheckFailed):
        assert result.code in ID_CODES
        return
    assert isinstance(result, IdNumber)
    assert len(result.number) == 18
    assert result.number[:17].isdigit()
    assert result.number.isascii()
    assert result.number[17] == weighted_check_char(result.number[:17])
    assert date(1880, 1, 1) <= result.birth <= TODAY
    assert result.region_unknown is (known is False and result.number[0] != "9")
    # Idempotent: the normalised number validates to the same result.
    again = check_id_number(result.number, today=TODAY, region_known=region_lookup(known))
    assert again.number == result.number
    assert again.birth == result.birth


@SETTINGS
@given(regions, birth_dates, sequences, st.booleans())
def test_id_built_valid(region: str, birth: date, seq: str, lower_x: bool) -> None:
    first17 = f"{region}{birth:%Y%m%d}{seq}"
    check = id_check_char(first17)
    assert check == weighted_check_char(first17)
    value = first17 + (check.lower() if lower_x else check)
    result = check_id_number(value, today=TODAY)
    assert result == IdNumber(first17 + check, birth, "1" if int(seq) % 2 else "2", region, False, False)


@SETTINGS
@given(regions, birth_dates, sequences, st.integers(1, 10))
def test_id_flipped_check_char_fails(region: str, birth: date, seq: str, shift: int) -> None:
    first17 = f"{region}{birth:%Y%m%d}{seq}"
    check = id_check_char(first17)
    wrong = CHECK_CHARS[(CHECK_CHARS.index(check) + shift) % 11]
    try:
        check_id_number(first17 + wrong, today=TODAY)
    except CheckFailed as err:
        assert err.code == "id_checksum"
        assert err.en == f"the check character should be {check}"
        assert err.zh == f"校验位应为 {check}"
    else:
        raise AssertionError("a wrong check character was accepted")


@SETTINGS
@given(regions, birth_dates, sequences, st.integers(0, 16), st.integers(1, 9))
def test_id_changed_digit_fails(region: str, birth: date, seq: str, pos: int, delta: int) -> None:
    """MOD 11-2 detects every single-digit substitution."""
    value = f"{region}{birth:%Y%m%d}{seq}"
    value += id_check_char(value)
    changed = value[:pos] + str((int(value[pos]) + delta) % 10) + value[pos + 1 :]
    result = outcome(check_id_number, changed, today=TODAY)
    assert isinstance(result, CheckFailed)
    assert result.code in {"id_checksum", "id_birth_date", "id_region"}


@SETTINGS
@given(regions, st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)), sequences)
def test_id_legacy15_upgrade(region: str, birth: date, seq: str) -> None:
    value15 = f"{region}{birth:%y%m%d}{seq}"
    result = check_id_number(value15, today=TODAY)
    first17 = f"{region}{birth:%Y%m%d}{seq}"
    assert result == IdNumber(
        first17 + weighted_check_char(first17), birth, "1" if int(seq) % 2 else "2", region, True, False
    )
    upgraded = check_id_number(result.number, today=TODAY)
    assert upgraded.number == result.number
    assert (upgraded.birth, upgraded.sex_code, upgraded.region) == (
        result.birth,
        result.sex_code,
        result.region,
    )
    assert upgraded.legacy15 is False


@SETTINGS
@given(regions, st.dates(min_value=TODAY + timedelta(days=1)), sequences)
def test_id_future_birth_fails(region: str, birth: date, seq: str) -> None:
    first17 = f"{region}{birth:%Y%m%d}{seq}"
    result = outcome(check_id_number, first17 + id_check_char(first17), today=TODAY)
    assert isinstance(result, CheckFailed)
    assert result.code == "id_birth_date"


# ---------------------------------------------------------------------------------------------------- plate

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_ALPHABET = PROVINCES[:6] + "ABDFHIOZadz0189挂学警港使·•- Ａｚ１港澳领"
HPZL = ["01", "02", "03", "04", "15", "16", "23", "26", "51", "52", "99", "", "5", "xx"]
SERIAL = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


@SETTINGS
@given(st.one_of(any_text, text_over(PLATE_ALPHABET, 10)), st.sampled_from(HPZL))
def test_plate_any_input(value: str, hpzl: str) -> None:
    result = outcome(check_plate, value)
    if isinstance(result, CheckFailed):
        assert result.code == "plate_format"
        return
    assert isinstance(result, Plate)
    assert check_plate(result.number) == result
    assert len(result.number) == (8 if result.kind.startswith("new_energy") else 7)
    assert "I" not in result.number
    assert "O" not in result.number
    mismatch = outcome(check_plate_type, result, hpzl)
    assert mismatch is None or (isinstance(mismatch, CheckFailed) and mismatch.code == "plate_type_mismatch")


@SETTINGS
@given(
    st.sampled_from(PROVINCES),
    st.sampled_from(SERIAL[:24]),
    st.text(alphabet=SERIAL, min_size=5, max_size=5),
    st.sampled_from(["", "·", " ", "-", "•"]),
)
def test_plate_built_normal(province: str, authority: str, serial: str, sep: str) -> None:
    plate = check_plate(f"{province}{authority}{sep}{serial.lower()}")
    assert plate.number == f"{province}{authority}{serial}"
    assert plate.kind == "normal"
    check_plate_type(plate, "02")


# ---------------------------------------------------------------------------------------------------- phone


@SETTINGS
@given(st.one_of(any_text, text_over("0123456789+-() （）", 25)), st.booleans())
def test_phone_any_input(value: str, mobile_only: bool) -> None:
    result = outcome(check_phone, value, mobile_only=mobile_only)
    if isinstance(result, CheckFailed):
        assert result.code == "phone_format"
        return
    assert isinstance(result, str)
    assert result.replace("-", "").isdigit()
    assert result.isascii()
    assert result.count("-") <= 1
    if mobile_only:
        assert len(result) == 11
        assert result[0] == "1"
    assert check_phone(result, mobile_only=mobile_only) == result


@SETTINGS
@given(
    st.integers(3, 9),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
    st.sampled_from(["", "+86", "+86 ", "0086", "86", "+86-"]),
    st.sampled_from(["{}", "{} {} {}", "{}-{}-{}"]),
)
def test_phone_built_mobile(second: int, rest: str, prefix: str, layout: str) -> None:
    mobile = f"1{second}{rest}"
    shown = layout.format(mobile[:3], mobile[3:7], mobile[7:]) if layout != "{}" else mobile
    assert check_phone(prefix + shown, mobile_only=True) == mobile
    assert check_phone(prefix + shown) == mobile


# ------------------------------------------------------------------------------------------------------ geo


@SETTINGS
@given(st.one_of(st.floats(), st.integers(-1000, 1000), st.floats(-200, 200)))
def test_coordinates_any_input(value: float) -> None:
    for func, low, high, box in (
        (check_longitude, -180, 180, (72.004, 137.8347)),
        (check_latitude, -90, 90, (0.8293, 55.8271)),
    ):
        result = outcome(func, value)
        if isinstance(result, CheckFailed):
            assert result.code in {"coord_range", "coord_outside_china"}
            if result.code == "coord_outside_china":
                assert low - 1e-6 <= value <= high + 1e-6
            else:
                assert math.isnan(value) or not low <= value <= high
            continue
        assert isinstance(result, float | int)
        assert box[0] <= result <= box[1]
        assert abs(result - value) <= 6e-7
        assert round(result, 6) == result
    assert isinstance(in_china(value, value), bool)


@SETTINGS
@given(st.floats(70, 140), st.floats(0, 60))
def test_in_china_agrees_with_checks(lng: float, lat: float) -> None:
    lng_ok = not isinstance(outcome(check_longitude, lng), CheckFailed)
    lat_ok = not isinstance(outcome(check_latitude, lat), CheckFailed)
    if in_china(lng, lat):
        assert lng_ok
        assert lat_ok


# ------------------------------------------------------------------------------------------------- datetime

DATE_CODES = {"date_format", "date_invalid", "date_too_early"}
zones = st.sampled_from(
    [SHANGHAI, ZoneInfo("UTC"), ZoneInfo("America/New_York"), ZoneInfo("Pacific/Kiritimati")]
)
datetime_like = st.one_of(
    any_text,
    text_over("0123456789-:T Z+.", 30),
    st.text(alphabet="0123456789", min_size=8, max_size=14),
    st.builds(
        lambda d, t, tail: f"{d}{t}{tail}",
        st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
        st.sampled_from(["", " ", "T"]),
        st.from_regex(
            r"([0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?(Z|[+-][0-9]{2}:?[0-9]{2})?)?", fullmatch=True
        ),
    ),
)


@SETTINGS
@given(datetime_like, zones)
def test_parse_datetime_any_input(value: str, tz: ZoneInfo) -> None:
    result = outcome(parse_datetime, value, tz=tz)
    if isinstance(result, CheckFailed):
        assert result.code in DATE_CODES
        return
    assert isinstance(result, datetime)
    assert result.tzinfo is UTC
    outcome(check_date_range, result, now=datetime(2025, 6, 1, tzinfo=UTC), max_future=timedelta(days=1))
    if 1880 <= result.year <= 9998:
        assert len(format_local(result, SHANGHAI)) == 19


@SETTINGS
@given(st.datetimes(min_value=datetime(1880, 1, 2), max_value=datetime(9999, 12, 30)), zones)
def test_parse_datetime_round_trip(local: datetime, tz: ZoneInfo) -> None:
    """A local time written in each accepted shape parses to the same instant."""
    local = local.replace(microsecond=0)
    expected = local.replace(tzinfo=tz).astimezone(UTC)
    for text in (
        f"{local:%Y-%m-%d %H:%M:%S}",
        f"{local:%Y-%m-%dT%H:%M:%S}",
        f"{local:%Y%m%d%H%M%S}",
    ):
        assert parse_datetime(text, tz=tz) == expected
    midnight = local.replace(hour=0, minute=0, second=0).replace(tzinfo=tz).astimezone(UTC)
    assert parse_datetime(f"{local:%Y-%m-%d}", tz=tz) == midnight
    assert parse_datetime(f"{local:%Y%m%d}", tz=tz) == midnight
    assert parse_datetime(f"{local:%Y-%m-%dT%H:%M:%S}Z", tz=tz) == local.replace(tzinfo=UTC)


@SETTINGS
@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=365)),
)
def test_check_date_range(dt: datetime, now: datetime, max_future: timedelta) -> None:
    result = outcome(check_date_range, dt, now=now, max_future=max_future)
    if dt < datetime(1880, 1, 1, tzinfo=UTC):
        assert isinstance(result, CheckFailed)
        assert result.code == "date_too_early"
    elif dt > now + max_future:
        assert isinstance(result, CheckFailed)
        assert result.code == "date_future"
        assert format_local(now + max_future, SHANGHAI) in result.en
    else:
        assert result is None


# ----------------------------------------------------------------------------------------------------- blob

BLOB_CODES = {"blob_base64", "blob_too_large", "blob_type"}
MAGIC = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"RIFF\x00\x00\x00\x00WEBP", b""]
base64_like = st.one_of(
    any_text,
    text_over("ABCDEFabcdef0123456789+/-_= \n", 40),
    st.builds(
        lambda prefix, body: prefix + body,
        st.sampled_from(["", "data:image/png;base64,", "data:,", "data:image/jpeg;base64"]),
        st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
    ),
)


@SETTINGS
@given(base64_like, st.integers(0, 200))
def test_check_image_any_input(value: str, max_bytes: int) -> None:
    result = outcome(check_image, value, max_bytes=max_bytes)
    if isinstance(result, CheckFailed):
        assert result.code in BLOB_CODES
        return
    assert isinstance(result, bytes)
    assert len(result) <= max_bytes
    assert sniff_image_type(result) is not None


@SETTINGS
@given(
    st.sampled_from(MAGIC),
    st.binary(max_size=300),
    st.sampled_from(["std", "url", "nopad", "wrapped", "data"]),
    st.integers(0, 400),
)
def test_check_image_round_trip(magic: bytes, body: bytes, style: str, max_bytes: int) -> None:
    data = magic + body
    text = base64.b64encode(data).decode()
    if style == "url":
        text = base64.urlsafe_b64encode(data).decode()
    elif style == "nopad":
        text = text.rstrip("=")
    elif style == "wrapped":
        text = base64.encodebytes(data).decode()
    elif style == "data":
        text = "data:image/whatever;base64," + text
    result = outcome(check_image, text, max_bytes=max_bytes)
    if len(data) > max_bytes:
        assert isinstance(result, CheckFailed)
        assert result.code == "blob_too_large"
    elif sniff_image_type(data) is None:
        assert isinstance(result, CheckFailed)
        assert result.code == "blob_type"
    else:
        assert result == data


@SETTINGS
@given(st.binary(max_size=64))
def test_sniff_any_bytes(data: bytes) -> None:
    assert sniff_image_type(data) in {None, "jpeg", "png", "gif", "bmp", "webp"}
