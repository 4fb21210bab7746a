"""The angle a plate is seen at, measured on its crop from the line of its characters.

Two things make a frame's plate harder to read than its size and sharpness say: the line of
characters is tilted in the image (the camera rolled, or the plate is seen from above and aside),
and the plate is turned away from the camera, so its far end is foreshortened: the characters there
are shorter than at the near end. Both are read off the glyph blobs of the plate's main line:

- tilt: the slope of the line through the glyphs' centres, in degrees;
- foreshortening: the glyph height fitted across the line, the far end's over the near end's (1.0
  for a plate seen square on).

`frontality` folds them into one factor in (0, 1] for picking the frames of a track to read: the
share of plates the recogniser still reads at that angle, measured on real crops turned by known
angles (`benchmarks/bench_plate_angle.py`, figures in `benchmarks/results/plate_angle.md`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from detector.plates.image import Image, _glyph_blobs, _otsu_binary

#: Crops are analysed at this height (a turned plate's canvas is taller than the plate; a small
#: plate's strokes survive the blur and erosion only when scaled up).
POSE_HEIGHT = 200
#: Glyphs are at least this share of the crop's height (a 30-degree turn grows the canvas ~1.9x).
MIN_GLYPH = 0.2
#: Neighbouring characters of a plate stand no more than this many glyph heights apart (centres).
MAX_GAP = 2.0
#: Lines steeper than this are not taken for a plate's line of characters.
MAX_TILT_DEG = 40.0
#: Glyphs on a line: centres within LINE_TOL x glyph height of it, heights within HEIGHT_TOL of the
#: pair's that defines it (tighter lets fewer specks of a textured crop line up; real plates keep
#: their find rate at 0.15/0.25).
LINE_TOL = 0.15
HEIGHT_TOL = 0.25
#: Share of plates still read exactly when turned by a tilt (degrees), relative to square on:
#: PlateReader (country us, the crop's state) on the 504 openalpr US crops rotated in software,
#: `benchmarks/bench_plate_angle.py`, 2026-12-04. Held at the last value beyond 35 degrees.
TILT_READ_RATE = ((0.0, 1.0), (5.0, 0.959), (10.0, 0.944), (15.0, 0.905), (20.0, 0.811), (25.0, 0.627),
                  (30.0, 0.449), (35.0, 0.275))  # fmt: skip
#: The same for foreshortening: (height ratio as `plate_pose` measures it, share still read), from
#: the crops' far edge shortened to 0.4, 0.55, 0.7, 0.85 x and square on (measured 0.985).
YAW_READ_RATE = ((0.565, 0.768), (0.651, 0.909), (0.772, 0.967), (0.886, 0.993), (0.985, 1.0))
#: A crop on which no line of characters is found is read less often than one on which it is: on the
#: 1601 of 10080 track frames (26-62 px, turned 0-36 degrees) where none was found, 0.60 of the
#: square-on rate (`bench_plate_angle.py`, "Track frames on which no pose is found", 2026-12-04).
NO_POSE_READ_RATE = 0.60


@dataclass(frozen=True)
class PlatePose:
    """How a plate is seen: the tilt of its character line and the foreshortening along it."""

    tilt_deg: float
    height_ratio: float
    glyphs: int

    @property
    def frontality(self) -> float:
        """Share of plates the recogniser still reads at this tilt and foreshortening, relative to a
        level plate seen square on (1.0): the measured tables, interpolated, multiplied."""
        tilt_deg, tilt_rate = zip(*TILT_READ_RATE, strict=True)
        ratio, yaw_rate = zip(*YAW_READ_RATE, strict=True)
        return float(
            np.interp(abs(self.tilt_deg), tilt_deg, tilt_rate) * np.interp(self.height_ratio, ratio, yaw_rate)
        )


def _line_inliers(cx: np.ndarray, cy: np.ndarray, hs: np.ndarray) -> np.ndarray:
    """Mask of the largest set of glyphs of similar height whose centres lie on one straight line
    (any slope up to `MAX_TILT_DEG`, the line through two of them); ties go to the taller glyphs."""
    n = len(cx)
    i, j = np.triu_indices(n, 1)
    dx = cx[j] - cx[i]
    ok = (np.abs(hs[i] - hs[j]) <= 0.3 * np.maximum(hs[i], hs[j])) & (np.abs(dx) > 1e-6)
    i, j, dx = i[ok], j[ok], dx[ok]
    if not len(i):
        return np.zeros(n, dtype=bool)
    slope = (cy[j] - cy[i]) / dx
    keep = np.abs(slope) <= math.tan(math.radians(MAX_TILT_DEG))
    i, j, slope = i[keep], j[keep], slope[keep]
    if not len(i):
        return np.zeros(n, dtype=bool)
    ref = (hs[i] + hs[j]) / 2
    # every glyph's distance from every pair's line, measured square to it: (pairs, glyphs)
    dist = np.abs(cy[None, :] - (cy[i, None] + slope[:, None] * (cx[None, :] - cx[i, None])))
    dist /= np.sqrt(1 + slope * slope)[:, None]
    sel = (dist <= LINE_TOL * ref[:, None]) & (
        np.abs(hs[None, :] - ref[:, None]) <= HEIGHT_TOL * ref[:, None]
    )
    count = sel.sum(axis=1)
    mean_h = (sel * hs[None, :]).sum(axis=1) / np.maximum(count, 1)
    best = np.lexsort((mean_h, count))[-1]
    return np.asarray(sel[best])


def _longest_run(cx: np.ndarray, hs: np.ndarray) -> np.ndarray:
    """Indices (in x order) of the longest run of glyphs along a line with no gap between neighbours
    wider than `MAX_GAP` glyph heights: a plate's characters stand together, specks do not."""
    if not len(cx):
        return np.zeros(0, dtype=int)
    order = np.argsort(cx)
    breaks = np.flatnonzero(np.diff(cx[order]) > MAX_GAP * float(np.median(hs)))
    runs = np.split(order, breaks + 1)
    return max(runs, key=len)


