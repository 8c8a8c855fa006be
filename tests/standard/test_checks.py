"""Unit tests for the pure field checks (anju.standard.checks)."""

from __future__ import annotations

import base64
import pickle
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

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


def _fails(code: str, func: object, *args: object, **kwargs: object) -> CheckFailed:
    assert callable(func)
    with pytest.raises(CheckFailed) as info:
        func(*args, **kwargs)
    assert info.value.code == code, (info.value.code, info.value.en)
    assert info.value.zh
    assert info.value.en
    return info.value


# --------------------------------------------------------------------------------------------- CheckFailed


def test_check_failed_fields_and_pickle() -> None:
    err = CheckFailed("id_checksum", "校验位应为 7", "the check character should be 7")
    assert isinstance(err, ValueError)
    assert (err.code, err.zh, err.en) == ("id_checksum", "校验位应为 7", "the check character should be 7")
    assert "id_checksum" in str(err)
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.code, copy.zh, copy.en) == (err.code, err.zh, err.en)
    assert "CheckFailed('id_checksum'" in repr(err)


# ------------------------------------------------------------------------------------------------ ID number


def _weighted_check_char(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


@pytest.mark.parametrize(
    ("value", "birth", "sex"),
    [
        ("11010519491231002X", date(1949, 12, 31), "2"),
        ("440524188001010014", date(1880, 1, 1), "1"),
        ("360426199101010071", date(1991, 1, 1), "1"),
    ],
)
def test_id_vectors(value: str, birth: date, sex: str) -> None:
    result = check_id_number(value, today=TODAY)
    assert result == IdNumber(value, birth, sex, value[:6], False, False)
    assert id_check_char(value[:17]) == value[17] == _weighted_check_char(value[:17])


def test_id_lowercase_x_normalised() -> None:
    assert check_id_number("11010519491231002x", today=TODAY).number == "11010519491231002X"


def test_id_fullwidth_normalised() -> None:
    result = check_id_number("１１０１０５１９４９１２３１００２ｘ", today=TODAY)
    assert result.number == "11010519491231002X"


def test_id_result_is_frozen() -> None:
    result = check_id_number("11010519491231002X", today=TODAY)
    with pytest.raises(AttributeError):
        result.number = "x"  # type: ignore[misc]


def test_id_legacy15_upgraded() -> None:
    result = check_id_number("110105491231002", today=TODAY)
    assert result == IdNumber("11010519491231002X", date(1949, 12, 31), "2", "110105", True, False)
    # The upgraded number validates as an 18-digit one.
    again = check_id_number(result.number, today=TODAY)
    assert (again.birth, again.sex_code, again.region, again.legacy15) == (
        result.birth,
        result.sex_code,
        result.region,
        False,
    )


def test_id_foreign_permanent_residence() -> None:
    first17 = "93615619900101001"
    value = first17 + id_check_char(first17)
    result = check_id_number(value, today=TODAY, region_known=lambda region: False)
    assert result.number == value
    assert result.region_unknown is False  # not an administrative region: the lookup is skipped


def test_id_region_unknown_is_a_flag_not_an_error() -> None:
    seen: list[str] = []

    def known(region: str) -> bool:
        seen.append(region)
        return region != "440524"

    assert check_id_number("440524188001010014", today=TODAY, region_known=known).region_unknown is True
    assert check_id_number("11010519491231002X", today=TODAY, region_known=known).region_unknown is False
    assert seen == ["440524", "110105"]


@pytest.mark.parametrize(
    "value",
    [
        "1101051949123100",  # 16
        "11010519491231002",  # 17
        "11010519491231002XX",  # 19
        "1",
        "11010519491231002Y",
        "1101051949123100X2",  # X not in the last place
        "X10105491231002",
        "11010519491231 02X",
        "11010519491231002X\n",
        "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X",  # Arabic-Indic digits are not accepted
        "１１０１０５",
    ],
)
def test_id_format(value: str) -> None:
    err = _fails("id_format", check_id_number, value, today=TODAY)
    if len(value) > 3:  # the message never echoes the value
        assert value not in err.zh
        assert value not in err.en


def test_id_format_message_gives_length() -> None:
    assert "17" in _fails("id_format", check_id_number, "11010519491231002", today=TODAY).en


@pytest.mark.parametrize("value", ["010105194912310023", "000000194912310020", "010105491231002"])
def test_id_region_shape(value: str) -> None:
    _fails("id_region", check_id_number, value, today=TODAY)


@pytest.mark.parametrize(
    ("first17", "reason"),
    [
        ("11010519490230002", "impossible"),
        ("11010519491301002", "month 13"),
        ("11010519490001002", "month 0"),
        ("11010519490100002", "day 0"),
        ("11010519000229002", "1900 is not a leap year"),
        ("11010518791231002", "before 1880"),
        ("11010520250602002", "after today"),
        ("11010599991231002", "far future"),
        ("11010500000101002", "year 0"),
    ],
)
def test_id_birth_date(first17: str, reason: str) -> None:
    _fails("id_birth_date", check_id_number, first17 + id_check_char(first17), today=TODAY)


def test_id_birth_date_today_ok_and_leap_day() -> None:
    for first17 in ("11010520250601002", "11010520000229002", "11010518800101001"):
        assert check_id_number(first17 + id_check_char(first17), today=TODAY).number.startswith(first17)


def test_id_birth_date_is_checked_against_each_today() -> None:
    value = "11010520250601002" + id_check_char("11010520250601002")
    check_id_number(value, today=TODAY)  # caches the birth date
    _fails("id_birth_date", check_id_number, value, today=TODAY - timedelta(days=1))


def test_id_today_may_be_a_datetime() -> None:
    value = "11010520250601002" + id_check_char("11010520250601002")
    assert check_id_number(value, today=datetime(2025, 6, 1, 12, 0)).birth == date(2025, 6, 1)
    _fails("id_birth_date", check_id_number, value, today=datetime(2025, 5, 31, 23, 59))


def test_id_legacy15_birth_date() -> None:
    _fails("id_birth_date", check_id_number, "110105490230002", today=TODAY)
    _fails("id_birth_date", check_id_number, "110105000229002", today=TODAY)  # 1900-02-29


@pytest.mark.parametrize("wrong", ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"])
def test_id_checksum_message(wrong: str) -> None:
    err = _fails("id_checksum", check_id_number, "11010519491231002" + wrong, today=TODAY)
    assert err.zh == "校验位应为 X"
    assert err.en == "the check character should be X"


def test_id_checksum_lowercase_x_when_digit_expected() -> None:
    err = _fails("id_checksum", check_id_number, "36042619910101007x", today=TODAY)
    assert err.zh == "校验位应为 1"


# ---------------------------------------------------------------------------------------------------- plate


@pytest.mark.parametrize(
    ("value", "number", "kind"),
    [
        ("京A12345", "京A12345", "normal"),
        ("粤B1234学", "粤B1234学", "normal"),
        ("京A1234警", "京A1234警", "normal"),
        ("粤Z1234港", "粤Z1234港", "normal"),
        ("粤Z1234澳", "粤Z1234澳", "normal"),
        ("鄂A1234挂", "鄂A1234挂", "normal"),
        ("沪A1234领", "沪A1234领", "normal"),
        ("鄂AB123C", "鄂AB123C", "normal"),
        ("沪AD12345", "沪AD12345", "new_energy_small"),
        ("鄂AFA1234", "鄂AFA1234", "new_energy_small"),
        ("鄂AA12345", "鄂AA12345", "new_energy_small"),
        ("苏E12345D", "苏E12345D", "new_energy_large"),
        ("苏E12345F", "苏E12345F", "new_energy_large"),
        ("224001使", "224001使", "embassy"),
        ("使224001", "使224001", "embassy"),
        # normalisation
        ("京A·12345", "京A12345", "normal"),
        ("京A•12345", "京A12345", "normal"),
        ("京A 12345", "京A12345", "normal"),
        ("京A-12345", "京A12345", "normal"),
        ("京a12345", "京A12345", "normal"),
        ("京Ａ１２３４５", "京A12345", "normal"),
        ("京ａ－１２３４５", "京A12345", "normal"),
        ("鄂a·d12345", "鄂AD12345", "new_energy_small"),
        ("苏Ｅ１２３４５ｄ", "苏E12345D", "new_energy_large"),
        ("京A\u300012345", "京A12345", "normal"),
    ],
)
def test_plate_valid(value: str, number: str, kind: str) -> None:
    assert check_plate(value) == Plate(number, kind)


@pytest.mark.parametrize(
    "value",
    [
        "京AI2345",  # I in the serial
        "京AO2345",  # O in the serial
        "京I12345",  # I as the authority letter
        "浙AF0A123",  # NE small: last 4 must be digits
        "京A1234",  # 6 characters
        "京A123456",  # 8 characters, not NE
        "京A12345D6",
        "A123456",
        "港A12345",  # not a province abbreviation
        "京112345",
        "京A1234使",
        "京AL12345",  # L is not a NE type letter
        "京A12345Z",  # 8 chars ending in a letter that is not a NE type
        "苏E1234DD",
        "12345使",
        "京Aſ2345",  # "ſ".upper() == "S": no Unicode case mapping
        "",
        "京",
    ],
)
def test_plate_format(value: str) -> None:
    err = _fails("plate_format", check_plate, value)
    assert value not in err.en or not value


@pytest.mark.parametrize(
    ("number", "hpzl"),
    [
        ("苏E12345D", "51"),
        ("沪AD12345", "52"),
        ("京A12345", "01"),
        ("京A12345", "02"),
        ("京A1234警", "23"),
        ("鄂A1234挂", "15"),
        ("鄂A1234学", "16"),
        # codes without a check
        ("224001使", "03"),
        ("沪A1234领", "04"),
        ("粤Z1234港", "26"),
        ("京A12345", "99"),
        ("沪AD12345", "07"),
        ("京A12345", ""),
    ],
)
def test_plate_type_ok(number: str, hpzl: str) -> None:
    check_plate_type(check_plate(number), hpzl)


@pytest.mark.parametrize(
    ("number", "hpzl"),
    [
        ("京A12345", "51"),
        ("沪AD12345", "51"),
        ("京A12345", "52"),
        ("苏E12345D", "52"),
        ("沪AD12345", "01"),
        ("苏E12345D", "02"),
        ("224001使", "02"),
        ("京A1234警", "02"),
        ("鄂A1234学", "01"),
        ("京A12345", "23"),
        ("京A1234学", "23"),
        ("京A12345", "15"),
        ("京A12345", "16"),
        ("沪AD12345", "16"),
    ],
)
def test_plate_type_mismatch(number: str, hpzl: str) -> None:
    err = _fails("plate_type_mismatch", check_plate_type, check_plate(number), hpzl)
    assert hpzl in err.zh
    assert number not in err.zh


# ---------------------------------------------------------------------------------------------------- phone


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13812345678", "13812345678"),
        ("19912345678", "19912345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+86-13812345678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("(+86)13812345678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("02787654321", "02787654321"),
        ("027-87654321", "02787654321"),
        ("(027)87654321", "02787654321"),
        ("（027）87654321", "02787654321"),
        ("010-1234-5678", "01012345678"),
        ("0755-1234567", "07551234567"),
        ("0755-12345678", "075512345678"),
        ("027-87654321-123", "02787654321-123"),
        ("02787654321-123456", "02787654321-123456"),
        ("02787654321-", "02787654321"),  # a stray dash is only a separator
        ("0755-1234567-1", "07551234567-1"),
        ("(027) 8765-4321-88", "02787654321-88"),
        ("+86 27 8765 4321", "02787654321"),
        ("+86 (0)27 8765 4321", "02787654321"),
        ("0086 755 1234567", "07551234567"),
        ("+86 27 8765 4321-12", "02787654321-12"),
        ("4001234567", "4001234567"),
        ("400-123-4567", "4001234567"),
        ("800 123 4567", "8001234567"),
        ("110", "110"),
        ("119", "119"),
        ("120", "120"),
        ("122", "122"),
        ("12345", "12345"),
        ("95588", "95588"),
        ("955881", "955881"),
    ],
)
def test_phone_valid(value: str, expected: str) -> None:
    assert check_phone(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "1381234567",  # 10 digits
        "138123456789",
        "12812345678",  # second digit 2
        "0101234567",  # Beijing has 8-digit local numbers
        "0271234567",
        "01112345678",  # no 011 area code
        "075512345",  # too short
        "0755123456789",
        "02787654321-1234567",  # extension too long
        "027-87654321-12a",
        "3001234567",
        "114",
        "123",
        "9558",
        "9558812",
        "+8602787654321123",
        "86027876543",
        "+1 415 555 0100",
        "١٣٨١٢٣٤٥٦٧٨",
        "13812345678x",
        "",
        "-",
        "---",
    ],
)
def test_phone_format(value: str) -> None:
    _fails("phone_format", check_phone, value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("13812345678", "13812345678"), ("+86 138-1234-5678", "13812345678"), ("8613812345678", "13812345678")],
)
def test_phone_mobile_only_valid(value: str, expected: str) -> None:
    assert check_phone(value, mobile_only=True) == expected


