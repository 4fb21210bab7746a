"""The views of a plate crop and the readings gathered from them, per layout (one row, two rows).

`line_views` cuts one line of characters into differently cut copies for test-time augmentation;
`Layouts` keeps each layout's readings (after the country's rules) and CTC matrices (for rescoring)
as the reader reads the views.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from detector.plates.country import CountryRules, Reading
from detector.plates.image import Image, text_band
from detector.plates.ocr import OcrLine
from detector.plates.rescore import View

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


def _join(lines: Sequence[OcrLine]) -> tuple[str, float, tuple[float, ...]]:
    raw = " ".join(line.text for line in lines)
    confs = tuple(c for line in lines for c in line.char_confidences)
    # a row that read nothing is a failed row: it pulls the confidence down
    parts = [line.confidence if line.text else 0.0 for line in lines]
    return raw, float(np.mean(parts)) if parts else 0.0, confs


class Layouts:
    """The readings and CTC views gathered so far for each layout of one crop (1: one row, 2: two)."""

    def __init__(self) -> None:
        self.readings: dict[int, list[Reading]] = {1: [], 2: []}
        self.views: dict[int, list[View | None]] = {1: [], 2: []}

    def add(
        self,
        lines: Sequence[OcrLine],
        n: int,
        one_row: bool,
        two_rows: bool,
        glyph_rows: bool,
        rules: CountryRules,
    ) -> None:
        """Lines of `n` views: (with `one_row`) the whole crop's, then (with `two_rows`) the top rows'
        and the bottom rows'."""
        top = n if one_row else 0
        for k in range(n):
            # a view cut to the state's name printed over the number (TEXAS) is not a view of it
            if one_row and not rules.is_caption(lines[k].text):
                self.views[1].append(_probs(lines[k]))
                one = rules.interpret(*_join([lines[k]]), 1)
                self.readings[1].append(_penalise(one, 0.8) if glyph_rows else one)
            if two_rows:
                pair = [lines[top + k], lines[top + n + k]]
                self.views[2].append(_probs(*pair))
                self.readings[2].append(rules.interpret(*_join(pair), 2))


def _probs(*lines: OcrLine) -> View | None:
    """The CTC matrices of a layout's lines, or None when the backend gave none."""
    probs = tuple(line.probs for line in lines)
    return None if any(p is None for p in probs) else probs  # type: ignore[return-value]


def _penalise(r: Reading, factor: float) -> Reading:
    return replace(r, confidence=r.confidence * factor)
