"""Vietnamese special plates in the grammar: military (red), diplomatic/foreign (NG, NN, QT), and the
colour a notice states. Texts written for these tests from the plate formats (Circular 79/2024/TT-BCA
layouts: two letters + 4 digits for military units, area-country number-series-order for foreign)."""

from __future__ import annotations

import pytest

from detector.plates.grammar import (
    SpecialPlate,
    VnPlate,
    notice_colour,
    parse_plate,
    parse_special_plate,
    parse_vn_plate,
    repair_plate,
)
from detector.plates.vote import PlateObservation, vote


@pytest.mark.parametrize(
    ("text", "key", "display", "category"),
    [
        ("TM-27-81", "TM2781", "TM-27-81", "military"),  # General Staff
        ("AV 13-68", "AV1368", "AV-13-68", "military"),
        ("KA-12-34", "KA1234", "KA-12-34", "military"),  # Military Region 1
        ("QA.62.74", "QA6274", "QA-62-74", "military"),  # Air Defence - Air Force
        ("80-011-NG-01", "80011NG01", "80-011-NG-01", "diplomatic"),
        ("41 291 NN 01", "41291NN01", "41-291-NN-01", "foreign"),
        ("29-123-QT-045", "29123QT045", "29-123-QT-045", "international"),
    ],
)
def test_special_plates_parse(text: str, key: str, display: str, category: str) -> None:
    plate = parse_plate(text, 1)
    assert isinstance(plate, SpecialPlate)
    assert (plate.normalized, plate.display, plate.category) == (key, display, category)
    assert parse_plate(plate.display) == plate  # the display form parses back


@pytest.mark.parametrize(
    "text",
    [
        "ZT-11-99",  # Z is no military first letter
        "TM-278",  # too short
        "TM-278123",  # too long
        "13-011-NG-01",  # 13 is no area code
        "80-011-XY-01",  # no such foreign series
        "80-11-NG-01",  # the country number has 3 digits
    ],
)
def test_not_special_plates(text: str) -> None:
    assert parse_special_plate(text) is None
    assert parse_plate(text, 1) is None


def test_civil_plates_stay_civil_and_two_rows_are_never_special() -> None:
    civil = parse_plate("51F-123.45", 1)
    assert isinstance(civil, VnPlate) and civil.category == "civil"
    assert parse_plate("TM2781", 2) is None  # military plates here are one row
    assert parse_vn_plate("TM-27-81") is None  # the civil parser is unchanged


@pytest.mark.parametrize(
    ("ocr", "key"),
    [("7M2781", "TM2781"), ("TM27B1", "TM2781"), ("AV13G8", "AV1368"), ("8H5398", "BH5398")],
)
def test_military_plates_are_repaired_by_position(ocr: str, key: str) -> None:
    plate = repair_plate(ocr, 1)
    assert plate is not None and plate.normalized == key and plate.category == "military"


@pytest.mark.parametrize(
    ("text", "measured", "expected"),
    [
        ("TM-27-81", "red", "red"),
        ("TM-27-81", "white", "red"),  # a military plate is red whatever the light made of it
        ("TM-27-81", None, "red"),
        ("51F-123.45", "white", "white"),  # private
        ("51F-123.45", "yellow", "yellow"),  # commercial transport
        ("80A-123.45", "blue", "blue"),  # state agency
        ("51F-123.45", "red", None),  # a civil plate is never red: the reviewer decides
        ("51F-123.45", None, None),
        ("80-011-NG-01", "white", "white"),
        ("80-011-NG-01", None, "white"),  # issued white only
    ],
)
def test_notice_colour(text: str, measured: str | None, expected: str | None) -> None:
    assert notice_colour(parse_plate(text, 1), measured) == expected


def _obs(key: str, colour: str | None, conf: float = 0.99) -> PlateObservation:
    return PlateObservation(0, key, key, key, conf, (conf,) * len(key), 1, True, "vn", colour)


def test_vote_gives_the_notice_colour_and_display() -> None:
    r = vote([_obs("TM2781", "white"), _obs("TM2781", None)], min_confidence=0.9)
    assert r is not None
    assert (r.text, r.colour, r.needs_review, r.country) == ("TM-27-81", "red", False, "vn")
    r = vote([_obs("51F12345", "red")], min_confidence=0.9)
    assert r is not None and r.text == "51F-123.45" and r.colour is None
    r = vote([_obs("51F12345", "yellow"), _obs("51F12345", "yellow")], min_confidence=0.9)
    assert r is not None and r.colour == "yellow"


@pytest.mark.parametrize(
    ("text", "display", "kind"),
    [
        ("30E 58670", "30E-586.70", "car"),  # a square car plate: 3 characters over 5 digits
        ("30-E5 8670", "30-E5 8670", "motorbike"),  # an old motorbike plate: 4 over 4
        ("30E58670", "30-E5 8670", "motorbike"),  # no parting known: two rows read as a motorbike's
    ],
)
def test_two_rows_part_where_the_plate_kind_says(text: str, display: str, kind: str) -> None:
    plate = parse_vn_plate(text, 2)
    assert plate is not None and (plate.display, plate.kind) == (display, kind)


def test_vote_keeps_a_square_car_plate() -> None:
    car = PlateObservation(0, "30E-586.70", "30E58670", "30E 58670", 0.99, (0.99,) * 8, 2, True, "vn")
    r = vote([car, car], min_confidence=0.9)
    assert r is not None and r.text == "30E-586.70" and r.rows == 2
