"""A stop line found in the image: a painted white band across the lanes, suggested to the operator.

Classical and camera-independent (every size is a fraction of the image, no per-camera setting):

1. White paint: the brightness (HSV value) minus its opening by a vertical bar of `tophat_height`
   of the image height (a white top-hat). Bright structures shorter than the bar vertically keep
   their contrast (a band across the road, seen from a camera looking along it); tall ones lose it
   (lane lines, the bars of a zebra crossing, the sky, a lit wall). Pixels with at least
   `min_contrast` grey levels of it and little colour (`max_saturation`: stop lines are white, the
   centre line yellow) are paint.
2. Long in one direction: for each tilt in `-max_tilt_deg..max_tilt_deg`, the mask opened by a line
   of `min_run` of the image width at that tilt keeps only runs at least that long (a zebra's bars,
   text, arrows and lane lines crossing the tilt are shorter).
3. The band: per tilt, the kept pixels' perpendicular offsets make a profile; each peak is a band,
   its rows those with at least half the peak's count (its thickness), its length the distinct
   positions along the line that it covers (gaps from vehicles and wear do not count).
4. Kept: bands at most `max_thickness` of the image height thick and covering at least
   `min_length` of the image width, brighter than both flanks by `min_band_contrast`, with little
   paint in the flanks (`max_flank_paint`: not foliage or text), no more colour than them (not yellow
   paint) and even flanks along the band (`max_flank_spread`: a road surface, not a facade); one per
   painted line (the same band at neighbouring tilts is suppressed), ranked by covered length times
   contrast. The flank thresholds were set on the development part of the Roboflow VN frames
   (benchmarks/bench_stopline.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class StopLineSearch:
    """The finder's settings, each a fraction of the image (or an angle), the same for every camera."""

    work_long_side: int = 800  # the image is shrunk to at most this long side first
    tophat_height: float = 0.06  # of the image height: taller bright things are not a band
    min_contrast: int = 15  # grey levels above the vertical opening
    max_saturation: int = 90  # HSV saturation (0-255): white or grey paint only
    texture_window: float = 0.02  # of the image width: the window the surface's roughness is taken over
    max_ground_std: float = 10.0  # grey levels: paint lies on a smooth surface (road), not foliage or walls
    max_tilt_deg: float = 20.0  # the band's angle to the image's horizontal, either way
    tilt_step_deg: float = 2.0
    min_run: float = 0.04  # of the image width: the shortest unbroken piece of paint kept
    min_length: float = 0.12  # of the image width: the least covered length of a band
    max_thickness: float = 0.03  # of the image height
    min_fill: float = 0.4  # covered length / the band's extent
    min_band_contrast: float = 15.0  # band brightness over its brighter flank's (grey levels)
    max_flank_paint: float = 0.2  # most paint allowed in the flanks beside the band
    max_colour_excess: float = 10.0  # most saturation the band may have over its flanks (yellow paint)
    max_flank_spread: float = 24.0  # grey levels: the most uneven flank (the road beside a line is even)


@dataclass(frozen=True, slots=True)
class StopLineCandidate:
    """A painted band, in the input image's pixels: its two ends, and how it was measured."""

    p1: tuple[float, float]  # left end (x, y)
    p2: tuple[float, float]  # right end
    length_px: float  # painted length covered (gaps left out)
    thickness_px: float
    tilt_deg: float  # angle to the image's horizontal, positive when the right end is lower
    fill: float  # covered length / extent
    contrast: float = 0.0  # grey levels the band is brighter than the darker-contrast of its two flanks
    flank_paint: float = 0.0  # fraction of paint in the flanks beside the band (clutter: foliage, text)
    colour_excess: float = 0.0  # the band's median saturation less its flanks' (paint is whiter: <= 0)
    flank_spread: float = 0.0  # grey levels: the flanks' brightness interquartile range along the band

    def y_at(self, x: float) -> float:
        """The line's y at image column x (extended past its ends)."""
        (x1, y1), (x2, y2) = self.p1, self.p2
        if x2 == x1:
            return (y1 + y2) / 2
        return y1 + (y2 - y1) * (x - x1) / (x2 - x1)


def paint_mask(image: Image, params: StopLineSearch = StopLineSearch()) -> Mask:
    """Step 1: white paint that is thin vertically (see the module doc)."""
    h = image.shape[0]
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    k = max(3, int(round(params.tophat_height * h)) | 1)
    bar = cv2.getStructuringElement(cv2.MORPH_RECT, (1, k))
    value = hsv[..., 2]
    tophat = cv2.morphologyEx(value, cv2.MORPH_TOPHAT, bar)
    ground = (value - tophat).astype(np.float32)  # the surface with thin bright things taken out
    win = max(3, int(round(params.texture_window * image.shape[1])) | 1)
    mean = cv2.blur(ground, (win, win))
    std = np.sqrt(np.maximum(cv2.blur(ground * ground, (win, win)) - mean * mean, 0.0))
    return np.asarray(
        (tophat >= params.min_contrast)
        & (hsv[..., 1] <= params.max_saturation)
        & (std <= params.max_ground_std)
    )


