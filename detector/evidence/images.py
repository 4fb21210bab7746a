"""Evidence images: JPEG encoding, the annotated overview, and privacy masking of bystanders.

OpenCV's Hershey fonts draw ASCII only, so Vietnamese text (camera names, places) is folded to
ASCII for the overlay (Ngã tư Hàng Xanh -> Nga tu Hang Xanh); the manifest keeps the exact text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import cv2
import numpy as np
import numpy.typing as npt

from detector.errors import DetectorError
from detector.types import Detections, Frame

Image = npt.NDArray[np.uint8]
#: Draws scene overlays (zones, lines) onto a BGR image in place: annotate(image, frame).
Annotate = Callable[[Image, Frame], None]

_FONT = cv2.FONT_HERSHEY_SIMPLEX
RED = (0, 0, 255)
GREY = (200, 200, 200)
WHITE = (255, 255, 255)
YELLOW = (0, 220, 255)


class ImageError(DetectorError):
    """An evidence image could not be made or encoded."""


def ascii_fold(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).encode("ascii", "replace").decode()


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


def _text(
    img: Image, s: str, org: tuple[int, int], scale: float, color: tuple[int, int, int], th: int
) -> None:
    """Text on a darkened box (readable on any background; no outline, which some fonts misalign)."""
    s = ascii_fold(s)
    (tw, tht), base = cv2.getTextSize(s, _FONT, scale, th)
    x, y = org
    x1, y1 = max(x - 3, 0), max(y - tht - 4, 0)
    x2, y2 = min(x + tw + 3, img.shape[1]), min(y + base + 2, img.shape[0])
    if x2 > x1 and y2 > y1:
        img[y1:y2, x1:x2] = (img[y1:y2, x1:x2] * 0.35).astype(np.uint8)
    cv2.putText(img, s, org, _FONT, scale, color, th, cv2.LINE_AA)


@dataclass(frozen=True, slots=True)
class OverviewText:
    """What the overview states besides boxes: one line each, already formatted."""

    camera_name: str
    camera_id: str
    location: str
    violation: str
    lines: tuple[str, ...] = ()  # e.g. "signal: red (+1.2 s)", "speed: 62 km/h", "plate: 51F-123.45"


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
    """The annotated overview image and the number of bystanders masked."""
    img = frame.image.copy()
    masked = mask_bystanders(img, detections, violator_track) if privacy_mask else 0
    if annotate is not None:
        annotate(img, frame)
    h, w = img.shape[:2]
    scale = max(0.45, min(w, h) / 900)
    th = max(1, int(round(scale * 2)))
    if detections is not None and detections.tracker_id is not None:
        for box, tid in zip(detections.xyxy, detections.tracker_id, strict=True):
            if int(tid) != violator_track:
                x1, y1, x2, y2 = (int(round(v)) for v in box)
                cv2.rectangle(img, (x1, y1), (x2, y2), GREY, 1)
    if violator_box is not None:
        x1, y1, x2, y2 = (int(round(v)) for v in violator_box)
        cv2.rectangle(img, (x1, y1), (x2, y2), RED, th + 1)
        _text(img, f"#{violator_track}", (x1, max(y1 - 6, 14)), scale, RED, th)
    # information panel, top-left
    y = int(28 * scale / 0.6)
    for line in (text.violation, *text.lines):
        _text(img, line, (10, y), scale, YELLOW, th)
        y += int(26 * scale / 0.6)
    # timestamp bar, bottom
    bar_h = int(30 * scale / 0.6)
    cv2.rectangle(img, (0, h - bar_h), (w, h), (0, 0, 0), -1)
    bar = f"{format_time(frame)}  {text.camera_name} [{text.camera_id}]"  # time first: it is never cut
    if text.location:
        bar += f"  {text.location}"
    bar_scale, bar_th = scale * 0.9, max(1, th - 1)

    def width(t: str) -> int:
        return int(cv2.getTextSize(ascii_fold(t), _FONT, bar_scale, bar_th)[0][0])

    if width(bar) > w - 16:  # long names: shrink to a readable minimum, then cut the end
        bar_scale = max(0.35, bar_scale * (w - 16) / width(bar))
        if width(bar) > w - 16:
            while len(bar) > 8 and width(bar + "...") > w - 16:
                bar = bar[:-1]
            bar += "..."
    _text(img, bar, (8, h - int(bar_h * 0.3)), bar_scale, WHITE, bar_th)
    return img, masked