@pytest.mark.parametrize("value", ["02787654321", "027-87654321-1", "4001234567", "110", "95588", "12345"])
def test_phone_mobile_only_rejects(value: str) -> None:
    err = _fails("phone_format", check_phone, value, mobile_only=True)
    assert "mobile" in err.en


# ------------------------------------------------------------------------------------------------------ geo


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (114.305392, 114.305392),
        (114.30539249, 114.305392),
        (72.004, 72.004),
        (137.8347, 137.8347),
        (100, 100),
    ],
)
def test_longitude_valid(value: float, expected: float) -> None:
    assert check_longitude(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(30.593098, 30.593098), (30.5930986, 30.593099), (0.8293, 0.8293), (55.8271, 55.8271)],
)
def test_latitude_valid(value: float, expected: float) -> None:
    assert check_latitude(value) == expected


@pytest.mark.parametrize(
    ("func", "value", "code"),
    [
        (check_longitude, 180.5, "coord_range"),
        (check_longitude, -181.0, "coord_range"),
        (check_longitude, float("nan"), "coord_range"),
        (check_longitude, float("inf"), "coord_range"),
        (check_longitude, float("-inf"), "coord_range"),
        (check_longitude, 1e308, "coord_range"),
        (check_longitude, 180.0, "coord_outside_china"),
        (check_longitude, 0.0, "coord_outside_china"),
        (check_longitude, -114.3, "coord_outside_china"),
        (check_longitude, 72.0039, "coord_outside_china"),
        (check_longitude, 137.8348, "coord_outside_china"),
        (check_latitude, 90.1, "coord_range"),
        (check_latitude, -91.0, "coord_range"),
        (check_latitude, float("nan"), "coord_range"),
        (check_latitude, float("inf"), "coord_range"),
        (check_latitude, 0.0, "coord_outside_china"),
        (check_latitude, -30.5, "coord_outside_china"),
        (check_latitude, 90.0, "coord_outside_china"),
        (check_latitude, 55.8272, "coord_outside_china"),
    ],
)
def test_coordinates_invalid(func: object, value: float, code: str) -> None:
    _fails(code, func, value)


