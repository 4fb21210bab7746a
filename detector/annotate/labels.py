"""Text labels: one style per picture size, a placer that never lets two labels overlap, and the
annotator that draws each label once.

Every picture collects its labels first (from the zones, the tracks, the panels) and hands them to one
`LabelAnnotator`, which places them all together: fixed labels (panels, bars) where they are asked to
be, then the others by priority, each at the first free candidate position around its anchor, else
stacked away from it (with a thin leader line back to the anchor), else dropped. No placed label
overlaps another, a fixed one or an area to keep clear (the violator), and every label is inside the
frame (text too long for it is cut with "...").

OpenCV's Hershey fonts draw ASCII only, so text is folded to ASCII (Ngã tư Hàng Xanh -> Nga tu Hang
Xanh); the evidence manifest keeps the exact text.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]
Colour = tuple[int, int, int]  # BGR
Rect = tuple[int, int, int, int]  # x1, y1, x2, y2 (x2, y2 exclusive)

FONT = cv2.FONT_HERSHEY_SIMPLEX


def ascii_fold(text: str) -> str:
    """Vietnamese (and other accented) text as ASCII for the Hershey fonts: đ -> d, ã -> a."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).encode("ascii", "replace").decode()


@dataclass(frozen=True, slots=True)
class Style:
    """Font and line sizes for one picture, from its size: the same look at 960x540 and at 1080p."""

    scale: float  # Hershey font scale of ordinary labels
    thickness: int  # text stroke
    line: int  # outline stroke of boxes and zones
    pad: int  # padding inside a label's box

    @classmethod
    def for_image(cls, width: int, height: int) -> Style:
        ref = float(np.sqrt(width * height * 9 / 16))  # the height of a 16:9 picture of the same area
        scale = float(np.clip(ref / 1150.0, 0.4, 2.5))
        return cls(
            scale=scale,
            thickness=max(1, round(scale * 1.6)),
            line=max(1, round(ref / 300)),
            pad=max(2, round(scale * 5)),
        )

    @classmethod
    def of(cls, image: Image, shown_width: int | None = None) -> Style:
        """The style of `image`; with `shown_width`, of the image as it is shown shrunk to that width
        (the preview), so that its text is as readable after the shrinking."""
        h, w = image.shape[:2]
        if shown_width is None or shown_width >= w:
            return cls.for_image(w, h)
        k = w / shown_width
        st = cls.for_image(shown_width, round(h / k))
        return cls(
            st.scale * k, max(1, round(st.thickness * k)), max(1, round(st.line * k)), round(st.pad * k)
        )


class Place(Enum):
    """Where a label goes relative to its anchor box."""

    OUTSIDE = "outside"  # above, then below, then beside the box (boxes, lamps)
    CENTRE = "centre"  # centred on the anchor, then around it (zones)
    FIXED = "fixed"  # exactly at the anchor's top-left corner, clamped into the frame (panels)


@dataclass(frozen=True, slots=True)
class Label:
    """A piece of text to draw near `anchor` (x1, y1, x2, y2; a point is a box of no size).

    Higher `priority` is placed first and so sits closest to its anchor; `size` scales the style's font.
    `background` False draws the text in `colour` on a darkened box (panels) instead of on a box of
    `colour`.
    """

    text: str
    anchor: tuple[float, float, float, float]
    colour: Colour
    priority: int = 0
    place: Place = Place.OUTSIDE
    size: float = 1.0
    background: bool = True


def text_size(text: str, scale: float, thickness: int) -> tuple[int, int, int]:
    """Width, height above the baseline and depth below it of `text` (already ASCII) in pixels."""
    (w, h), base = cv2.getTextSize(text, FONT, scale, thickness)
    return int(w), int(h), int(base)


@lru_cache(maxsize=64)
def line_metrics(scale: float, thickness: int) -> tuple[int, int]:
    """Height above the baseline and depth below it of a line of any text: labels of one size are
    all as tall, whatever their letters, so that they line up and stack evenly."""
    _, above, below = text_size("Ag|(_", scale, thickness)
    return above, below


def fit_text(text: str, scale: float, thickness: int, max_width: int) -> str:
    """`text`, cut with "..." at the end so that it is at most `max_width` pixels wide."""
    if text_size(text, scale, thickness)[0] <= max_width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if text_size(text[:mid] + "...", scale, thickness)[0] <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "..."


