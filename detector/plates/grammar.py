"""Plate text grammar: normalisation, Vietnamese plate parsing/formatting, OCR confusion fixes.

Vietnamese plates (Circular 24/2023/TT-BCA, later 79/2024/TT-BCA; the two-digit area codes did not
change with the 2025 province mergers):

- car, one row:      ``51F-123.45`` (area 2 digits, series 1-2 letters, 5 digits) or old ``51F-1234``;
- car, two rows:     ``51F`` over ``123.45`` (short "square" plates), same text as one row;
- motorbike, 2 rows: ``59-X1`` over ``123.45`` (series letter + digit, two letters for < 50 cc
  mopeds like ``29-AA``, or ``MĐ`` + digit for electric motorbikes: ``29-MĐ1 212.07``, key
  ``29MD121207``), old plates with 4 digits ``59-X1`` over ``1234``.

`detector.platetext.normalize_plate` gives the lookup key (upper case, A-Z0-9 only) used everywhere for
matching;
`format_vn_plate` gives the display form.

Special plates (`SpecialPlate`, parsed by `parse_plate` / `repair_plate` beside the civil ones):

- military, one row, red with white characters: two letters naming the arm or command (first letter
  A, B, C, H, K, P, Q, T or V: ``TM`` General Staff, ``KA`` Military Region 1, ``QA`` Air Defence - Air
  Force, ``AV``...), then 4 digits: ``TM-27-81``;
- diplomatic and foreign: area code, a 3-digit country or organisation number, the series ``NG``
  (diplomatic missions: white, the ``NG`` in red), ``NN`` (foreign organisations and people), ``QT``
  (international organisations) or ``CV`` (their administrative and technical staff), then a
  2-3 digit order number: ``80-011-NG-01``.

Civil plates are white (private), yellow (commercial transport) or blue (state agencies) with the same
text grammar, so their colour comes from the image (`notice_colour`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from detector.platetext import normalize_plate

VehicleKind = Literal["car", "motorbike"]

#: Area codes printed on Vietnamese civil plates, with the province (pre-2025 names, as on plates).
#: Unused numbers (13, 39, 42, 44-46, 87, 91, 96) are deliberately absent.
VN_PROVINCE_CODES: dict[int, str] = {
    11: "Cao Bằng",
    12: "Lạng Sơn",
    14: "Quảng Ninh",
    15: "Hải Phòng",
    16: "Hải Phòng",
    17: "Thái Bình",
    18: "Nam Định",
    19: "Phú Thọ",
    20: "Thái Nguyên",
    21: "Yên Bái",
    22: "Tuyên Quang",
    23: "Hà Giang",
    24: "Lào Cai",
    25: "Lai Châu",
    26: "Sơn La",
    27: "Điện Biên",
    28: "Hòa Bình",
    29: "Hà Nội",
    30: "Hà Nội",
    31: "Hà Nội",
    32: "Hà Nội",
    33: "Hà Nội",
    34: "Hải Dương",
    35: "Ninh Bình",
    36: "Thanh Hóa",
    37: "Nghệ An",
    38: "Hà Tĩnh",
    40: "Hà Nội",
    41: "TP. Hồ Chí Minh",
    43: "Đà Nẵng",
    47: "Đắk Lắk",
    48: "Đắk Nông",
    49: "Lâm Đồng",
    50: "TP. Hồ Chí Minh",
    51: "TP. Hồ Chí Minh",
    52: "TP. Hồ Chí Minh",
    53: "TP. Hồ Chí Minh",
    54: "TP. Hồ Chí Minh",
    55: "TP. Hồ Chí Minh",
    56: "TP. Hồ Chí Minh",
    57: "TP. Hồ Chí Minh",
    58: "TP. Hồ Chí Minh",
    59: "TP. Hồ Chí Minh",
    60: "Đồng Nai",
    61: "Bình Dương",
    62: "Long An",
    63: "Tiền Giang",
    64: "Vĩnh Long",
    65: "Cần Thơ",
    66: "Đồng Tháp",
    67: "An Giang",
    68: "Kiên Giang",
    69: "Cà Mau",
    70: "Tây Ninh",
    71: "Bến Tre",
    72: "Bà Rịa - Vũng Tàu",
    73: "Quảng Bình",
    74: "Quảng Trị",
    75: "Thừa Thiên Huế",
    76: "Quảng Ngãi",
    77: "Bình Định",
    78: "Phú Yên",
    79: "Khánh Hòa",
    80: "Cơ quan Trung ương",
    81: "Gia Lai",
    82: "Kon Tum",
    83: "Sóc Trăng",
    84: "Trà Vinh",
    85: "Ninh Thuận",
    86: "Bình Thuận",
    88: "Vĩnh Phúc",
    89: "Hưng Yên",
    90: "Hà Nam",
    92: "Quảng Nam",
    93: "Bình Phước",
    94: "Bạc Liêu",
    95: "Hậu Giang",
    97: "Bắc Kạn",
    98: "Bắc Giang",
    99: "Bắc Ninh",
}

#: Series letters used on civil plates (I, J, O, Q, R, W are not issued as series letters;
#: R marks trailers and is handled as part of a two-letter series).
VN_SERIES_LETTERS = frozenset("ABCDEFGHKLMNPSTUVXYZ")
#: Two-letter series allowed on one-row plates (joint ventures, economic units, trailers, electric).
VN_CAR_TWO_LETTER_SERIES = frozenset({"LD", "KT", "DA", "RM", "TD", "HC", "MD"})

#: OCR confusions, applied only where a grammar or format says a position is a digit or a letter.
TO_DIGIT = {"O": "0", "Q": "0", "D": "0", "U": "0", "I": "1", "L": "1", "T": "1", "J": "1",
             "Z": "2", "A": "4", "S": "5", "G": "6", "B": "8", "E": "8", "F": "7"}  # fmt: skip
TO_LETTER = {"0": "D", "1": "T", "2": "Z", "4": "A", "5": "S", "6": "G", "7": "T", "8": "B"}


@dataclass(frozen=True, slots=True)
class VnPlate:
    """A parsed Vietnamese civil plate."""

    province_code: int
    series: str
    number: str
    kind: VehicleKind

    @property
    def province(self) -> str:
        return VN_PROVINCE_CODES[self.province_code]

    @property
    def category(self) -> str:
        return "civil"

    @property
    def colours(self) -> frozenset[str]:
        return CATEGORY_COLOURS["civil"]

    @property
    def normalized(self) -> str:
        return f"{self.province_code:02d}{self.series}{self.number}"

    @property
    def formatted_number(self) -> str:
        n = self.number
        return f"{n[:3]}.{n[3:]}" if len(n) == 5 else n

    @property
    def display(self) -> str:
        """``51F-123.45`` for cars, ``59-X1 123.45`` for motorbikes (top row, space, bottom row)."""
        top, bottom = self.rows
        if self.kind == "motorbike":
            return f"{top} {bottom}"
        return f"{top}-{bottom}"

    @property
    def rows(self) -> tuple[str, str]:
        """The text of the two rows as printed on a two-row plate."""
        if self.kind == "motorbike":
            series = (
                "MĐ" + self.series[2:]
                if self.series.startswith("MD") and len(self.series) == 3
                else self.series
            )
            return f"{self.province_code:02d}-{series}", self.formatted_number
        return f"{self.province_code:02d}{self.series}", self.formatted_number


_CAR_RE = re.compile(r"^(\d{2})([A-Z]{1,2})(\d{4,5})$")
_MOTO_RE = re.compile(r"^(\d{2})([A-Z][A-Z0-9]|MD[1-9])(\d{4,5})$")


def _valid_series(series: str, kind: VehicleKind) -> bool:
    if series[0] not in VN_SERIES_LETTERS:
        return False
    if len(series) == 1:
        return kind == "car"
    second = series[1]
    if kind == "car":
        return series in VN_CAR_TWO_LETTER_SERIES
    if len(series) == 3:
        return series[:2] == "MD"  # electric motorbikes: MĐ1, MĐ2, ...
    # motorbikes: letter + digit 1-9 (X1..X9), or two letters (mopeds under 50 cc: AA, MD for electric)
    return (second.isdigit() and second != "0") or second in VN_SERIES_LETTERS


def _candidates(key: str) -> list[VnPlate]:
    out: list[VnPlate] = []
    for kind, rx in (("car", _CAR_RE), ("motorbike", _MOTO_RE)):
        m = rx.match(key)
        if not m:
            continue
        code = int(m.group(1))
        series, number = m.group(2), m.group(3)
        if code not in VN_PROVINCE_CODES or not _valid_series(series, kind):  # type: ignore[arg-type]
            continue
        out.append(VnPlate(code, series, number, kind))  # type: ignore[arg-type]
    return out


def parse_vn_plate(text: str, rows: int | None = None) -> VnPlate | None:
    """Parse a Vietnamese plate from any spelling (``51F-123.45``, ``59-X1 123.45``, ``59X112345``).

    `rows` (1 or 2), when known from the image, settles the one ambiguous case: 8 characters of the form
    ``59X11234`` are a two-row motorbike plate (``59-X1 1234``) or a one-row car plate (``59X-112.34``).
    Without it, a separator in the text after the series (``59-X1 1234``) or before the number
    (``59X-11234``) decides, and otherwise the car reading wins when it is valid.
    Returns None when the text is not a valid civil plate (unknown area code, bad series, length).
    """
    key = normalize_plate(text)
    found = _candidates(key)
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    # Ambiguous: both car (L + 5 digits) and motorbike (L+digit + 4 digits) parse.
    car = next(p for p in found if p.kind == "car")
    if rows == 2:
        # a two-row text that parts right after the series letter is a square car plate (30E / 586.70)
        if re.match(rf"^\d{{2}}-?{car.series}[\s.-]+\d", text.upper().strip()):
            return car
        return next(p for p in found if p.kind == "motorbike")
    if rows == 1:
        return next(p for p in found if p.kind == "car")
    compact = re.sub(r"[.\s]+", " ", text.upper()).strip()
    moto = next(p for p in found if p.kind == "motorbike")
    if re.search(rf"{moto.series}\s+\d", compact) or re.search(rf"-{moto.series}\b", compact):
        return moto
    return next(p for p in found if p.kind == "car")


def is_valid_vn_plate(text: str, rows: int | None = None) -> bool:
    """True when `text` parses as a Vietnamese civil plate."""
    return parse_vn_plate(text, rows) is not None


def format_vn_plate(normalized: str, rows: int | None = None) -> str | None:
    """Display form of a plate key: ``51F12345`` -> ``51F-123.45``, ``59X112345`` -> ``59-X1 123.45``."""
    p = parse_vn_plate(normalized, rows)
    return p.display if p else None


PlateCategory = Literal["civil", "military", "diplomatic", "foreign", "international"]
PlateColour = Literal["white", "yellow", "blue", "red"]

#: First letter of a military plate's two-letter series (the arm, command or body it belongs to).
#: C: a red ``CT-11-99`` plate seen in the vn-plates-1row-bkav crops.
VN_MILITARY_FIRST_LETTERS = frozenset("ABCHKPQTV")
#: Series of plates of foreign missions, organisations and people, and what they are.
VN_FOREIGN_SERIES: dict[str, PlateCategory] = {
    "NG": "diplomatic",
    "NN": "foreign",
    "QT": "international",
    "CV": "international",
}
#: Colours a plate of each category is issued in (civil: private white, commercial yellow, state blue).
CATEGORY_COLOURS: dict[str, frozenset[str]] = {
    "civil": frozenset({"white", "yellow", "blue"}),
    "military": frozenset({"red"}),
    "diplomatic": frozenset({"white"}),
    "foreign": frozenset({"white"}),
    "international": frozenset({"white"}),
}

_MILITARY_RE = re.compile(r"^([A-Z]{2})(\d{4,5})$")
_FOREIGN_RE = re.compile(r"^(\d{2})(\d{3})(NG|NN|QT|CV)(\d{2,3})$")


@dataclass(frozen=True, slots=True)
class SpecialPlate:
    """A parsed Vietnamese special plate: military (``TM-27-81``) or foreign (``80-011-NG-01``)."""

    category: PlateCategory
    series: str
    number: str
    #: foreign plates: the area code and the country / organisation number; empty for military
    province_code: int | None = None
    owner_code: str = ""

    @property
    def normalized(self) -> str:
        if self.province_code is None:
            return f"{self.series}{self.number}"
        return f"{self.province_code:02d}{self.owner_code}{self.series}{self.number}"

    @property
    def display(self) -> str:
        if self.province_code is None:
            n = self.number
            return f"{self.series}-{n[:-2]}-{n[-2:]}"
        return f"{self.province_code:02d}-{self.owner_code}-{self.series}-{self.number}"

    @property
    def kind(self) -> VehicleKind:
        return "car"

    @property
    def colours(self) -> frozenset[str]:
        return CATEGORY_COLOURS[self.category]


def parse_special_plate(text: str) -> SpecialPlate | None:
    """A military or foreign plate from any spelling (``TM-27-81``, ``80-011-NG-01``), else None."""
    key = normalize_plate(text)
    m = _MILITARY_RE.match(key)
    if m and m.group(1)[0] in VN_MILITARY_FIRST_LETTERS:
        return SpecialPlate("military", m.group(1), m.group(2))
    m = _FOREIGN_RE.match(key)
    if m and int(m.group(1)) in VN_PROVINCE_CODES:
        code = int(m.group(1))
        return SpecialPlate(VN_FOREIGN_SERIES[m.group(3)], m.group(3), m.group(4), code, m.group(2))
    return None


AnyVnPlate = VnPlate | SpecialPlate


def parse_plate(text: str, rows: int | None = None) -> AnyVnPlate | None:
    """A civil plate (`parse_vn_plate`) or, failing that, a one-row special plate."""
    civil = parse_vn_plate(text, rows)
    if civil is not None or rows == 2:
        return civil
    return parse_special_plate(text)


def repair_plate(text: str, rows: int | None = None) -> AnyVnPlate | None:
    """`repair_vn_plate`, and failing that a special plate with letters/digits fixed by position."""
    civil = repair_vn_plate(text, rows)
    if civil is not None or rows == 2:
        return civil
    key = normalize_plate(text)
    special = parse_special_plate(key)
    if special is not None or len(key) not in (6, 7):
        return special
    # military: two letters then digits
    head = [c if not c.isdigit() else TO_LETTER.get(c, "") for c in key[:2]]
    tail = [c if c.isdigit() else TO_DIGIT.get(c, "") for c in key[2:]]
    return parse_special_plate("".join(head + tail)) if all(head) and all(tail) else None


def notice_colour(plate: AnyVnPlate | None, measured: str | None) -> str | None:
    """The plate colour a notice states: the one its category is issued in (red for military), else
    the colour measured on the image when the category allows it; None when they disagree or nothing
    was measured (a reviewer decides)."""
    if plate is None:
        return measured
    allowed = plate.colours
    if len(allowed) == 1:
        return next(iter(allowed))
    return measured if measured in allowed else None


def repair_vn_plate(text: str, rows: int | None = None) -> VnPlate | None:
    """Fix OCR letter/digit confusions where the VN grammar fixes the character class, then parse.

    Positions 1-2 (area code) and the trailing number are digits; position 3 is a letter; position 4 is
    a digit or letter by the plate kind. Returns the first valid plate, preferring fewest changes.
    """
    key = normalize_plate(text)
    direct = parse_vn_plate(text, rows)
    if direct is not None:
        return direct
    if not 7 <= len(key) <= 10:
        return None
    best: tuple[float, VnPlate] | None = None
    # series patterns (L = letter, D = digit), then a number of 4 or 5 digits
    for pattern in ("L", "LL", "LD", "LLD"):
        num_len = len(key) - 2 - len(pattern)
        if num_len not in (4, 5):
            continue
        classes = "DD" + pattern + "D" * num_len
        fixed, changes = [], 0
        for ch, cls in zip(key, classes, strict=True):
            want_digit = cls == "D"
            if ch.isdigit() != want_digit:
                table = TO_DIGIT if want_digit else TO_LETTER
                if ch not in table:
                    break
                ch = table[ch]
                changes += 1
            fixed.append(ch)
        else:
            r = rows or (2 if pattern.endswith("D") else 1 if pattern == "L" else None)
            plate = parse_vn_plate("".join(fixed), r)
            if plate is None or (rows == 1 and plate.kind == "motorbike"):
                continue  # motorbike plates are always two rows
            # two-letter motorbike series (mopeds) are rare: a small prior against them
            cost = changes + (0.5 if plate.kind == "motorbike" and plate.series.isalpha() else 0.0)
            if best is None or cost < best[0]:
                best = (cost, plate)
    return best[1] if best else None
