"""Image work on plate crops: ink mask, two-row split, padding/contrast, colour, sharpness.

Pure numpy/OpenCV functions of one crop (BGR uint8), no models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

#: A BGR uint8 image by convention (OpenCV's stubs return untyped arrays, so the dtype is not pinned).
Image = npt.NDArray[Any]

#: Crops are analysed (glyph blobs, row split) at no more than this height.
ANALYSIS_HEIGHT = 120


def ink_mask(crop: Image) -> npt.NDArray[np.bool_]:
    """Characters as True: Otsu on grey, polarity chosen so the ink is the minority of the plate's centre.

    Works for dark-on-light (white/yellow plates) and light-on-dark (blue/red plates, some EU/BR).
    """
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    grey = cv2.GaussianBlur(grey, (3, 3), 0)
    _, binary = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark = binary == 0
    h, w = dark.shape
    centre = dark[h // 5 : h - h // 5 or h, w // 8 : w - w // 8 or w]
    return dark if centre.mean() < 0.5 else ~dark


@dataclass(frozen=True, slots=True)
class RowSplit:
    """Where a two-row plate divides: the row `y`, and the character boxes found above and below."""

    y: int
    upper: int
    lower: int


def _otsu_binary(crop: Image) -> tuple[Image, Image]:
    """Blurred grey image and its Otsu binarisation, the threshold taken from the plate's centre only
    (dark surroundings of the crop would drag Otsu down)."""
    h, w = crop.shape[:2]
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    grey = cv2.GaussianBlur(grey, (3, 3), 0)
    centre = grey[h // 6 : h - h // 6 or h, w // 8 : w - w // 8 or w]
    t, _ = cv2.threshold(centre, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return grey, np.where(grey > t, 255, 0).astype(np.uint8)


def _glyph_blobs(mask: Image, min_height: float, max_aspect: float) -> list[tuple[int, int, int, int]]:
    """Connected components (x, y, w, h) of a binary mask with a glyph's shape: between `min_height`
    and 0.92 x the mask height, width/height 0.08 to `max_aspect`, solid enough, not touching the
    left/right edge (thin outlines, frames and background are dropped)."""
    h, w = mask.shape[:2]
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes = []
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if not (min_height * h <= bh <= 0.92 * h and 0.08 <= bw / bh <= max_aspect):
            continue
        if area < 0.2 * bw * bh or x <= 0 or x + bw >= w:
            continue
        boxes.append((x, y, bw, bh))
    return boxes


def character_boxes(crop: Image) -> list[tuple[int, int, int, int]]:
    """Character-like blobs (x, y, w, h): connected components of the ink mask with a glyph's shape.

    Both polarities are tried (dark-on-light, light-on-dark) and the one with more glyph-like blobs kept.
    """
    h, w = crop.shape[:2]
    grey, binary = _otsu_binary(crop)
    block = max(3, (min(h, w) // 3) | 1)
    adaptive = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 0)
    best: list[tuple[int, int, int, int]] = []
    for mask in (255 - binary, binary, 255 - adaptive, adaptive):
        boxes = _glyph_blobs(mask, 0.18, 1.1)
        if len(boxes) > len(best):
            best = boxes
    return best


@dataclass(frozen=True, slots=True)
class GlyphLine:
    """The plate's main line of characters in a crop: the top and bottom of its glyphs and their median
    height (at the analysis scale), the scale to the crop and the crop's height."""

    top: int
    bottom: int
    glyph_height: float
    scale: float
    height: int

    def band(self, margin: float) -> tuple[int, int]:
        """Rows (y1, y2) of the line with `margin` x glyph height above and below, in crop pixels."""
        y1 = self.top - margin * self.glyph_height
        y2 = self.bottom + margin * self.glyph_height
        return max(0, int(y1 * self.scale)), min(self.height, int(np.ceil(y2 * self.scale)))


def glyph_line(crop: Image) -> GlyphLine | None:
    """The main line of characters (`text_band`), or None when fewer than 3 glyphs are found."""
    h, w = crop.shape[:2]
    if h < 8 or w < 8:
        return None
    scale = 1.0
    if h > ANALYSIS_HEIGHT:
        scale = h / ANALYSIS_HEIGHT
        crop = cv2.resize(crop, (max(8, round(w / scale)), ANALYSIS_HEIGHT), interpolation=cv2.INTER_AREA)
    group = _main_group(character_boxes(crop))
    if len(group) < 3:
        return None
    gh = float(np.median([b[3] for b in group]))
    return GlyphLine(min(b[1] for b in group), max(b[1] + b[3] for b in group), gh, scale, h)


def text_band(crop: Image, margin: float = 0.2) -> tuple[int, int] | None:
    """Rows (y1, y2) of the plate's main line of characters, with `margin` x glyph height above and below.

    The main line is the largest group of glyph blobs of similar height whose centres line up; a state
    name, slogan or dealer frame above or below it is left out. None when fewer than 3 glyphs are found.
    """
    line = glyph_line(crop)
    return None if line is None else line.band(margin)