def _intersects(cands: npt.NDArray[np.int64], rects: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """For each candidate (M, 4): does it overlap any of `rects` (N, 4)? Touching edges do not."""
    if len(rects) == 0:
        return np.zeros(len(cands), dtype=bool)
    c, r = cands[:, None, :], rects[None, :, :]
    hit = (
        (c[..., 0] < r[..., 2]) & (r[..., 0] < c[..., 2]) & (c[..., 1] < r[..., 3]) & (r[..., 1] < c[..., 3])
    )
    return np.asarray(hit.any(axis=1))


class LabelPlacer:
    """Places label rectangles in a `width` x `height` frame so that none overlaps another.

    `block` marks areas no label may cover; `avoid` areas a label keeps off while it finds a place
    near its anchor (vehicles); `place` returns the rectangle a label of size (w, h) takes near its
    anchor, or None when no free place for it is left anywhere in the frame.
    """

    #: how far (in label heights) a label may move to keep off the areas to avoid
    AVOID_STEPS = 4

    def __init__(self, width: int, height: int, gap: int = 1) -> None:
        self.width, self.height, self.gap = int(width), int(height), int(gap)
        self._taken = np.zeros((0, 4), dtype=np.int64)
        self._soft = np.zeros((0, 4), dtype=np.int64)

    @property
    def taken(self) -> list[Rect]:
        """The rectangles no label may overlap any more (placed labels and blocked areas)."""
        g = self.gap  # blocked areas are kept shrunk by the gap: a label may touch them
        return [(int(a - g), int(b - g), int(c + g), int(d + g)) for a, b, c, d in self._taken]

    @staticmethod
    def _rect(rect: Sequence[float], shrink: int) -> npt.NDArray[np.int64] | None:
        x1, y1, x2, y2 = (int(round(v)) for v in rect)
        x1, y1, x2, y2 = x1 + shrink, y1 + shrink, x2 - shrink, y2 - shrink
        return np.array([[x1, y1, x2, y2]], dtype=np.int64) if x2 > x1 and y2 > y1 else None

    def block(self, rect: Sequence[float]) -> None:
        """Keep `rect` (x1, y1, x2, y2) free of labels (they may touch its edge)."""
        r = self._rect(rect, self.gap)
        if r is not None:
            self._taken = np.vstack([self._taken, r])

    def avoid(self, rect: Sequence[float]) -> None:
        """Keep labels off `rect` where a place near their anchor allows."""
        r = self._rect(rect, 0)
        if r is not None:
            self._soft = np.vstack([self._soft, r])

    def _clamp(self, xy: npt.NDArray[np.float64], w: int, h: int) -> npt.NDArray[np.int64]:
        x = np.clip(np.round(xy[:, 0]), 0, max(self.width - w, 0))
        y = np.clip(np.round(xy[:, 1]), 0, max(self.height - h, 0))
        return np.stack([x, y, x + w, y + h], axis=1).astype(np.int64)

    def _first_free(self, cands: npt.NDArray[np.int64], soft: bool = False) -> Rect | None:
        """The first candidate clear of every label and blocked area (and with `soft` of the areas
        to avoid)."""
        if len(cands) == 0:
            return None
        g = self.gap
        free = ~_intersects(cands + np.array([-g, -g, g, g]), self._taken)
        if soft:
            free &= ~_intersects(cands, self._soft)
        if not free.any():
            return None
        a, b, c, d = (int(v) for v in cands[int(np.argmax(free))])
        return a, b, c, d

    def _around(self, w: int, h: int, anchor: Sequence[float], place: Place) -> npt.NDArray[np.float64]:
        x1, y1, x2, y2 = (float(v) for v in anchor)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        outside = [
            (x1, y1 - h),  # above, left-aligned
            (x2 - w, y1 - h),  # above, right-aligned
            (x1, y2),  # below, left-aligned
            (x2 - w, y2),  # below, right-aligned
            (x2, y1),  # right
            (x1 - w, y1),  # left
            (x1, y1),  # inside, top-left
        ]
        if place is Place.FIXED:
            return np.array([(x1, y1)], dtype=np.float64)
        if place is Place.CENTRE:
            return np.array([(cx - w / 2, cy - h / 2), (cx - w / 2, cy - 1.5 * h), (cx - w / 2, cy + h / 2)])
        return np.array(outside, dtype=np.float64)

    def place(
        self, size: tuple[int, int], anchor: Sequence[float], place: Place = Place.OUTSIDE
    ) -> Rect | None:
        """The rectangle (x1, y1, x2, y2) for a label of `size` (w, h) near `anchor`, now taken."""
        w, h = min(int(size[0]), self.width), min(int(size[1]), self.height)
        if w <= 0 or h <= 0:
            return None
        raw = self._around(w, h, anchor, place)
        fits = (raw >= 0).all(axis=1) & (raw[:, 0] + w <= self.width) & (raw[:, 1] + h <= self.height)
        base = self._clamp(np.concatenate([raw[fits], raw[~fits]]), w, h)  # those moved inside last
        found = None
        for cands, avoiding in self._tries(base, w, h, anchor):
            found = self._first_free(cands, avoiding)
            if found is not None:
                break
        if found is not None:
            self._taken = np.vstack([self._taken, [found]])
        return found

    def _tries(
        self, base: npt.NDArray[np.int64], w: int, h: int, anchor: Sequence[float]
    ) -> Iterator[tuple[npt.NDArray[np.int64], bool]]:
        """Candidate places in the order they are tried, each set built only when reached: near the
        anchor and off the areas to avoid, then near it, then anywhere."""
        soft = len(self._soft) > 0
        if soft:
            yield base, True
            yield self._stacked(base, w, h, self.AVOID_STEPS), True
            yield self._anywhere(w, h, anchor, within=self.AVOID_STEPS * (h + 2 * self.gap) + w / 2), True
        yield base, False
        yield self._stacked(base, w, h), False
        anywhere = self._anywhere(w, h, anchor)
        if soft:
            yield anywhere, True
        yield anywhere, False

    def _stacked(
        self, base: npt.NDArray[np.int64], w: int, h: int, steps: int | None = None
    ) -> npt.NDArray[np.int64]:
        """The candidates moved up and down by whole label heights (at most `steps`), nearest first."""
        step = h + 2 * self.gap
        n = self.height // step + 1 if steps is None else steps
        ks = np.arange(1, n + 1)
        dy = (ks[:, None] * np.array([-step, step])).ravel()  # -1, +1, -2, +2, ... steps
        xy = base[None, :, :2] + np.stack([np.zeros_like(dy), dy], axis=1)[:, None, :]
        return self._clamp(xy.reshape(-1, 2).astype(np.float64), w, h)

    def _anywhere(
        self, w: int, h: int, anchor: Sequence[float], within: float | None = None
    ) -> npt.NDArray[np.int64]:
        """Every place on a grid over the frame (with its centre `within` pixels of the anchor's),
        nearest to the anchor first."""
        xs = np.arange(0, max(self.width - w, 0) + 1, max(4, w // 4))
        ys = np.arange(0, max(self.height - h, 0) + 1, max(2, h // 2))
        gx, gy = np.meshgrid(xs, ys)
        xy = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float64)
        ax, ay = (anchor[0] + anchor[2]) / 2, (anchor[1] + anchor[3]) / 2
        d = (xy[:, 0] + w / 2 - ax) ** 2 + (xy[:, 1] + h / 2 - ay) ** 2
        if within is not None:
            xy, d = xy[d <= within**2], d[d <= within**2]
        return self._clamp(xy[np.argsort(d, kind="stable")], w, h)


def _ink(colour: Colour) -> Colour:
    """Black or white text, whichever reads better on `colour`."""
    b, g, r = colour
    return (0, 0, 0) if 0.114 * b + 0.587 * g + 0.299 * r > 140 else (255, 255, 255)


@dataclass(frozen=True, slots=True)
class Placed:
    """A label where the placer put it: its box, text and baseline origin."""

    label: Label
    text: str
    rect: Rect
    origin: tuple[int, int]
    scale: float
    thickness: int


class LabelAnnotator:
    """Places all the labels of one picture together and draws each once."""

    def __init__(self, style: Style | None = None, leader_px: int = 8) -> None:
        self.style = style
        self.leader_px = leader_px

    def layout(
        self,
        shape: tuple[int, ...],
        labels: Iterable[Label],
        keep_clear: Sequence[Sequence[float]] = (),
        avoid: Sequence[Sequence[float]] = (),
    ) -> list[Placed]:
        """Where each label goes in a picture of `shape`: the fixed ones first (stacked if two ask for
        the same place), then `keep_clear` is blocked, then the others by priority, off the `avoid`
        areas (vehicles) where a place near their anchor allows. Labels with no free place left are
        out of the list."""
        height, width = int(shape[0]), int(shape[1])
        style = self.style or Style.for_image(width, height)
        placer = LabelPlacer(width, height)
        unique: dict[tuple[str, tuple[int, ...]], Label] = {}
        for lb in labels:  # the same text at the same anchor is drawn once
            unique.setdefault((lb.text, tuple(int(round(v)) for v in lb.anchor)), lb)
        fixed = [lb for lb in unique.values() if lb.place is Place.FIXED]
        loose = sorted(
            (lb for lb in unique.values() if lb.place is not Place.FIXED), key=lambda lb: -lb.priority
        )
        placed = [p for p in (self._place(placer, style, lb) for lb in fixed) if p is not None]
        for rect in keep_clear:
            placer.block(rect)
        for rect in avoid:
            placer.avoid(rect)
        placed += [p for p in (self._place(placer, style, lb) for lb in loose) if p is not None]
        return placed

    @staticmethod
    def _place(placer: LabelPlacer, style: Style, lb: Label) -> Placed | None:
        scale = style.scale * lb.size
        th = max(1, round(style.thickness * min(lb.size, 1.0)))
        pad = max(1, round(style.pad * lb.size))
        text = fit_text(ascii_fold(lb.text), scale, th, placer.width - 2 * pad)
        tw = text_size(text, scale, th)[0]
        tht, base = line_metrics(scale, th)
        found = placer.place((tw + 2 * pad, tht + base + 2 * pad), lb.anchor, lb.place)
        if found is None:
            log.debug("no room left for the label %r", text)
            return None
        return Placed(lb, text, found, (found[0] + pad, found[1] + pad + tht), scale, th)

    def annotate(
        self,
        frame: Image,
        labels: Iterable[Label],
        keep_clear: Sequence[Sequence[float]] = (),
        avoid: Sequence[Sequence[float]] = (),
    ) -> Image:
        """Draw `labels` on `frame` (in place; returned), none overlapping another or `keep_clear`,
        off `avoid` where they can be near their anchors."""
        placed = self.layout(frame.shape, labels, keep_clear, avoid)
        for p in placed:  # leader lines first: every label box sits on top of them
            self._leader(frame, p)
        for p in placed:
            x1, y1, x2, y2 = p.rect
            if p.label.background:
                cv2.rectangle(frame, (x1, y1), (x2 - 1, y2 - 1), p.label.colour, -1)
                ink = _ink(p.label.colour)
            else:
                frame[y1:y2, x1:x2] = (frame[y1:y2, x1:x2] * 0.3).astype(np.uint8)
                ink = p.label.colour
            cv2.putText(frame, p.text, p.origin, FONT, p.scale, ink, p.thickness, cv2.LINE_AA)
        return frame

    def _leader(self, frame: Image, p: Placed) -> None:
        """A thin line from a label moved away from its box back to the box."""
        ax1, ay1, ax2, ay2 = p.label.anchor
        if p.label.place is not Place.OUTSIDE or ax2 <= ax1 or ay2 <= ay1:
            return  # only labels of boxes: a zone's name near the zone needs none
        x1, y1, x2, y2 = p.rect
        # nearest points of the two boxes
        px, qx = (
            (x1, ax2) if x1 > ax2 else (x2, ax1) if x2 < ax1 else ((max(x1, ax1) + min(x2, ax2)) / 2,) * 2
        )
        py, qy = (
            (y1, ay2) if y1 > ay2 else (y2, ay1) if y2 < ay1 else ((max(y1, ay1) + min(y2, ay2)) / 2,) * 2
        )
        if np.hypot(px - qx, py - qy) > self.leader_px:
            a = (int(round(px)), int(round(py)))
            b = (int(round(qx)), int(round(qy)))
            cv2.line(frame, a, b, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.line(frame, a, b, p.label.colour, 1, cv2.LINE_AA)