def test_in_china() -> None:
    assert in_china(114.305392, 30.593098)
    assert in_china(72.004, 0.8293)
    assert in_china(137.8347, 55.8271)
    assert not in_china(0.0, 0.0)
    assert not in_china(30.593098, 114.305392)  # swapped
    assert not in_china(float("nan"), 30.0)
    assert not in_china(114.3, float("nan"))


# -------------------------------------------------------------------------------------------------- datetime


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-31 08:30:00", _utc(2024, 1, 31, 0, 30, 0)),
        ("2024-01-31", _utc(2024, 1, 30, 16, 0, 0)),
        ("2024-01-31T08:30:00", _utc(2024, 1, 31, 0, 30, 0)),
        ("2024-01-31T08:30:00Z", _utc(2024, 1, 31, 8, 30, 0)),
        ("2024-01-31T08:30:00+08:00", _utc(2024, 1, 31, 0, 30, 0)),
        ("2024-01-31T08:30:00+0800", _utc(2024, 1, 31, 0, 30, 0)),
        ("2024-01-31T08:30:00-05:30", _utc(2024, 1, 31, 14, 0, 0)),
        ("2024-01-31T08:30:00.5", _utc(2024, 1, 31, 0, 30, 0, 500000)),
        ("2024-01-31T08:30:00.123456Z", _utc(2024, 1, 31, 8, 30, 0, 123456)),
        ("2024-01-31 08:30:00.0", _utc(2024, 1, 31, 0, 30, 0)),  # JDBC Timestamp.toString()
        ("2024-01-31 08:30:00+08:00", _utc(2024, 1, 31, 0, 30, 0)),
        ("20240131083000", _utc(2024, 1, 31, 0, 30, 0)),
        ("20240131", _utc(2024, 1, 30, 16, 0, 0)),
        ("2024-02-29", _utc(2024, 2, 28, 16, 0, 0)),
        ("1988-07-01 12:00:00", _utc(1988, 7, 1, 3, 0, 0)),  # China used DST in 1986-1991: UTC+9
    ],
)
def test_parse_datetime(value: str, expected: datetime) -> None:
    result = parse_datetime(value, tz=SHANGHAI)
    assert result == expected
    assert result.tzinfo is UTC