def caption_strips(crop: Image, min_fraction: float = 0.12) -> list[Image]:
    """The strips above and below the plate's main line of characters, where US plates print the
    state's name and a slogan: each kept when at least `min_fraction` of the crop's height; the top
    and bottom 30% when no main line is found."""
    h = crop.shape[0]
    band = text_band(crop, 0.15)
    if band is None:
        cut = int(0.3 * h)
        return [crop[:cut], crop[h - cut :]] if cut >= 4 else []
    y1, y2 = band
    return [strip for strip in (crop[:y1], crop[y2:]) if strip.shape[0] >= max(4.0, min_fraction * h)]


def find_row_split(crop: Image) -> RowSplit | None:
    """Find the gap between the two rows of a two-row plate.

    Glyph-like blobs are sorted by their vertical centre; the largest jump between neighbours is the
    row gap when it exceeds half the median glyph height and at least two glyphs sit on each side.
    The split row is midway between the upper row's lowest bottom and the lower row's highest top.
    """
    h, w = crop.shape[:2]
    if h < 16 or w < 16:
        return None
    scale = 1.0
    if h > ANALYSIS_HEIGHT:  # glyph analysis needs no more than ~120 px of height
        scale = h / ANALYSIS_HEIGHT
        crop = cv2.resize(crop, (max(16, round(w / scale)), ANALYSIS_HEIGHT), interpolation=cv2.INTER_AREA)
        h, w = crop.shape[:2]
    boxes = character_boxes(crop)
    if len(boxes) < 4:
        return None
    boxes.sort(key=lambda b: b[1] + b[3] / 2)
    centres = np.array([b[1] + b[3] / 2 for b in boxes])
    med_h = float(np.median([b[3] for b in boxes]))
    if med_h > 0.6 * h:
        return None  # glyphs as tall as the plate: one row
    gaps = np.diff(centres)
    k = int(np.argmax(gaps))
    upper, lower = boxes[: k + 1], boxes[k + 1 :]
    if gaps[k] < 0.5 * med_h or len(upper) < 2 or len(lower) < 2:
        return None
    hu, hl = np.median([b[3] for b in upper]), np.median([b[3] for b in lower])
    if not 0.65 <= hu / hl <= 1.5:
        return None  # a small caption (state name, slogan) over big characters is not a second row
    top_bottom = max(b[1] + b[3] for b in upper)
    bottom_top = min(b[1] for b in lower)
    y = int(round((top_bottom + bottom_top) / 2))
    if not 0.2 * h <= y <= 0.8 * h:
        return None
    return RowSplit(int(round(y * scale)), len(upper), len(lower))


def split_rows(crop: Image, split: RowSplit) -> tuple[Image, Image]:
    """Top and bottom rows with a small overlap (characters can touch the valley)."""
    h = crop.shape[0]
    m = max(1, h // 25)
    return crop[: min(h, split.y + m)], crop[max(0, split.y - m) :]


def pad_crop(crop: Image, frac: float = 0.08) -> Image:
    """Pad with the crop's own edge pixels so characters at the border are not clipped by the recogniser."""
    h, w = crop.shape[:2]
    py, px = max(1, int(h * frac)), max(1, int(w * frac / 2))
    return cv2.copyMakeBorder(crop, py, py, px, px, cv2.BORDER_REPLICATE)


def enhance(crop: Image) -> Image:
    """Contrast-limited histogram equalisation on lightness (helps dim, hazy and night crops)."""
    lab = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB)
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(2, 4))
    lab[:, :, 0] = clahe.apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


def upscale(crop: Image, min_height: int = 48) -> Image:
    """Cubic upscale of a small crop to at least `min_height` pixels high (the recogniser's input height)."""
    h, w = crop.shape[:2]
    if h >= min_height or h == 0:
        return crop
    s = min_height / h
    return cv2.resize(crop, (max(1, round(w * s)), min_height), interpolation=cv2.INTER_CUBIC)


