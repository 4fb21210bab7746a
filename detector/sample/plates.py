"""Vietnamese one-row car plates for the sample scene: seeded texts and a rendered image.

Format of a one-row car plate: two-digit province code, series letter, hyphen, three digits, dot,
two digits (``51F-123.45``): black characters on white with a black border, 520 x 110 mm.
Rendered with OpenCV's Hershey simplex font (no font files to install), condensed horizontally the
way the plate typeface is.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

PLATE_W_MM, PLATE_H_MM = 520, 110

# province codes of real registrations (Hanoi, HCMC, Hai Phong, Da Nang, Can Tho, Binh Duong, ...)
PROVINCE_CODES = (
    "29",
    "30",
    "36",
    "37",
    "43",
    "47",
    "49",
    "50",
    "51",
    "59",
    "60",
    "61",
    "65",
    "72",
    "79",
    "92",
    "15",
    "98",
    "99",
)
SERIES_LETTERS = "ACDEFGHKLM"


def random_plate_text(rng: np.random.Generator, taken: set[str] | None = None) -> str:
    """A plausible one-row car plate such as ``51F-123.45``; never one in `taken`."""
    taken = taken if taken is not None else set()
    while True:
        code = PROVINCE_CODES[int(rng.integers(len(PROVINCE_CODES)))]
        letter = SERIES_LETTERS[int(rng.integers(len(SERIES_LETTERS)))]
        number = int(rng.integers(10000, 100000))
        digits = f"{number:05d}"
        text = f"{code}{letter}-{digits[:3]}.{digits[3:]}"
        if text not in taken:
            taken.add(text)
            return text


def render_plate(text: str, scale: float = 1.0) -> npt.NDArray[np.uint8]:
    """Plate image at `scale` pixels per millimetre (BGR, white with black border and text)."""
    w, h = PLATE_W_MM * 2, PLATE_H_MM * 2  # draw at 2 px/mm, then resize
    plate = np.full((h, w, 3), 250, np.uint8)
    cv2.rectangle(plate, (5, 5), (w - 6, h - 6), (15, 15, 15), 8, cv2.LINE_AA)
    canvas = np.zeros((140, 120 * len(text)), np.uint8)
    cv2.putText(canvas, text, (10, 110), cv2.FONT_HERSHEY_SIMPLEX, 4.0, 255, 13, cv2.LINE_AA)
    ys, xs = np.nonzero(canvas)
    glyphs = canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    tw, th = w - 90, int(h * 0.62)  # condensed: the string fills the plate's width
    alpha = cv2.resize(glyphs, (tw, th), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    y0, x0 = (h - th) // 2, (w - tw) // 2
    region = plate[y0 : y0 + th, x0 : x0 + tw].astype(np.float32)
    blended = region * (1 - alpha[..., None]) + 15 * alpha[..., None]
    plate[y0 : y0 + th, x0 : x0 + tw] = blended.astype(np.uint8)
    if scale != 2.0:
        size = (max(2, round(PLATE_W_MM * scale)), max(2, round(PLATE_H_MM * scale)))
        interp = cv2.INTER_AREA if scale < 2.0 else cv2.INTER_CUBIC
        return np.asarray(cv2.resize(plate, size, interpolation=interp), dtype=np.uint8)
    return plate


def render_plate_px(text: str, width_px: int) -> npt.NDArray[np.uint8]:
    """Plate image `width_px` wide (height by the 520:110 aspect)."""
    return render_plate(text, scale=width_px / PLATE_W_MM)