def _line_kernel(length: int, tilt_deg: float) -> npt.NDArray[np.uint8]:
    """A one-pixel line of `length` at `tilt_deg` (y down), centred in an odd square kernel."""
    t = math.radians(tilt_deg)
    half = (length - 1) / 2
    dx, dy = half * math.cos(t), half * math.sin(t)
    size = 2 * int(math.ceil(max(abs(dx), abs(dy)))) + 1
    k = np.zeros((size, size), np.uint8)
    c = size // 2
    cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1, 1)
    return k


def _sample(
    img: npt.NDArray[np.uint8],
    pos: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.float64],
    cos_t: float,
    sin_t: float,
) -> npt.NDArray[np.uint8]:
    """img at along-positions pos (x) perpendicular offsets (rows in the band's frame), nearest pixel."""
    s = pos[None, :].astype(np.float64) + 0.5
    d = offsets[:, None]
    x = np.clip(np.rint(s * cos_t - d * sin_t), 0, img.shape[1] - 1).astype(np.int64)
    y = np.clip(np.rint(s * sin_t + d * cos_t), 0, img.shape[0] - 1).astype(np.int64)
    return np.asarray(img[y, x])


def _flanks(
    hsv: Image, mask: Mask, pos: npt.NDArray[np.int64], lo: float, hi: float, t: float
) -> tuple[float, float, float, float]:
    """(contrast, flank paint, colour excess, flank spread) of the band [lo, hi] (offsets) over
    positions pos: the band's median brightness less the brighter flank's, the fraction of paint in
    both flanks, the band's median saturation less the flanks', and the larger of the two flanks'
    interquartile brightness ranges along the band (a road surface is even; a facade is not). A flank is as
    wide as the band (at least 2 px), one band's width off it (paint right beside it is the same
    line smeared or a zebra close by, not road)."""
    cos_t, sin_t = math.cos(t), math.sin(t)
    width = max(hi - lo, 2.0)
    value, sat = hsv[..., 2], hsv[..., 1]
    band_off = np.arange(lo, hi + 0.5)
    above_off = np.arange(lo - 2 * width, lo - width + 0.5)
    below_off = np.arange(hi + width, hi + 2 * width + 0.5)
    band = _sample(value, pos, band_off, cos_t, sin_t)
    above = _sample(value, pos, above_off, cos_t, sin_t)
    below = _sample(value, pos, below_off, cos_t, sin_t)
    flank_sat = np.concatenate(
        [
            _sample(sat, pos, above_off, cos_t, sin_t).ravel(),
            _sample(sat, pos, below_off, cos_t, sin_t).ravel(),
        ]
    )
    excess = float(np.median(_sample(sat, pos, band_off, cos_t, sin_t))) - float(np.median(flank_sat))
    contrast = float(np.median(band)) - max(float(np.median(above)), float(np.median(below)))
    m8 = mask.astype(np.uint8)
    paint = np.concatenate(
        [_sample(m8, pos, above_off, cos_t, sin_t).ravel(), _sample(m8, pos, below_off, cos_t, sin_t).ravel()]
    )
    spread = max(float(np.subtract(*np.percentile(f, [75, 25]))) for f in (above, below))
    return contrast, float(paint.mean()), excess, spread


def _bands(
    xs: npt.NDArray[np.float64],
    ys: npt.NDArray[np.float64],
    tilt_deg: float,
    hsv: Image,
    mask: Mask,
    p: StopLineSearch,
) -> list[StopLineCandidate]:
    """Steps 3-4 at one tilt: the bands among the kept pixels (xs, ys)."""
    h, w = hsv.shape[:2]
    t = math.radians(tilt_deg)
    cos_t, sin_t = math.cos(t), math.sin(t)
    off = ys * cos_t - xs * sin_t  # perpendicular offset (y of the line at x = 0, times cos)
    along = xs * cos_t + ys * sin_t
    lo = math.floor(off.min())
    bins = np.floor(off - lo).astype(np.int64)
    prof = np.bincount(bins).astype(np.float64)
    smooth = np.convolve(np.pad(prof, 1), np.ones(3) / 3, mode="valid")
    out = []
    for i in np.argsort(-smooth):
        peak = smooth[i]
        if peak < p.min_length * w * 0.5:
            break
        if i > 0 and smooth[i - 1] > peak or i + 1 < len(smooth) and smooth[i + 1] > peak:
            continue
        a = int(i)
        while a > 0 and prof[a - 1] >= peak / 2:
            a -= 1
        b = int(i)
        while b + 1 < len(prof) and prof[b + 1] >= peak / 2:
            b += 1
        thick = b - a + 1
        if thick > p.max_thickness * h:
            continue
        sel = (bins >= a) & (bins <= b)
        pos = np.unique(np.floor(along[sel]).astype(np.int64))
        covered = float(len(pos))
        if covered < p.min_length * w:
            continue
        t1, t2 = float(np.percentile(pos, 1)), float(np.percentile(pos, 99)) + 1
        fill = covered / max(t2 - t1, 1.0)
        if fill < p.min_fill:
            continue
        contrast, flank_paint, excess, spread = _flanks(hsv, mask, pos, lo + a, lo + b, t)
        if (
            contrast < p.min_band_contrast
            or flank_paint > p.max_flank_paint
            or excess > p.max_colour_excess
            or spread > p.max_flank_spread
        ):
            continue
        o = lo + (a + b + 1) / 2  # the band's centre offset
        ends = [(s * cos_t - o * sin_t, s * sin_t + o * cos_t) for s in (t1, t2)]
        out.append(
            StopLineCandidate(
                ends[0],
                ends[1],
                covered,
                float(thick),
                tilt_deg,
                min(fill, 1.0),
                contrast,
                flank_paint,
                excess,
                spread,
            )
        )
    return out


