"""Geometry annotators: boxes, traces, polygons, lines and bars. Each draws on the frame it is given
(in place) and returns it; text goes through `LabelAnnotator`, so that no two labels overlap."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from detector.annotate.labels import (
    Colour,
    Image,
    Label,
    Place,
    Style,
    ascii_fold,
    line_metrics,
    text_size,
)

#: Priorities of labels (higher is placed first, nearest its anchor).
PRIORITY_VIOLATION = 100
PRIORITY_VIOLATOR = 90
PRIORITY_SIGNAL = 60
PRIORITY_ZONE = 30
PRIORITY_TRACK = 20
PRIORITY_DETAIL = 10

RED: Colour = (0, 0, 255)
GREY: Colour = (200, 200, 200)
WHITE: Colour = (255, 255, 255)
YELLOW: Colour = (0, 220, 255)
BLACK: Colour = (0, 0, 0)


def points(xy: object) -> npt.NDArray[np.int32]:
    """Points as OpenCV wants them for polylines: (N, 1, 2) int32, rounded."""
    return np.round(np.asarray(xy, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)


def _line(style: Style | None, frame: Image) -> int:
    return (style or Style.of(frame)).line


class BoxAnnotator:
    """Rectangles around boxes (x1, y1, x2, y2), one colour each; `grow` pixels outside the box."""

    def __init__(self, thickness: int | None = None, grow: int = 0) -> None:
        self.thickness = thickness
        self.grow = grow

    def annotate(
        self,
        frame: Image,
        xyxy: npt.ArrayLike,
        colours: Colour | Sequence[Colour],
        style: Style | None = None,
    ) -> Image:
        boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        th = self.thickness or _line(style, frame)
        many = len(colours) > 0 and not isinstance(colours[0], int)
        for i, box in enumerate(boxes):
            colour = colours[i] if many else colours
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            g = self.grow
            cv2.rectangle(frame, (x1 - g, y1 - g), (x2 + g, y2 + g), colour, th)  # type: ignore[arg-type]
        return frame


class TraceAnnotator:
    """The recent path of each track (its bottom-centre points), as a polyline in its colour."""

    def __init__(self, length: int = 40) -> None:
        self.length = length

    def annotate(
        self, frame: Image, traces: Iterable[tuple[npt.ArrayLike, Colour]], style: Style | None = None
    ) -> Image:
        th = _line(style, frame)
        for xy, colour in traces:
            pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)[-self.length :]
            if len(pts) > 1:
                cv2.polylines(frame, [points(pts)], False, colour, th, cv2.LINE_AA)
        return frame


@dataclass(frozen=True, slots=True)
class Shape:
    """A polygon or polyline to draw: translucent fill (`fill` alpha, 0 for none) and outline."""

    xy: npt.ArrayLike
    colour: Colour
    fill: float = 0.0
    outline: int = 1  # line width in style lines; 0 draws no outline
    closed: bool = True
    arrow: bool = False  # an arrow head at the last point
    extra: int = 0  # pixels added to the outline width


class ShapeAnnotator:
    """Zones and lines: all fills blended in one pass per opacity, then the outlines."""

    def annotate(self, frame: Image, shapes: Sequence[Shape], style: Style | None = None) -> Image:
        line = _line(style, frame)
        for alpha in sorted({s.fill for s in shapes if s.fill > 0}):
            overlay = frame.copy()
            for s in shapes:
                if s.fill == alpha:
                    cv2.fillPoly(overlay, [points(s.xy)], s.colour)
            cv2.addWeighted(overlay, alpha, frame, 1 - alpha, 0, dst=frame)
        for s in shapes:
            if not s.outline:
                continue
            th = s.outline * line + s.extra
            pts = points(s.xy)
            if s.arrow and len(pts) >= 2:
                if len(pts) > 2:
                    cv2.polylines(frame, [pts[:-1]], False, s.colour, th, cv2.LINE_AA)
                a, b = pts[-2, 0], pts[-1, 0]
                seg = float(np.hypot(*(b - a)))
                tip = min(0.5, 7.0 * line / max(seg, 1e-9))
                cv2.arrowedLine(
                    frame, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), s.colour, th, cv2.LINE_AA, 0, tip
                )
            else:
                cv2.polylines(frame, [pts], s.closed, s.colour, th, cv2.LINE_AA)
        return frame


class BarAnnotator:
    """A black strip across the top or bottom of the frame for a line or two of text (status,
    timestamp). `wrap` joins text parts into as few lines as fit the width; `rect` is the strip (to
    keep other labels off it); `labels` its lines, fixed in the strip."""

    def __init__(self, top: bool, size: float = 1.0) -> None:
        self.top = top
        self.size = size

    def _metrics(self, style: Style) -> tuple[float, int, int, int]:
        scale, th = style.scale * self.size, style.thickness
        pad = max(1, round(style.pad * self.size))
        tht, base = line_metrics(scale, th)
        return scale, th, pad, tht + base + 2 * pad + 2  # + 2: the placer's gap between two labels

    def wrap(
        self, frame: Image, parts: Sequence[str], sep: str = "  ", style: Style | None = None
    ) -> list[str]:
        scale, th, pad, _ = self._metrics(style or Style.of(frame))
        room = frame.shape[1] - 2 * pad - 2
        lines: list[str] = []
        for part in parts:
            joined = f"{lines[-1]}{sep}{part}" if lines else part
            if lines and text_size(ascii_fold(joined), scale, th)[0] <= room:
                lines[-1] = joined
            else:
                lines.append(part)
        return lines

    def rect(self, frame: Image, lines: int = 1, style: Style | None = None) -> tuple[int, int, int, int]:
        h, w = frame.shape[:2]
        bar = self._metrics(style or Style.of(frame))[3] * max(1, lines)
        return (0, 0, w, bar) if self.top else (0, h - bar, w, h)

    def annotate(self, frame: Image, lines: int = 1, style: Style | None = None) -> Image:
        x1, y1, x2, y2 = self.rect(frame, lines, style)
        cv2.rectangle(frame, (x1, y1), (x2 - 1, y2 - 1), BLACK, -1)
        return frame

    def labels(
        self, frame: Image, lines: Sequence[str], colour: Colour = WHITE, style: Style | None = None
    ) -> list[Label]:
        step = self._metrics(style or Style.of(frame))[3]
        x1, y1, _, _ = self.rect(frame, len(lines), style)
        return [
            Label(t, (x1, y1 + 1 + i * step, x1, y1 + 1 + i * step), colour, 0, Place.FIXED, self.size, False)
            for i, t in enumerate(lines)
        ]


def panel(lines: Sequence[str], colour: Colour, x: float = 0, y: float = 0, size: float = 1.0) -> list[Label]:
    """Lines of text stacked from (x, y) down, each on a darkened box (the placer stacks them)."""
    return [Label(t, (x, y, x, y), colour, place=Place.FIXED, size=size, background=False) for t in lines]