def test_parse_datetime_other_zone() -> None:
    assert parse_datetime("2024-07-01 12:00:00", tz=ZoneInfo("Europe/Berlin")) == _utc(2024, 7, 1, 10, 0, 0)


@pytest.mark.parametrize(
    "value",
    [
        "2024/01/31",
        "2024-1-31",
        "2024-01-31 08:30",
        "2024-01-31T08:30",
        "2024-01-31 8:30:00",
        "2024-01-31T08:30:00.1234567",
        "2024-01-31T08:30:00+08",
        "2024-01-31T08:30:00 +08:00",
        "2024-01-31t08:30:00",
        "202401310830",
        "2024013",
        "31.01.2024",
        "yesterday",
        "２０２４-０１-３１",
        "2024-01-31\n",
        "",
    ],
)
def test_parse_datetime_format(value: str) -> None:
    err = _fails("date_format", check_date_format_wrapper, value)
    assert "YYYY-MM-DD" in err.en


def check_date_format_wrapper(value: str) -> datetime:
    return parse_datetime(value, tz=SHANGHAI)


@pytest.mark.parametrize(
    "value",
    [
        "2023-02-30",
        "2023-02-29",
        "2024-13-01",
        "2024-00-10",
        "2024-01-00",
        "2024-01-31 25:00:00",
        "2024-01-31 24:00:00",
        "2024-01-31 23:60:00",
        "2024-01-31 23:59:60",
        "2024-01-31T08:30:00+24:00",
        "2024-01-31T08:30:00+08:60",
        "20230230",
        "20240131250000",
        "0000-01-01",
        "9999-12-31T23:00:00-05:00",
    ],
)
def test_parse_datetime_invalid(value: str) -> None:
    _fails("date_invalid", parse_datetime, value, tz=SHANGHAI)


