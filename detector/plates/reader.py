"""The plates stage: find the plate of a vehicle, read it (one or two rows), vote over a track.

Public API for the pipeline::

    reader = PlateReader.from_config(cfg.plates)                        # loads both models, once
    obs = reader.read_vehicle(frame.image, vehicle_xyxy, frame.index)   # PlateObservation | None
    # (= find_vehicle_plate(image, vehicle_xyxy) -> PlateBox | None, then read_crop(crop_box(...)))
    plate_read = reader.vote([obs, ...])                                # PlateRead | None
    # or incrementally:  voter = reader.voter(); voter.add(obs); plate_read = voter.result()
    # or in one go over a track's frames (detect on all, OCR the best until `vote_frames` readings):
    track = reader.read_track([Sighting(frame_index, image, vehicle_xyxy), ...])   # TrackPlate | None
    # whole photos: platedet, and plate-like text lines where it finds nothing
    reader.read_image(photo, fallback=TextLineDetector(side=960))   # list[PlateObservation]
    reader.close()

How one crop is read: the crop is cut into views (glyph band, central band, wider band; one row and,
when a row gap is found, two rows), every view is recognised, and the candidate readings (each view's
reading, their letter/digit swaps, edge drops, grammar repairs) are rescored on all views' CTC
probabilities plus the country's grammar or format prior (`rescore.choose`). What the country changes
is behind `detector.plates.country.CountryRules`, chosen once from the config.

A `PlateRead` with `needs_review=True` must not be trusted without a human (low confidence, a
character without a clear majority, or a text that is not a valid plate of the configured country).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from detector.config import PlatesConfig
from detector.plates.country import CountryRules, Reading, country_rules
from detector.plates.ctc import two_row_log_likelihood
from detector.plates.detect import OnnxPlateDetector, PlateBox, PlateDetector
from detector.plates.formats import formats_for, matches
from detector.plates.image import (
    Image,
    RowSplit,
    find_row_split,
    plate_colour,
    sharpness,
    split_rows,
)
from detector.plates.layouts import Layouts, LineViews
from detector.plates.ocr import PlateOcr, ensemble_from_config, ocr_from_config
from detector.plates.pose import frontality
from detector.plates.rescore import View, choose
from detector.plates.textdet import TextLineDetector
from detector.plates.vote import PlateObservation, PlateVoter, consensus, plate_quality, select_best, vote
from detector.platetext import normalize_plate
from detector.types import PlateRead

log = logging.getLogger(__name__)


#: Below this width/height a crop may be a two-row plate even when no clear row gap was found.
TWO_ROW_MAX_ASPECT = 1.8


class PlateReader:
    """Plate detection + OCR + grammar + voting, configured by `PlatesConfig`."""

    def __init__(
        self,
        cfg: PlatesConfig,
        detector: PlateDetector | None,
        ocr: PlateOcr,
        extra_ocr: Sequence[PlateOcr] = (),
        rules: CountryRules | None = None,
    ) -> None:
        self.cfg = cfg
        #: what the configured country changes in reading a crop
        self.rules = rules or country_rules(cfg)
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
        Each line is read in `ocr_variants` views (see `LineViews`); the layout (one or two rows) with
        the best total score wins, and its candidate readings are rescored over its views (`_rescore`).
        With country vn the first view is read alone first, and the others only when its reading is not
        decisive (a valid plate whose weakest character's posterior is below `decisive_confidence`).
        A squarish crop with a clear gap between two rows of glyphs is read as two rows only.
        """
        if crop is None or crop.ndim != 3 or crop.shape[0] < 6 or crop.shape[1] < 6:
            return None
        crop = self.rules.trim(crop)
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
        # each view is cut when a stage first reads it
        whole = LineViews(crop, n)
        top_bottom = None if split is None else [LineViews(part, n) for part in split_rows(crop, split)]
        acc = Layouts()
        best = None
        # staged (country vn): the first view of each layout, then (unless that reading is already
        # decisive) the others; elsewhere every view at once
        stages = [[0], list(range(1, n))] if n > 1 and self.rules.staged else [list(range(n))]
        for ks in stages:
            images = [whole[k] for k in ks] if one_row else []
            if top_bottom is not None:
                images += [top_bottom[0][k] for k in ks] + [top_bottom[1][k] for k in ks]
            for ocr in (self.ocr, *self.extra_ocr):
                lines = ocr.read_lines(images)
                acc.add(lines, len(ks), one_row, split is not None, glyph_rows, self.rules)
            best = self._best(acc, region)
            if best is not None and self.rules.decisive(best):
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
            country=self.rules.name if best.valid else "unknown",
            colour=plate_colour(crop),
            box=box,
            sharpness=looks.sharpness,
            region=region,
            frontality=round(looks.frontality, 3),
        )

    def _best(self, acc: Layouts, region: str | None) -> Reading | None:
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

    def _combine(self, readings: list[Reading], rows: int) -> Reading | None:
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
        text, support = self.rules.keep_characters(*consensus(obs))
        raw = max(readings, key=lambda r: r.confidence).raw
        conf = float(np.mean(support)) if support else 0.0
        return replace(self.rules.interpret(text, conf, tuple(support), rows), raw=raw)

    def plate_region(self, crop: Image) -> str | None:
        """The region whose formats a crop is read with: with country us (and `state_from_plate`), the
        state named above or below the number; else, or when no name is read, the configured one."""
        return self.rules.region(crop, self._read_texts)

    def _read_texts(self, images: Sequence[Image]) -> Iterator[str]:
        return (line.text for line in self.ocr.read_lines(list(images)))

    def _rescore(
        self, combined: Reading, readings: list[Reading], views: list[View], rows: int, region: str | None
    ) -> Reading:
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
        choice = choose(seeds, views, self.rules.name, region, rows)
        if choice is None:
            return combined
        text = choice.text
        if rows == 2 and len(views[0]) == 2 and len(text) >= 2:
            # where the rows part: 3 characters over 5 digits is a square car plate (30E / 586.70),
            # 4 over 4 an old motorbike plate (30-E5 / 8670); the same 8 characters either way
            _, cut = two_row_log_likelihood(views[0][0], views[0][1], text)
            text = f"{text[:cut]} {text[cut:]}"
        out = self.rules.interpret(text, choice.confidence, choice.char_confidences, rows)
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
        region_fmts, country_fmts = formats_for(self.rules.name, self.rules.region_name)
        ranked: list[tuple[tuple[bool, bool, bool, float], PlateObservation]] = []
        for line in finder.find(image, max_boxes=12):
            obs = self.read_crop(crop_box(image, line.xyxy), frame_index, line)
            if obs is None or not obs.valid:
                continue
            text = obs.normalized
            mixed = any(c.isdigit() for c in text) and any(c.isalpha() for c in text)
            fits_region = bool(region_fmts) and matches(text, region_fmts)
            fits_country = bool(country_fmts) and matches(text, country_fmts)
            if not self.rules.plate_like(text, fits_country):
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
            self.cfg.vote_frames, self.cfg.trust_threshold, self.cfg.top_candidates, self.rules.name
        )

    def vote(self, observations: Sequence[PlateObservation]) -> PlateRead | None:
        """The vote over the best `vote_frames` observations (`select_best`)."""
        best = select_best(observations, self.cfg.vote_frames)
        return vote(best, self.cfg.trust_threshold, self.cfg.top_candidates, self.rules.name)

    def read_track(
        self, sightings: Iterable[Sighting], fallback: TextLineDetector | None = None
    ) -> TrackPlate | None:
        """Read a vehicle's plate over the frames it was seen on: the plate vote, and the crop that
        agrees with it best. The one way a track's plate is read (the pipeline's violators, the tests,
        the benchmarks).

        The plate detector runs on every sighting's vehicle box; where it finds none and a text-line
        `fallback` is given, the text lines on the vehicle that read as a valid plate are read instead
        (the most confident one). The detected plates are read best first (plate height x detection
        confidence x sharpness x angle) until `vote_frames` of them read; the best `vote_frames` of
        all readings are voted. `sightings` is consumed once, in order (a generator may decode each
        frame as it comes: only plate crops are kept); its order breaks ties of quality."""
        found: list[tuple[float, int, int, Image, PlateBox, CropLooks]] = []
        read: list[tuple[int, PlateObservation, Image]] = []
        for pos, s in enumerate(sightings):
            box = self.find_vehicle_plate(s.image, s.vehicle_xyxy)
            if box is not None:
                crop = crop_box(s.image, box.xyxy).copy()  # a copy: the frame itself is not kept alive
                looks = CropLooks.of(crop)
                quality = plate_quality(
                    box.height, box.confidence, looks.sharpness, round(looks.frontality, 3)
                )
                found.append((quality, pos, s.frame_index, crop, box, looks))
            elif fallback is not None:
                on_line = self._read_vehicle_text_lines(s, fallback)
                if on_line is not None:
                    read.append((pos, *on_line))
        found.sort(key=lambda f: (-f[0], f[1]))
        n = 0
        for _, pos, frame_index, crop, box, looks in found:
            if n == self.cfg.vote_frames:
                break  # the rest are of lower quality: they would not be voted
            obs = self.read_crop(crop, frame_index, box, looks=looks)
            if obs is not None:
                read.append((pos, obs, crop))
                n += 1
        read.sort(key=lambda r: (-r[1].quality, r[0]))
        voted = vote(
            [o for _, o, _ in read[: self.cfg.vote_frames]],
            self.cfg.trust_threshold,
            self.cfg.top_candidates,
            self.rules.name,
        )
        if voted is None:
            return None
        _, best, crop = max(read, key=lambda r: (r[1].normalized == voted.normalized, r[1].quality))
        return TrackPlate(voted, best, crop, tuple(o for _, o, _ in read))

    def read_sighting(
        self, s: Sighting, fallback: TextLineDetector | None = None
    ) -> tuple[PlateObservation, Image] | None:
        """The plate of one sighting and its crop: the plate detector on the vehicle box, else (with a
        text-line `fallback`) the most confident valid plate among the text lines on the vehicle."""
        box = self.find_vehicle_plate(s.image, s.vehicle_xyxy)
        if box is not None:
            crop = crop_box(s.image, box.xyxy).copy()
            obs = self.read_crop(crop, s.frame_index, box)
            return (obs, crop) if obs is not None else None
        return self._read_vehicle_text_lines(s, fallback) if fallback is not None else None

    def _read_vehicle_text_lines(
        self, s: Sighting, finder: TextLineDetector
    ) -> tuple[PlateObservation, Image] | None:
        """The most confident valid plate among the text lines `finder` sees on the vehicle."""
        box = s.vehicle_xyxy
        x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
        vehicle = s.image[y1 : int(np.ceil(box[3])), x1 : int(np.ceil(box[2]))]
        best: tuple[PlateObservation, Image] | None = None
        for line in finder.find(vehicle):
            lx1, ly1, lx2, ly2 = line.xyxy
            crop = crop_box(s.image, (lx1 + x1, ly1 + y1, lx2 + x1, ly2 + y1)).copy()
            obs = self.read_crop(crop, s.frame_index)
            if obs is not None and obs.valid and (best is None or obs.confidence > best[0].confidence):
                best = (obs, crop)
        return best

    def close(self) -> None:
        if self.detector is not None:
            self.detector.close()
        self.ocr.close()
        for ocr in self.extra_ocr:
            ocr.close()


