"""Evidence images: JPEG encoding, the annotated overview (drawn by `detector.annotate`), and privacy
masking of bystanders. The before/at/after frames and the vehicle crop stay as the camera saw them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import cv2
import numpy as np
import numpy.typing as npt

from detector.annotate.labels import Label, LabelAnnotator, Style
from detector.annotate.shapes import GREY, PRIORITY_VIOLATOR, RED, YELLOW, BarAnnotator, BoxAnnotator, panel
from detector.errors import DetectorError
from detector.types import Detections, Frame

Image = npt.NDArray[np.uint8]
#: Draws a scene overlay (zones, lines) onto a BGR image in place, in a style, and returns its
#: labels: annotate(image, frame, style) -> labels.
Annotate = Callable[[Image, Frame, Style], list[Label]]


class ImageError(DetectorError):
    """An evidence image could not be made or encoded."""


def encode_jpeg(image: Image, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ImageError(f"JPEG encoding failed for an image of shape {image.shape}")
    return buf.tobytes()


def format_time(frame: Frame) -> str:
    if frame.wall_time is not None:
        return datetime.fromtimestamp(frame.wall_time, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
    return f"stream t={frame.timestamp:.2f}s frame {frame.index}"


def crop(image: Image, xyxy: tuple[float, float, float, float], pad: float = 0.0) -> Image | None:
    h, w = image.shape[:2]
    x1, y1, x2, y2 = xyxy
    px, py = (x2 - x1) * pad, (y2 - y1) * pad
    a, b = max(int(x1 - px), 0), max(int(y1 - py), 0)
    c, d = min(int(round(x2 + px)), w), min(int(round(y2 + py)), h)
    if c <= a or d <= b:
        return None
    return image[b:d, a:c].copy()


#: Key of an optional (N, 4) array in Detections.data with each vehicle's plate box (NaN if unknown).
PLATE_BOXES_KEY = "plate_xyxy"


def _pixelate(image: Image, x1: int, y1: int, x2: int, y2: int) -> bool:
    h, w = image.shape[:2]
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return False
    region = image[y1:y2, x1:x2]
    k = max(3, (min(region.shape[:2]) // 3) | 1)
    small = cv2.resize(region, (max(1, (x2 - x1) // 8), max(1, (y2 - y1) // 8)), interpolation=cv2.INTER_AREA)
    image[y1:y2, x1:x2] = cv2.GaussianBlur(
        cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST), (k, k), 0
    )
    return True


def mask_bystanders(
    image: Image, detections: Detections | None, violator_track: int, lower: float = 0.65
) -> int:
    """Blur the plates of every vehicle but the violator. Returns how many vehicles were masked.

    Where the detections carry plate boxes (`data["plate_xyxy"]`) those are blurred (padded 30 %);
    otherwise the lower `lower` fraction of the vehicle box, where rear and front plates sit.
    """
    if detections is None or len(detections) == 0:
        return 0
    assert detections.tracker_id is not None
    plates = detections.data.get(PLATE_BOXES_KEY)
    n = 0
    for i, (box, tid) in enumerate(zip(detections.xyxy, detections.tracker_id, strict=True)):
        if int(tid) == violator_track:
            continue
        if plates is not None and np.all(np.isfinite(plates[i])):
            px1, py1, px2, py2 = (float(v) for v in plates[i])
            dx, dy = (px2 - px1) * 0.3, (py2 - py1) * 0.3
            done = _pixelate(image, int(px1 - dx), int(py1 - dy), int(round(px2 + dx)), int(round(py2 + dy)))
        else:
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            done = _pixelate(image, x1, int(y2 - (y2 - y1) * lower), x2, y2)
        n += int(done)
    return n


@dataclass(frozen=True, slots=True)
class OverviewText:
    """What the overview states besides boxes: one line each, already formatted."""

    camera_name: str
    camera_id: str
    location: str
    violation: str
    lines: tuple[str, ...] = ()  # e.g. "signal: red (+1.2 s)", "speed: 62 km/h", "plate: 51F-123.45"


def _covers(rects: Sequence[Sequence[float]], box: Sequence[float]) -> bool:
    return any(r[0] < box[2] and box[0] < r[2] and r[1] < box[3] and box[1] < r[3] for r in rects)


def overview(
    frame: Frame,
    violator_track: int,
    violator_box: tuple[float, float, float, float] | None,
    detections: Detections | None,
    text: OverviewText,
    *,
    privacy_mask: bool,
    annotate: Annotate | None = None,
    class_names: Mapping[int, str] | None = None,
) -> tuple[Image, int]:
    """The annotated overview image and the number of bystanders masked: the scene overlay, other
    road users in grey, the violator in red, the violation's facts top-left and the time and camera
    in a bar at the bottom. No label covers the violator or another label."""
    img = frame.image.copy()
    masked = mask_bystanders(img, detections, violator_track) if privacy_mask else 0
    style = Style.of(img)
    labels: list[Label] = []
    if annotate is not None:
        labels += annotate(img, frame, style)
    others: list[list[float]] = []
    if detections is not None and detections.tracker_id is not None:
        others = detections.xyxy[detections.tracker_id != violator_track].tolist()
        BoxAnnotator(thickness=1).annotate(img, others, GREY, style)
    keep_clear: list[tuple[float, float, float, float]] = []
    if violator_box is not None:
        BoxAnnotator(thickness=style.line + 1).annotate(img, violator_box, RED, style)
        labels.append(Label(f"#{violator_track}", violator_box, RED, PRIORITY_VIOLATOR))
        keep_clear.append(violator_box)
    # the time and camera in a bar at the bottom, at the top when the violator is down there
    parts = [format_time(frame), f"{text.camera_name} [{text.camera_id}]"]  # time first: it is never cut
    parts += [text.location] if text.location else []
    bar = BarAnnotator(top=False, size=0.9)
    lines = bar.wrap(img, parts, style=style)
    if violator_box is not None and _covers([bar.rect(img, len(lines), style)], violator_box):
        bar = BarAnnotator(top=True, size=0.9)
    strip = bar.rect(img, len(lines), style)
    bar.annotate(img, len(lines), style)
    keep_clear.append(strip)
    # the violation's facts top-left below any bar, top-right when the violator is top-left
    y = strip[3] if bar.top else 0
    facts = panel((text.violation, *text.lines), YELLOW, 0, y, size=1.15)
    if violator_box is not None:
        rects = [p.rect for p in LabelAnnotator(style).layout(img.shape, facts)]
        if _covers(rects, violator_box):
            facts = panel((text.violation, *text.lines), YELLOW, img.shape[1], y, size=1.15)
    labels = [*bar.labels(img, lines, style=style), *facts, *labels]
    return LabelAnnotator(style).annotate(img, labels, keep_clear, avoid=others), masked