def test_parse_datetime_too_early_for_utc() -> None:
    _fails("date_too_early", parse_datetime, "0001-01-01", tz=SHANGHAI)


NOW = _utc(2025, 6, 1, 0, 0, 0)


def test_check_date_range_ok() -> None:
    check_date_range(_utc(1880, 1, 1), now=NOW, max_future=timedelta(0))
    check_date_range(NOW, now=NOW, max_future=timedelta(0))
    check_date_range(NOW + timedelta(hours=1), now=NOW, max_future=timedelta(hours=1))
    check_date_range(datetime(2000, 1, 1), now=datetime(2025, 1, 1), max_future=timedelta(0))  # naive = UTC
    check_date_range(NOW, now=NOW, max_future=timedelta.max)  # overflow means no upper bound


def test_check_date_range_too_early() -> None:
    _fails(
        "date_too_early", check_date_range, _utc(1879, 12, 31, 23, 59, 59), now=NOW, max_future=timedelta(0)
    )
    _fails(
        "date_too_early", check_date_range, datetime(1, 1, 1, tzinfo=UTC), now=NOW, max_future=timedelta(0)
    )


def test_check_date_range_future_names_local_limit() -> None:
    err = _fails(
        "date_future",
        check_date_range,
        NOW + timedelta(minutes=11),
        now=NOW,
        max_future=timedelta(minutes=10),
    )
    assert "2025-06-01 08:10:00" in err.zh
    assert "2025-06-01 08:10:00" in err.en
    assert "Asia/Shanghai" in err.en


def test_check_date_range_future_at_the_end_of_time() -> None:
    err = _fails(
        "date_future",
        check_date_range,
        datetime.max.replace(tzinfo=UTC),
        now=datetime(9999, 12, 31, 20, tzinfo=UTC),
        max_future=timedelta(0),
    )
    assert "9999-12-31" in err.en


@pytest.mark.parametrize(
    ("dt", "expected"),
    [
        (_utc(2024, 1, 31, 0, 30, 0), "2024-01-31 08:30:00"),
        (_utc(2024, 1, 31, 0, 30, 0, 999999), "2024-01-31 08:30:00"),
        (datetime(2024, 1, 31, 16, 0, 0), "2024-02-01 00:00:00"),  # naive = UTC
        (_utc(1988, 7, 1, 3, 0, 0), "1988-07-01 12:00:00"),
    ],
)
def test_format_local(dt: datetime, expected: str) -> None:
    assert format_local(dt, SHANGHAI) == expected


