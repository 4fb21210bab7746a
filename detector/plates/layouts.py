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
from detector.plates.image import GlyphLine, Image, glyph_line
from detector.plates.ocr import OcrLine
from detector.plates.rescore import View

#: The views of a line, in order: ("band", m) cuts to the glyph band with margins of m x glyph height
#: above and below; ("fixed", f) is a central band without the top and bottom fraction f.
VIEWS: tuple[tuple[str, float], ...] = (("band", 0.15), ("fixed", 0.16), ("band", 0.3))


class LineViews:
    """The first `n` views of one line of characters (`VIEWS`), each cut when first asked for, the glyph
    band found once for all: a crop whose first view reads decisively never cuts the others."""

    def __init__(self, line: Image, n: int) -> None:
        self.line = line
        self.n = max(1, n)
        self._glyphs: GlyphLine | None | bool = False  # False: not looked for yet

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, k: int) -> Image:
        """View `k`: cut to the glyph band (falls back to the line itself when no glyphs are found) or
        to a fixed central band."""
        if not 0 <= k < self.n:
            raise IndexError(k)
        kind, margin = VIEWS[k]
        h = self.line.shape[0]
        if kind == "fixed":
            dy = int(h * margin)
            return self.line[dy : h - dy]
        if self._glyphs is False:
            self._glyphs = glyph_line(self.line)
        band = None if not isinstance(self._glyphs, GlyphLine) else self._glyphs.band(margin)
        return self.line[band[0] : band[1]] if band and band[1] - band[0] >= 8 else self.line


def line_views(line: Image, n: int) -> list[Image]:
    """Up to `n` views of one line of characters for test-time augmentation: cut to the glyph band
    (drops state names, slogans and frame edges above/below), cut to a fixed central band, and the
    glyph band with a wider margin. Each falls back to the line itself when no glyphs are found."""
    views = LineViews(line, n)
    return [views[k] for k in range(len(views))]


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
