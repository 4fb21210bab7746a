"""Plate grammar: normalisation, Vietnamese parsing/formatting, OCR confusion repair."""

from __future__ import annotations

import pytest

from detector.plates.grammar import (
    VN_PROVINCE_CODES,
    format_vn_plate,
    is_valid_vn_plate,
    parse_vn_plate,
    repair_vn_plate,
)
from detector.platetext import MAX_O_ZERO_POSITIONS, normalize_plate, o_zero_spellings


@pytest.mark.parametrize("text", ["51F-123.45", "51F12345", "51f 123 45", " 51F–123·45 ", "51F\n123.45"])
def test_normalize_spellings_share_one_key(text: str) -> None:
    assert normalize_plate(text) == "51F12345"


def test_normalize_vietnamese_d_and_accents() -> None:
    assert normalize_plate("59-MĐ1 123.45") == "59MD112345"
    assert normalize_plate("ab-é") == "ABE"


@pytest.mark.parametrize(
    ("text", "rows", "display", "kind"),
    [
        ("51F-123.45", None, "51F-123.45", "car"),
        ("30E12345", None, "30E-123.45", "car"),
        ("51F-1234", None, "51F-1234", "car"),
        ("29LD-123.45", None, "29LD-123.45", "car"),
        ("59-X1 123.45", None, "59-X1 123.45", "motorbike"),
        ("59X112345", None, "59-X1 123.45", "motorbike"),
        ("29-AA 123.45", None, "29-AA 123.45", "motorbike"),
        # 8 characters L+digit+4 digits: two rows make it an old motorbike plate, one row a car
        ("54Y99149", 2, "54-Y9 9149", "motorbike"),
        ("54Y99149", 1, "54Y-991.49", "car"),
        ("59-X1 1234", None, "59-X1 1234", "motorbike"),
    ],
)
def test_parse_valid_plates(text: str, rows: int | None, display: str, kind: str) -> None:
    plate = parse_vn_plate(text, rows)
    assert plate is not None
    assert plate.display == display
    assert plate.kind == kind
    assert is_valid_vn_plate(text, rows)


@pytest.mark.parametrize(
    "text",
    [
        "13A-123.45",  # 13 is not an area code
        "39A-123.45",  # retired
        "10A-123.45",  # below 11
        "51I-123.45",  # I is not a series letter
        "51O-123.45",  # O is not a series letter
        "51F-123",  # too short
        "51F-1234567",  # too long
        "F51-12345",  # letter first
        "AYO9034",  # a US plate
        "",
        "59-X0 123.45",  # series digit 0 not issued
    ],
)
def test_parse_invalid_plates(text: str) -> None:
    assert parse_vn_plate(text) is None
    assert not is_valid_vn_plate(text)
    assert format_vn_plate(normalize_plate(text)) is None


def test_province_codes_are_real() -> None:
    assert VN_PROVINCE_CODES[29] == "Hà Nội"
    assert VN_PROVINCE_CODES[51] == "TP. Hồ Chí Minh"
    assert VN_PROVINCE_CODES[43] == "Đà Nẵng"
    for unused in (13, 39, 42, 44, 45, 46, 87, 91, 96):
        assert unused not in VN_PROVINCE_CODES
    assert all(11 <= c <= 99 for c in VN_PROVINCE_CODES)
    assert parse_vn_plate("29A-123.45").province == "Hà Nội"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "display", ["51F-123.45", "59-X1 123.45", "30A-999.99", "29-AA 001.23", "51F-1234", "11C-000.01"]
)
def test_round_trip_display_normalized(display: str) -> None:
    key = normalize_plate(display)
    assert format_vn_plate(key) == display
    assert normalize_plate(format_vn_plate(key) or "") == key


def test_format_rows_for_two_row_plates() -> None:
    plate = parse_vn_plate("59X112345")
    assert plate is not None and plate.rows == ("59-X1", "123.45")
    car = parse_vn_plate("51F12345")
    assert car is not None and car.rows == ("51F", "123.45")


@pytest.mark.parametrize(
    ("ocr", "rows", "expected"),
    [
        ("5lF-l23.45", 1, "51F12345"),  # l -> 1 in digit positions
        ("S1F-123.4S", 1, "51F12345"),  # S -> 5
        ("51F-I23.O5", 1, "51F12305"),  # I -> 1, O -> 0
        ("59X1OO345", 2, "59X100345"),
        ("S9-X1 1234", 2, "59X11234"),
        ("518-123.45", 1, "51B12345"),  # 8 in the series position is B
    ],
)
def test_repair_confusions_where_grammar_fixes_the_class(ocr: str, rows: int, expected: str) -> None:
    plate = repair_vn_plate(ocr, rows)
    assert plate is not None
    assert plate.normalized == expected


def test_repair_gives_up_on_garbage() -> None:
    assert repair_vn_plate("HELLO WORLD", 1) is None
    assert repair_vn_plate("", None) is None


def test_electric_motorbike_series() -> None:
    plate = parse_vn_plate("29-MĐ1 212.07")
    assert plate is not None
    assert plate.normalized == "29MD121207"
    assert plate.display == "29-MĐ1 212.07"
    assert format_vn_plate(plate.normalized) == "29-MĐ1 212.07"
    assert parse_vn_plate("29-MX1 212.07") is None  # only MĐ takes a third series character


def test_o_zero_spellings() -> None:
    assert o_zero_spellings("C0UGAR") == ["C0UGAR", "COUGAR"]
    assert o_zero_spellings("COUGAR") == ["COUGAR", "C0UGAR"]
    assert o_zero_spellings("51F12345") == ["51F12345"]
    both = o_zero_spellings("51F10045")
    assert both[0] == "51F10045" and sorted(both) == sorted({"51F10045", "51F1O045", "51F10O45", "51F1OO45"})
    many = "0" * (MAX_O_ZERO_POSITIONS + 1)
    assert o_zero_spellings(many) == [many]
    n = MAX_O_ZERO_POSITIONS + 1
    assert o_zero_spellings("O" * n) == ["O" * n, "0" * n]
    assert len(o_zero_spellings("0" * MAX_O_ZERO_POSITIONS)) == 2**MAX_O_ZERO_POSITIONS