def test_format_local_round_trip() -> None:
    for text in ("2024-01-31 08:30:00", "1999-12-31 23:59:59", "1990-05-01 00:00:00"):
        assert format_local(parse_datetime(text, tz=SHANGHAI), SHANGHAI) == text


# ----------------------------------------------------------------------------------------------------- blob

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)
GIF87 = b"GIF87a" + bytes(20)
GIF89 = b"GIF89a" + bytes(20)
BMP = b"BM" + bytes(60)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(20)


@pytest.mark.parametrize(
    ("data", "kind"),
    [(JPEG, "jpeg"), (PNG, "png"), (GIF87, "gif"), (GIF89, "gif"), (BMP, "bmp"), (WEBP, "webp")],
)
def test_sniff_image_type(data: bytes, kind: str) -> None:
    assert sniff_image_type(data) == kind


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xd8",
        b"\x89PNG",
        b"GIF88a",
        b"B",
        b"RIFF\x00\x00\x00\x00WAVE",
        b"RIFF",
        b"%PDF-1.4",
        b"\x00" * 16,
    ],
)
def test_sniff_image_type_unknown(data: bytes) -> None:
    assert sniff_image_type(data) is None


def _wrap(text: str, width: int = 76) -> str:
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


@pytest.mark.parametrize(
    "encode",
    [
        lambda d: base64.b64encode(d).decode(),
        lambda d: base64.urlsafe_b64encode(d).decode(),
        lambda d: base64.b64encode(d).decode().rstrip("="),
        lambda d: base64.urlsafe_b64encode(d).decode().rstrip("="),
        lambda d: _wrap(base64.b64encode(d).decode()),
        lambda d: base64.encodebytes(d).decode(),  # MIME: 76-character lines ending in \n
        lambda d: _wrap(base64.b64encode(d).decode()).replace("\n", "\r\n"),
        lambda d: " ".join(base64.b64encode(d).decode()),
        lambda d: "data:image/jpeg;base64," + base64.b64encode(d).decode(),
        lambda d: "data:image/png;base64," + base64.b64encode(d).decode(),  # the media type is not trusted
        lambda d: "DATA:image/jpeg;charset=utf-8;base64," + _wrap(base64.b64encode(d).decode()),
    ],
)
@pytest.mark.parametrize("data", [JPEG, PNG, GIF89, BMP, WEBP, JPEG[:5], PNG[:9], PNG[:10]])
def test_check_image_valid(encode: object, data: bytes) -> None:
    assert callable(encode)
    assert check_image(encode(data), max_bytes=10_000) == data


def test_check_image_exact_size_limit() -> None:
    assert check_image(base64.b64encode(JPEG).decode(), max_bytes=len(JPEG)) == JPEG
    _fails("blob_too_large", check_image, base64.b64encode(JPEG).decode(), max_bytes=len(JPEG) - 1)
    for n in (3, 4, 5):  # all padding lengths
        data = JPEG[:n]
        assert check_image(base64.b64encode(data).decode(), max_bytes=n) == data
        _fails("blob_too_large", check_image, base64.b64encode(data).decode(), max_bytes=n - 1)


def test_check_image_huge_value_rejected_without_decoding() -> None:
    huge = "!" * 50_000_000  # not even base64: the length alone rejects it
    err = _fails("blob_too_large", check_image, huge, max_bytes=1_000_000)
    assert "1000000" in err.en


@pytest.mark.parametrize(
    "value",
    [
        "!!!!",
        "/9j/4A=A",  # padding in the middle
        "=/9j/4A",
        "/9j/4AA==AAAA",
        "/9j/4",  # 5 characters: length 1 mod 4
        "/9j/\u00e9",
        "/9j/\u30004AAQ",
        "data:image/jpeg,/9j/4AAQ",  # not a base64 data URL
        "data:image/jpeg;base64",
        "data:",
    ],
)
def test_check_image_base64(value: str) -> None:
    _fails("blob_base64", check_image, value, max_bytes=10_000)


@pytest.mark.parametrize(
    "data", [b"", b"%PDF-1.4 hello", b"\x00\x01\x02", b"GIF88a" + bytes(10), b"RIFF\x00\x00\x00\x00WAVEfmt "]
)
def test_check_image_type(data: bytes) -> None:
    err = _fails("blob_type", check_image, base64.b64encode(data).decode(), max_bytes=10_000)
    assert "JPEG" in err.en


def test_check_image_empty_data_url() -> None:
    _fails("blob_type", check_image, "data:image/jpeg;base64,", max_bytes=10)
