"""The plates stage: find the plate of a vehicle, read it (one or two rows), vote over a track.

Public API for the pipeline::

    reader = PlateReader.from_config(cfg.plates)                        # loads both models, once
    obs = reader.read_vehicle(frame.image, vehicle_xyxy, frame.index)   # PlateObservation | None
    # (= find_vehicle_plate(image, vehicle_xyxy) -> PlateBox | None, then read_crop(crop_box(...)))
    plate_read = reader.vote([obs, ...])                                # PlateRead | None
    # or incrementally:  voter = reader.voter(); voter.add(obs); plate_read = voter.result()
    # or in one go over a track's frames (detect on all, OCR the best `vote_frames`):
    plate_read = reader.read_track([(frame_index, image, vehicle_xyxy), ...])
    # whole photos: platedet, and plate-like text lines where it finds nothing
    reader.read_image(photo, fallback=TextLineDetector(side=960))   # list[PlateObservation]
    reader.close()

How one crop is read: the crop is cut into views (glyph band, central band, wider band; one row and,
when a row gap is found, two rows), every view is recognised, and the candidate readings (each view's
reading, their letter/digit swaps, edge drops, grammar repairs) are rescored on all views' CTC
probabilities plus the country's grammar or format prior (`rescore.choose`).

A `PlateRead` with `needs_review=True` must not be trusted without a human (low confidence, a
character without a clear majority, or a text that is not a valid plate of the configured country).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from detector.config import PlatesConfig
from detector.plates.ctc import two_row_log_likelihood
from detector.plates.detect import OnnxPlateDetector, PlateBox, PlateDetector
from detector.plates.formats import formats_for, is_state_name, matches, state_named_in
from detector.plates.grammar import normalize_plate, repair_plate
from detector.plates.image import (
    Image,
    RowSplit,
    caption_strips,
    find_row_split,
    plate_colour,
    sharpness,
    split_rows,
    stacked_mark_cut,
    text_band,
)
from detector.plates.ocr import OcrLine, PlateOcr, ensemble_from_config, ocr_from_config
from detector.plates.pose import frontality
from detector.plates.rescore import View, choose
from detector.plates.textdet import TextLineDetector
from detector.plates.vote import PlateObservation, PlateVoter, consensus, plate_quality, select_best, vote
from detector.types import PlateRead

log = logging.getLogger(__name__)


#: Below this width/height a crop may be a two-row plate even when no clear row gap was found.
TWO_ROW_MAX_ASPECT = 1.8
#: Generic plates: a character with less support than this across the variant readings is dropped.
DROP_SUPPORT = 0.3
#: The views of a line, in order: ("band", m) cuts to the glyph band with margins of m x glyph height
#: above and below; ("fixed", f) is a central band without the top and bottom fraction f.
VIEWS: tuple[tuple[str, float], ...] = (("band", 0.15), ("fixed", 0.16), ("band", 0.3))


def line_views(line: Image, n: int) -> list[Image]:
    """Up to `n` views of one line of characters for test-time augmentation: cut to the glyph band
    (drops state names, slogans and frame edges above/below), cut to a fixed central band, and the
    glyph band with a wider margin. Each falls back to the line itself when no glyphs are found."""
    h = line.shape[0]
    views: list[Image] = []
    for kind, margin in VIEWS[: max(1, n)]:
        if kind == "fixed":
            dy = int(h * margin)
            views.append(line[dy : h - dy])
            continue
        band = text_band(line, margin)
        views.append(line[band[0] : band[1]] if band and band[1] - band[0] >= 8 else line)
    return views


@dataclass(frozen=True, slots=True)
class _Reading:
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


def _join(lines: Sequence[OcrLine]) -> tuple[str, float, tuple[float, ...]]:
    raw = " ".join(line.text for line in lines)
    confs = tuple(c for line in lines for c in line.char_confidences)
    # a row that read nothing is a failed row: it pulls the confidence down
    parts = [line.confidence if line.text else 0.0 for line in lines]
    return raw, float(np.mean(parts)) if parts else 0.0, confs


def interpret(raw: str, confidence: float, confs: tuple[float, ...], rows: int, country: str) -> _Reading:
    """Apply the country's grammar to an OCR text: normalise, repair (VN), validate, format."""
    key = normalize_plate(raw)
    if len(confs) != len(key):
        confs = (confidence,) * len(key)
    if country == "vn":
        plate = repair_plate(raw, rows)
        if plate is not None:
            fixed = plate.normalized
            # a repaired character keeps its OCR probability, halved: it was not what the OCR saw
            cc = tuple(c if a == b else c * 0.5 for a, b, c in zip(key, fixed, confs, strict=False))
            if len(fixed) != len(cc):
                cc = (confidence,) * len(fixed)
            conf = float(np.mean(cc)) if cc else 0.0
            return _Reading(raw, fixed, plate.display, min(confidence, conf), cc, rows, True)
        return _Reading(raw, key, key, confidence, confs, rows, False)
    return _Reading(raw, key, key, confidence, confs, rows, 4 <= len(key) <= 10)