@dataclass(frozen=True, slots=True)
class Sighting:
    """A vehicle on one frame, where `read_track` looks for its plate (box in frame coordinates)."""

    frame_index: int
    image: Image
    vehicle_xyxy: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class TrackPlate:
    """A track's plate: the vote, the reading that agrees with it best and its crop (the evidence's
    plate picture), and every reading made, best first."""

    read: PlateRead
    best: PlateObservation
    crop: Image
    observations: tuple[PlateObservation, ...]


@dataclass(frozen=True)
class CropLooks:
    """What a plate crop's look says about how well it will read, besides its size."""

    sharpness: float  # variance of the Laplacian (`image.sharpness`)
    frontality: float  # share still read at the angle it is seen at (`pose.frontality`)

    @classmethod
    def of(cls, crop: Image) -> CropLooks:
        return cls(sharpness(crop), frontality(crop))


def crop_box(image: Image, xyxy: Sequence[float], margin: tuple[float, float] = (0.04, 0.1)) -> Image:
    """Cut a box out of an image with a relative margin (x, y), clipped to the image."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    mx, my = margin[0] * (x2 - x1), margin[1] * (y2 - y1)
    ix1, iy1 = max(0, int(round(x1 - mx))), max(0, int(round(y1 - my)))
    ix2, iy2 = min(w, int(round(x2 + mx))), min(h, int(round(y2 + my)))
    return image[iy1:iy2, ix1:ix2]
