"""What a country's plates change in reading a crop, behind one small interface (`CountryRules`),
chosen once from the config (`country_rules`):

- `VietnamPlates` (vn): the grammar of `detector.plates.grammar` repairs and validates a reading; a
  crop is read in its first view alone first, the others only when that reading is not decisive;
- `FormatPlates` (generic, eu, br): any A-Z0-9 text of 4-10 characters is a plate; the country's (or
  region's) formats are a prior in rescoring; stacked type marks beside the number are cut off and
  characters few of the views saw are dropped;
- `UsPlates` (us): as `FormatPlates`, and the state named over or under the number chooses the formats
  (`state_from_plate`), a view that read only the state's name is not a view of the number.

Each returns frozen results (`Reading`); the reader (`detector.plates.reader`) never asks which
country it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from detector.config import PlatesConfig
from detector.plates.formats import is_state_name, state_named_in
from detector.plates.grammar import repair_plate
from detector.plates.image import Image, caption_strips, stacked_mark_cut
from detector.platetext import normalize_plate

#: Format countries: a character with less support than this across the variant readings is dropped.
DROP_SUPPORT = 0.3

#: Reads the text of each image (one recogniser's `read_lines`, texts only).
ReadTexts = Callable[[Sequence[Image]], Iterable[str]]


@dataclass(frozen=True, slots=True)
class Reading:
    """One candidate reading of a crop after the country's rules: the OCR text, the lookup key, the
    display form, confidences, the rows read and whether it is a valid plate of the country."""

    raw: str
    normalized: str
    display: str
    confidence: float
    char_confidences: tuple[float, ...]
    rows: int
    valid: bool

    @property
    def score(self) -> float:
        return self.confidence + (0.5 if self.valid else 0.0)


class CountryRules(Protocol):
    """What a country's plates change in reading one crop."""

    @property
    def name(self) -> str:
        """The configured country (`PlatesConfig.country`), as recorded on observations and votes."""
        ...

    @property
    def region_name(self) -> str | None:
        """The configured region (a US state, a European country), if any."""
        ...

    @property
    def staged(self) -> bool:
        """Read each layout's first view alone first, and the others only when it is not `decisive`."""
        ...

    def interpret(self, raw: str, confidence: float, confs: tuple[float, ...], rows: int) -> Reading:
        """An OCR text (with its confidence and per-character confidences) as a reading of a plate."""
        ...

    def trim(self, crop: Image) -> Image:
        """The crop without what is printed beside the number and is not part of it."""
        ...

    def keep_characters(self, text: str, support: list[float]) -> tuple[str, list[float]]:
        """A voted text without the characters too few variant readings saw."""
        ...

    def region(self, crop: Image, read: ReadTexts) -> str | None:
        """The region whose formats the crop is read with."""
        ...

    def is_caption(self, text: str) -> bool:
        """A view that read only a caption (a state's name), not the number."""
        ...

    def plate_like(self, text: str, fits_country: bool) -> bool:
        """Whether a valid reading of a text line (not a plate the detector found) is kept."""
        ...

    def decisive(self, reading: Reading) -> bool:
        """A reading good enough that the crop's other views need not be read."""
        ...


def _key_and_confidences(
    raw: str, confidence: float, confs: tuple[float, ...]
) -> tuple[str, tuple[float, ...]]:
    key = normalize_plate(raw)
    if len(confs) != len(key):
        confs = (confidence,) * len(key)
    return key, confs


@dataclass(frozen=True, slots=True)
class VietnamPlates:
    """Vietnamese plates: the grammar repairs letter/digit confusions where it says a position is a
    letter or a digit; a reading that does not parse is not valid."""

    decisive_confidence: float
    region_name: str | None = None
    name: str = "vn"
    staged: bool = True

    def interpret(self, raw: str, confidence: float, confs: tuple[float, ...], rows: int) -> Reading:
        key, confs = _key_and_confidences(raw, confidence, confs)
        plate = repair_plate(raw, rows)
        if plate is None:
            return Reading(raw, key, key, confidence, confs, rows, False)
        fixed = plate.normalized
        # a repaired character keeps its OCR probability, halved: it was not what the OCR saw
        cc = tuple(c if a == b else c * 0.5 for a, b, c in zip(key, fixed, confs, strict=False))
        if len(fixed) != len(cc):
            cc = (confidence,) * len(fixed)
        conf = float(np.mean(cc)) if cc else 0.0
        return Reading(raw, fixed, plate.display, min(confidence, conf), cc, rows, True)

    def trim(self, crop: Image) -> Image:
        return crop

    def keep_characters(self, text: str, support: list[float]) -> tuple[str, list[float]]:
        return text, support

    def region(self, crop: Image, read: ReadTexts) -> str | None:
        return self.region_name

    def is_caption(self, text: str) -> bool:
        return False

    def plate_like(self, text: str, fits_country: bool) -> bool:
        return True

    def decisive(self, reading: Reading) -> bool:
        # a valid plate of the grammar (area code, series, number) whose weakest character stands
        # clear of every other character there
        return reading.valid and min(reading.char_confidences, default=0.0) >= self.decisive_confidence


@dataclass(frozen=True, slots=True)
class FormatPlates:
    """Countries read by formats (generic, eu, br): any A-Z0-9 text of 4-10 characters is valid."""

    name: str
    region_name: str | None = None
    staged: bool = False

    def interpret(self, raw: str, confidence: float, confs: tuple[float, ...], rows: int) -> Reading:
        key, confs = _key_and_confidences(raw, confidence, confs)
        return Reading(raw, key, key, confidence, confs, rows, 4 <= len(key) <= 10)

    def trim(self, crop: Image) -> Image:
        # US plate-type codes stacked beside the number ('H/H', 'W/C') are not part of it
        x1, x2 = stacked_mark_cut(crop)
        return crop[:, x1:x2] if x2 - x1 >= 0.5 * crop.shape[1] else crop

    def keep_characters(self, text: str, support: list[float]) -> tuple[str, list[float]]:
        # characters most variants did not see are edge marks, bolts or decorations
        kept = [(c, s) for c, s in zip(text, support, strict=True) if s >= DROP_SUPPORT]
        if len(kept) < 4:
            return text, support
        return "".join(c for c, _ in kept), [s for _, s in kept]

    def region(self, crop: Image, read: ReadTexts) -> str | None:
        return self.region_name

    def is_caption(self, text: str) -> bool:
        return False

    def plate_like(self, text: str, fits_country: bool) -> bool:
        # shop names, phone and fleet numbers are not plates
        mixed = any(c.isdigit() for c in text) and any(c.isalpha() for c in text)
        return mixed or fits_country

    def decisive(self, reading: Reading) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class UsPlates(FormatPlates):
    """US plates: with `state_from_plate`, the state named above or below the number."""

    name: str = "us"
    state_from_plate: bool = True

    def region(self, crop: Image, read: ReadTexts) -> str | None:
        if not self.state_from_plate:
            return self.region_name
        for strip in caption_strips(crop):  # above the number first, where most states print it
            named = state_named_in(read([strip]))
            if named:
                return named
        return self.region_name

    def is_caption(self, text: str) -> bool:
        return is_state_name(text)


def country_rules(cfg: PlatesConfig) -> CountryRules:
    """The rules of `cfg.country` (with its region and settings)."""
    if cfg.country == "vn":
        return VietnamPlates(cfg.decisive_confidence, cfg.region)
    if cfg.country == "us":
        return UsPlates(region_name=cfg.region, state_from_plate=cfg.state_from_plate)
    return FormatPlates(cfg.country, cfg.region)