class PlateReader:
    """Plate detection + OCR + grammar + voting, configured by `PlatesConfig`."""

    def __init__(
        self,
        cfg: PlatesConfig,
        detector: PlateDetector | None,
        ocr: PlateOcr,
        extra_ocr: Sequence[PlateOcr] = (),
    ) -> None:
        self.cfg = cfg
        self.detector = detector
        self.ocr = ocr
        #: further recognisers whose readings of the same views join the per-character vote
        self.extra_ocr = list(extra_ocr)

    @classmethod
    def from_config(cls, cfg: PlatesConfig, with_detector: bool = True) -> PlateReader:
        """Load the models named by `cfg` (raises ModelError/ConfigError naming the missing file)."""
        detector = OnnxPlateDetector.from_config(cfg) if with_detector else None
        return cls(cfg, detector, ocr_from_config(cfg), ensemble_from_config(cfg))

    # --- one plate crop -------------------------------------------------------------------------
    def read_crop(
        self,
        crop: Image,
        frame_index: int = 0,
        box: PlateBox | None = None,
        *,
        looks: CropLooks | None = None,
    ) -> PlateObservation | None:
        """Read a plate crop (one or two rows). None when the crop is empty or nothing was read.

        `looks`: the crop's sharpness and frontality where the caller measured them already (to rank
        the frames); measured here otherwise.

        The crop is read as one row and, when a row gap is found (or the crop is squarish), as two rows.
        Each line is read in `ocr_variants` views (see `line_views`); the layout (one or two rows) with
        the best total score wins, and its candidate readings are rescored over its views (`_rescore`).
        With country vn the first view is read alone first, and the others only when its reading is not
        decisive (a valid plate whose weakest character's posterior is below `decisive_confidence`).
        A squarish crop with a clear gap between two rows of glyphs is read as two rows only.
        """
        if crop is None or crop.ndim != 3 or crop.shape[0] < 6 or crop.shape[1] < 6:
            return None
        if self.cfg.country != "vn":
            # US plate-type codes stacked beside the number ('H/H', 'W/C') are not part of it
            x1, x2 = stacked_mark_cut(crop)
            if x2 - x1 >= 0.5 * crop.shape[1]:
                crop = crop[:, x1:x2]
        region = self.plate_region(crop)
        h, w = crop.shape[:2]
        split = find_row_split(crop)
        glyph_rows = split is not None
        if split is None and w / h < TWO_ROW_MAX_ASPECT:
            split = RowSplit(h // 2, 0, 0)  # no clear gap: try the middle too; the scores decide
        # a squarish crop with a clear gap between two rows of glyphs is a two-row plate (one-row
        # plates are 4-5 times as wide as high): its whole-crop line is not read
        one_row = not (glyph_rows and w / h < TWO_ROW_MAX_ASPECT)
        n = self.cfg.ocr_variants
        whole = line_views(crop, n) if one_row else []
        top_bottom = None if split is None else [line_views(part, n) for part in split_rows(crop, split)]
        acc = _Layouts()
        best = None
        # country vn: the first view of each layout, then (unless that reading is already decisive)
        # the others; elsewhere every view at once
        stages = [[0], list(range(1, n))] if n > 1 and self.cfg.country == "vn" else [list(range(n))]
        for ks in stages:
            images = [whole[k] for k in ks] if one_row else []
            if top_bottom is not None:
                images += [top_bottom[0][k] for k in ks] + [top_bottom[1][k] for k in ks]
            for ocr in (self.ocr, *self.extra_ocr):
                lines = ocr.read_lines(images)
                acc.add(lines, len(ks), one_row, split is not None, glyph_rows, self.cfg.country)
            best = self._best(acc, region)
            # decisive: a valid plate of the grammar (country vn: area code, series, number) whose
            # weakest character stands clear of every other character there
            if (
                self.cfg.country == "vn"
                and best is not None
                and best.valid
                and min(best.char_confidences, default=0.0) >= self.cfg.decisive_confidence
            ):
                break
        if best is None:
            return None
        looks = looks or CropLooks.of(crop)
        return PlateObservation(
            frame_index=frame_index,
            text=best.display,
            normalized=best.normalized,
            raw_text=best.raw,
            confidence=round(best.confidence, 4),
            char_confidences=tuple(round(c, 4) for c in best.char_confidences),
            rows=best.rows,
            valid=best.valid,
            country=self.cfg.country if best.valid else "unknown",
            colour=plate_colour(crop),
            box=box,
            sharpness=looks.sharpness,
            region=region,
            frontality=round(looks.frontality, 3),
        )

    def _best(self, acc: _Layouts, region: str | None) -> _Reading | None:
        """The reading of the layout (one or two rows) with the best total score, rescored over its views."""
        if not acc.readings[1] and not acc.readings[2]:
            return None
        rows = max(
            (r for r in (1, 2) if acc.readings[r]), key=lambda r: sum(x.score for x in acc.readings[r])
        )
        best = self._combine(acc.readings[rows], rows)
        if best is not None:
            best = self._rescore(best, acc.readings[rows], [v for v in acc.views[rows] if v], rows, region)
        return best

    def _combine(self, readings: list[_Reading], rows: int) -> _Reading | None:
        """Per-character vote of the variant readings of one layout."""
        readings = [r for r in readings if r.normalized]
        if not readings:
            return None
        if len(readings) == 1:
            return readings[0]
        obs = [
            PlateObservation(
                0, r.display, r.normalized, r.raw, r.confidence, r.char_confidences, rows, r.valid, ""
            )
            for r in readings
        ]
        text, support = consensus(obs)
        if self.cfg.country != "vn":
            # characters most variants did not see are edge marks, bolts or decorations
            kept = [(c, s) for c, s in zip(text, support, strict=True) if s >= DROP_SUPPORT]
            if len(kept) >= 4:
                text, support = "".join(c for c, _ in kept), [s for _, s in kept]
        raw = max(readings, key=lambda r: r.confidence).raw
        conf = float(np.mean(support)) if support else 0.0
        return replace(interpret(text, conf, tuple(support), rows, self.cfg.country), raw=raw)

    def plate_region(self, crop: Image) -> str | None:
        """The region whose formats a crop is read with: with country us (and `state_from_plate`), the
        state named above or below the number; else, or when no name is read, the configured one."""
        if self.cfg.country != "us" or not self.cfg.state_from_plate:
            return self.cfg.region
        for strip in caption_strips(crop):  # above the number first, where most states print it
            named = state_named_in(line.text for line in self.ocr.read_lines([strip]))
            if named:
                return named
        return self.cfg.region

    def _rescore(
        self, combined: _Reading, readings: list[_Reading], views: list[View], rows: int, region: str | None
    ) -> _Reading:
        """Pick among the views' readings and their variants by CTC likelihood over all views plus the
        country's grammar/format prior (`rescore.choose`). Without CTC probabilities (fast-plate-ocr)
        the per-character vote stands."""
        if not views:
            return combined
        ranked = sorted(readings, key=lambda r: r.confidence, reverse=True)
        seeds = [
            combined.normalized,
            *(r.normalized for r in ranked),
            *(normalize_plate(r.raw) for r in ranked),
        ]
        choice = choose(seeds, views, self.cfg.country, region, rows)
        if choice is None:
            return combined
        text = choice.text
        if rows == 2 and len(views[0]) == 2 and len(text) >= 2:
            # where the rows part: 3 characters over 5 digits is a square car plate (30E / 586.70),
            # 4 over 4 an old motorbike plate (30-E5 / 8670); the same 8 characters either way
            _, cut = two_row_log_likelihood(views[0][0], views[0][1], text)
            text = f"{text[:cut]} {text[cut:]}"
        out = interpret(text, choice.confidence, choice.char_confidences, rows, self.cfg.country)
        return replace(out, raw=combined.raw)

    # --- detection ------------------------------------------------------------------------------
    def detect_plates(self, image: Image) -> list[PlateBox]:
        if self.detector is None:
            raise RuntimeError("PlateReader was built without a plate detector")
        boxes = self.detector.detect(image)
        return [b for b in boxes if b.height >= self.cfg.min_plate_height_px]

    def read_image(
        self,
        image: Image,
        frame_index: int = 0,
        max_plates: int = 5,
        fallback: TextLineDetector | None = None,
    ) -> list[PlateObservation]:
        """Detect plates anywhere in `image` (a whole photo) and read each one.

        When the plate detector finds nothing and a text-line `fallback` is given, the text lines that
        read like a plate of the configured country are returned instead (`read_text_lines`)."""
        out = []
        for box in self.detect_plates(image)[:max_plates]:
            obs = self.read_crop(crop_box(image, box.xyxy), frame_index, box)
            if obs is not None:
                out.append(obs)
        if out or fallback is None:
            return out
        return self.read_text_lines(image, fallback, frame_index, max_plates)

    def read_text_lines(
        self, image: Image, finder: TextLineDetector, frame_index: int = 0, max_plates: int = 5
    ) -> list[PlateObservation]:
        """Plates among the text lines that `finder` sees in `image`, most plate-like first.

        Only readings valid for the country's grammar are kept; with country us/eu/br/generic a text
        that fits none of the country's formats must mix letters and digits (shop names, phone and
        fleet numbers are not plates). Ranked by: fits the region's formats, fits the country's, mixes
        letters and digits, character height (plate characters are the largest text on the back of
        most vehicles)."""
        region_fmts, country_fmts = formats_for(self.cfg.country, self.cfg.region)
        ranked: list[tuple[tuple[bool, bool, bool, float], PlateObservation]] = []
        for line in finder.find(image, max_boxes=12):
            obs = self.read_crop(crop_box(image, line.xyxy), frame_index, line)
            if obs is None or not obs.valid:
                continue
            text = obs.normalized
            mixed = any(c.isdigit() for c in text) and any(c.isalpha() for c in text)
            fits_region = bool(region_fmts) and matches(text, region_fmts)
            fits_country = bool(country_fmts) and matches(text, country_fmts)
            if self.cfg.country != "vn" and not (mixed or fits_country):
                continue
            ranked.append(((fits_region, fits_country, mixed, line.height), obs))
        ranked.sort(key=lambda t: t[0], reverse=True)
        return [obs for _, obs in ranked[:max_plates]]

    def read_vehicle(
        self, image: Image, vehicle_xyxy: Sequence[float], frame_index: int
    ) -> PlateObservation | None:
        """Find and read the plate of one vehicle in a frame (plate detection on the vehicle crop only).

        Returns None when no plate is found or nothing readable is on it. The observation's box is in
        frame coordinates.
        """
        box = self.find_vehicle_plate(image, vehicle_xyxy)
        if box is None:
            return None
        return self.read_crop(crop_box(image, box.xyxy), frame_index, box)

    def find_vehicle_plate(self, image: Image, vehicle_xyxy: Sequence[float]) -> PlateBox | None:
        """The most confident plate inside the vehicle box (frame coordinates), or None."""
        h, w = image.shape[:2]
        x1, y1, x2, y2 = (float(v) for v in vehicle_xyxy)
        mx, my = 0.04 * (x2 - x1), 0.04 * (y2 - y1)
        ix1, iy1 = max(0, int(x1 - mx)), max(0, int(y1 - my))
        ix2, iy2 = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
        if ix2 - ix1 < 16 or iy2 - iy1 < 16:
            return None
        boxes = self.detect_plates(image[iy1:iy2, ix1:ix2])
        if not boxes:
            return None
        return boxes[0].shifted(ix1, iy1)

    # --- tracks ---------------------------------------------------------------------------------
    def voter(self) -> PlateVoter:
        return PlateVoter(
            self.cfg.vote_frames, self.cfg.trust_threshold, self.cfg.top_candidates, self.cfg.country
        )

    def vote(self, observations: Sequence[PlateObservation]) -> PlateRead | None:
        best = select_best(observations, self.cfg.vote_frames)
        return vote(best, self.cfg.trust_threshold, self.cfg.top_candidates, self.cfg.country)

    def read_track(self, frames: Iterable[tuple[int, Image, Sequence[float]]]) -> PlateRead | None:
        """Read a vehicle's plate over several frames: detect on every frame, OCR the best
        `vote_frames` plate crops (size x detection confidence x sharpness x angle), vote."""
        found: list[tuple[float, int, Image, PlateBox, CropLooks]] = []
        for frame_index, image, vxyxy in frames:
            box = self.find_vehicle_plate(image, vxyxy)
            if box is None:
                continue
            crop = crop_box(image, box.xyxy).copy()  # a copy: the frame itself is not kept alive
            looks = CropLooks.of(crop)
            quality = plate_quality(box.height, box.confidence, looks.sharpness, looks.frontality)
            found.append((quality, frame_index, crop, box, looks))
        found.sort(key=lambda t: t[0], reverse=True)
        obs = [self.read_crop(c, fi, b, looks=lk) for _, fi, c, b, lk in found[: self.cfg.vote_frames]]
        return vote(
            [o for o in obs if o], self.cfg.trust_threshold, self.cfg.top_candidates, self.cfg.country
        )

    def close(self) -> None:
        if self.detector is not None:
            self.detector.close()
        self.ocr.close()
        for ocr in self.extra_ocr:
            ocr.close()


@dataclass(frozen=True)
class CropLooks:
    """What a plate crop's look says about how well it will read, besides its size."""

    sharpness: float  # variance of the Laplacian (`image.sharpness`)
    frontality: float  # share still read at the angle it is seen at (`pose.frontality`)

    @classmethod
    def of(cls, crop: Image) -> CropLooks:
        return cls(sharpness(crop), frontality(crop))


class _Layouts:
    """The readings and CTC views gathered so far for each layout of one crop (1: one row, 2: two)."""

    def __init__(self) -> None:
        self.readings: dict[int, list[_Reading]] = {1: [], 2: []}
        self.views: dict[int, list[View | None]] = {1: [], 2: []}

    def add(
        self, lines: Sequence[OcrLine], n: int, one_row: bool, two_rows: bool, glyph_rows: bool, country: str
    ) -> None:
        """Lines of `n` views: (with `one_row`) the whole crop's, then (with `two_rows`) the top rows'
        and the bottom rows'."""
        top = n if one_row else 0
        for k in range(n):
            # a view cut to the state's name printed over the number (TEXAS) is not a view of it
            if one_row and not (country == "us" and is_state_name(lines[k].text)):
                self.views[1].append(_probs(lines[k]))
                one = interpret(*_join([lines[k]]), 1, country)
                self.readings[1].append(_penalise(one, 0.8) if glyph_rows else one)
            if two_rows:
                pair = [lines[top + k], lines[top + n + k]]
                self.views[2].append(_probs(*pair))
                self.readings[2].append(interpret(*_join(pair), 2, country))


def _probs(*lines: OcrLine) -> View | None:
    """The CTC matrices of a layout's lines, or None when the backend gave none."""
    probs = tuple(line.probs for line in lines)
    return None if any(p is None for p in probs) else probs  # type: ignore[return-value]


def _penalise(r: _Reading, factor: float) -> _Reading:
    return replace(r, confidence=r.confidence * factor)


def crop_box(image: Image, xyxy: Sequence[float], margin: tuple[float, float] = (0.04, 0.1)) -> Image:
    """Cut a box out of an image with a relative margin (x, y), clipped to the image."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    mx, my = margin[0] * (x2 - x1), margin[1] * (y2 - y1)
    ix1, iy1 = max(0, int(round(x1 - mx))), max(0, int(round(y1 - my)))
    ix2, iy2 = min(w, int(round(x2 + mx))), min(h, int(round(y2 + my)))
    return image[iy1:iy2, ix1:ix2]