def _blobs(crop: Image) -> list[tuple[int, int, int, int]]:
    """Glyph-shaped blobs of the masks `character_boxes` uses, and of the same masks eroded once
    (glyphs that touch each other or a caption, as turned plates' often do, come apart); the mask
    whose blobs line up best wins."""
    _, binary = _otsu_binary(crop)
    kernel = np.ones((3, 3), np.uint8)
    best: list[tuple[int, int, int, int]] = []
    best_count = 0
    for mask in (255 - binary, binary):
        for m in (mask, cv2.erode(mask, kernel)):
            boxes = _glyph_blobs(m, MIN_GLYPH, 1.1)
            if len(boxes) <= best_count:
                continue
            arr = np.array(boxes, dtype=np.float64)
            count = int(_line_inliers(arr[:, 0] + arr[:, 2] / 2, arr[:, 1] + arr[:, 3] / 2, arr[:, 3]).sum())
            if count > best_count:
                best, best_count = boxes, count
    return best


def plate_pose(crop: Image) -> PlatePose | None:
    """The tilt and foreshortening of a plate crop's main line of characters, or None when fewer than
    3 glyphs line up (an unreadable or empty crop)."""
    h, w = crop.shape[:2]
    if h < 8 or w < 8:
        return None
    if h != POSE_HEIGHT:  # small crops upscaled too: the blur and erosion would eat their strokes
        size = (max(8, round(w * POSE_HEIGHT / h)), POSE_HEIGHT)
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if h > POSE_HEIGHT else cv2.INTER_CUBIC)
    boxes = _blobs(crop)
    if len(boxes) < 3:
        return None
    arr = np.array(boxes, dtype=np.float64)
    cx, cy = arr[:, 0] + arr[:, 2] / 2, arr[:, 1] + arr[:, 3] / 2
    hs = arr[:, 3]
    sel = _line_inliers(cx, cy, hs)
    run = _longest_run(cx[sel], hs[sel])
    if len(run) < 3:
        return None
    x, y, gh = cx[sel][run], cy[sel][run], hs[sel][run]
    slope, _ = np.polyfit(x, y, 1)
    tilt = math.degrees(math.atan(float(slope)))
    # a tilted glyph's box is taller than the glyph by about its width x sin(tilt): the same at both
    # ends, so the ratio of the fitted heights still tells the foreshortening
    dh, h0 = np.polyfit(x, gh, 1)
    ends = (h0 + dh * x.min(), h0 + dh * x.max())
    ratio = float(min(ends) / max(ends)) if min(ends) > 0 else 0.0
    return PlatePose(tilt_deg=round(tilt, 2), height_ratio=round(min(1.0, ratio), 3), glyphs=int(sel.sum()))


def frontality(crop: Image) -> float:
    """`PlatePose.frontality` of a crop; `NO_POSE_READ_RATE` where no line of characters is found."""
    pose = plate_pose(crop)
    return NO_POSE_READ_RATE if pose is None else pose.frontality