def _same_line(a: StopLineCandidate, b: StopLineCandidate, tol: float) -> bool:
    """b lies on a (within tol px) where their extents overlap, and they overlap by half of b."""
    lo, hi = max(a.p1[0], b.p1[0]), min(a.p2[0], b.p2[0])
    if hi - lo < 0.5 * (b.p2[0] - b.p1[0]):
        return False
    xs = np.linspace(lo, hi, 5)
    return bool(np.all(np.abs([a.y_at(x) - b.y_at(x) for x in xs]) <= tol))


def find_stop_lines(
    image: Image, region: Mask | None = None, params: StopLineSearch = StopLineSearch()
) -> list[StopLineCandidate]:
    """Painted bands across the road in a BGR image, best first (longest painted length).

    region: an optional boolean mask of the image (True where a stop line may be, e.g. outside the
    ignore areas). The coordinates returned are the input image's."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"find_stop_lines: expected a BGR image (H, W, 3), got shape {image.shape}")
    H, W = image.shape[:2]
    scale = min(1.0, params.work_long_side / max(H, W))
    size = (round(W * scale), round(H * scale))
    img: Image = np.asarray(
        cv2.resize(image, size, interpolation=cv2.INTER_AREA) if scale < 1 else image, np.uint8
    )
    h, w = img.shape[:2]
    hsv: Image = np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2HSV), np.uint8)
    mask = paint_mask(img, params)
    if region is not None:
        if region.shape != (H, W):
            raise ValueError(f"find_stop_lines: region shape {region.shape} is not the image's {(H, W)}")
        r = (
            cv2.resize(region.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
            if scale < 1
            else region
        )
        mask &= r.astype(bool)
    m8 = mask.astype(np.uint8)
    run = max(5, int(round(params.min_run * w)))
    n = int(round(params.max_tilt_deg / params.tilt_step_deg))
    found: list[StopLineCandidate] = []
    for k in range(-n, n + 1):
        tilt = k * params.tilt_step_deg
        kept = cv2.morphologyEx(m8, cv2.MORPH_OPEN, _line_kernel(run, tilt))
        ys, xs = np.nonzero(kept)
        if len(xs) >= params.min_length * w:
            found += _bands(xs.astype(np.float64), ys.astype(np.float64), tilt, hsv, mask, params)
    found.sort(key=lambda c: -c.length_px * c.contrast)
    chosen: list[StopLineCandidate] = []
    for c in found:
        tol = max(c.thickness_px, 0.01 * h)
        if not any(_same_line(kept_c, c, tol) or _same_line(c, kept_c, tol) for kept_c in chosen):
            chosen.append(c)
    inv = 1.0 / scale
    return [
        StopLineCandidate(
            (c.p1[0] * inv, c.p1[1] * inv),
            (c.p2[0] * inv, c.p2[1] * inv),
            c.length_px * inv,
            c.thickness_px * inv,
            c.tilt_deg,
            c.fill,
            c.contrast,
            c.flank_paint,
            c.colour_excess,
            c.flank_spread,
        )
        for c in chosen
    ]


def vertical_offset(candidate: StopLineCandidate, points: Sequence[Sequence[float]]) -> float | None:
    """Mean signed vertical distance (px, positive when the candidate is lower) from a drawn polyline
    (a configured stop line's points) to the candidate's line, over the x-range both span; None when
    they share less than a tenth of the polyline's width."""
    pts = np.asarray(points, dtype=np.float64)
    order = np.argsort(pts[:, 0])
    px, py = pts[order, 0], pts[order, 1]
    lo, hi = max(px[0], candidate.p1[0]), min(px[-1], candidate.p2[0])
    if hi - lo < 0.1 * (px[-1] - px[0]):
        return None
    xs = np.linspace(lo, hi, 50)
    return float(np.mean([candidate.y_at(x) for x in xs] - np.interp(xs, px, py)))