def sharpness(crop: Image) -> float:
    """Variance of the Laplacian of the grey crop (higher is sharper), normalised to a 64-px height."""
    if crop.size == 0:
        return 0.0
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    h, w = grey.shape
    if h != 64 and h > 0:
        grey = cv2.resize(grey, (max(1, round(w * 64 / h)), 64), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def median_u8(values: Image) -> float:
    """`np.median` of uint8 values (the mean of the two middle ones for an even count), from their
    histogram: the same value, without sorting (a large crop has ~10^5 background pixels)."""
    n = int(values.size)
    if n == 0:
        return float("nan")
    cum = np.cumsum(np.bincount(values, minlength=256))
    lo, hi = (int(np.searchsorted(cum, k, side="right")) for k in ((n - 1) // 2, n // 2))
    return (lo + hi) / 2


def plate_colour(crop: Image) -> str | None:
    """Background colour of the plate: 'white', 'yellow', 'blue' or 'red', or None when it cannot be told.

    Taken from the median HSV of the non-ink pixels of the plate's centre (edges and frame excluded).
    Vietnamese plates: white private, blue state, yellow commercial, red military.
    """
    h, w = crop.shape[:2]
    if h < 8 or w < 8:
        return None
    inner = crop[h // 6 : h - h // 6, w // 10 : w - w // 10]
    mask = ~ink_mask(inner)
    if mask.sum() < 20:
        return None
    hsv = cv2.cvtColor(inner, cv2.COLOR_BGR2HSV)
    hue, sat, val = (median_u8(hsv[:, :, i][mask]) for i in range(3))
    if val < 60:
        return None  # too dark to tell (night, shadow)
    if sat < 50:
        return "white" if val >= 110 else None
    if 15 <= hue <= 38:
        return "yellow"
    if 95 <= hue <= 130:
        return "blue"
    if hue <= 8 or hue >= 165:
        return "red"
    return None


def stacked_mark_cut(crop: Image) -> tuple[int, int]:
    """Columns (x1, x2) to keep so that small characters stacked in a column beside the main line
    (US plate-type codes such as 'H/H', 'W/C', 'B/B', 'U/S', which the plate number does not include)
    are cut off. The full width when no such stack is found.

    A stack is two glyph blobs of 0.25-0.65 x the main glyph height, one above the other, overlapping
    horizontally, next to the main group's first or last glyph and within its rows.
    """
    h, w = crop.shape[:2]
    if h < 16 or w < 16:
        return 0, w
    scale = 1.0
    if h > ANALYSIS_HEIGHT:
        scale = h / ANALYSIS_HEIGHT
        crop = cv2.resize(crop, (max(16, round(w / scale)), ANALYSIS_HEIGHT), interpolation=cv2.INTER_AREA)
    boxes = _all_blobs(crop)
    group = _main_group([b for b in boxes if b[3] >= 0.3 * crop.shape[0]])
    if len(group) < 3:
        return 0, w
    gh = float(np.median([b[3] for b in group]))
    gx1 = min(b[0] for b in group)
    gx2 = max(b[0] + b[2] for b in group)
    gy1 = min(b[1] for b in group) - 0.3 * gh
    gy2 = max(b[1] + b[3] for b in group) + 0.3 * gh
    small = [b for b in boxes if 0.25 * gh <= b[3] <= 0.65 * gh and b[1] >= gy1 and b[1] + b[3] <= gy2]
    x1, x2 = 0.0, w / scale
    for side in ("left", "right"):
        cand = [b for b in small if (b[0] >= gx2 if side == "right" else b[0] + b[2] <= gx1)]
        for i, a in enumerate(cand):
            for b in cand[i + 1 :]:
                overlap = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
                upper, lower = (a, b) if a[1] < b[1] else (b, a)
                if overlap < 0.5 * min(a[2], b[2]) or upper[1] + upper[3] > lower[1] + 0.15 * gh:
                    continue
                if side == "right":
                    x2 = min(x2, (gx2 + min(a[0], b[0])) / 2)
                else:
                    x1 = max(x1, (gx1 + max(a[0] + a[2], b[0] + b[2])) / 2)
    return max(0, int(x1 * scale)), min(w, int(np.ceil(x2 * scale)))


def _all_blobs(crop: Image) -> list[tuple[int, int, int, int]]:
    """Glyph-shaped blobs of any height from 0.12 x the crop height (for small stacked characters)."""
    h = crop.shape[0]
    _, binary = _otsu_binary(crop)
    best: list[tuple[int, int, int, int]] = []
    for mask in (255 - binary, binary):
        boxes = _glyph_blobs(mask, 0.12, 1.2)
        if sum(b[3] >= 0.3 * h for b in boxes) > sum(b[3] >= 0.3 * h for b in best):
            best = boxes
    return best


def _main_group(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """The largest group of blobs of similar height whose centres line up (the plate's main line)."""
    if len(boxes) < 3:
        return []
    hs = np.array([b[3] for b in boxes], dtype=np.float32)
    cy = np.array([b[1] + b[3] / 2 for b in boxes], dtype=np.float32)
    best: npt.NDArray[np.bool_] | None = None
    for i in range(len(boxes)):
        sel = (np.abs(hs - hs[i]) <= 0.25 * hs[i]) & (np.abs(cy - cy[i]) <= 0.35 * hs[i])
        if best is None or (sel.sum(), hs[sel].mean()) > (best.sum(), hs[best].mean()):
            best = sel
    if best is None:
        return []
    return [boxes[k] for k in np.flatnonzero(best)]
