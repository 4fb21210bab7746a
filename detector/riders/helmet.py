"""Helmet or not, on one rider's head: the helmet detector on the upper part of the rider's box.

The model (`models/helmet-yolo.onnx`, exported by `detector models export-helmet` from PyPI
`helmet-detector==2.1.0`) finds heads and says `With Helmet` or `Without Helmet`. It runs on a square
head-and-shoulders crop of one rider (the upper part of its box), never on the whole frame.

A head is judged only when it is clearly seen; otherwise the call is `unclear` with the reason, and an
unclear call is never a vote for "no helmet". The gate, in the order applied:

- `edge`: the head-and-shoulders crop leaves the frame (part of the head may be cut off);
- `occluded`: another road user's box (another rider, another vehicle) covers more than
  `max_occlusion` of the expected head area;
- `no_head`: the detector finds no head box in the upper part of the rider;
- `small`: the head box is narrower than `min_head_px` frame pixels (a strap or a cap cannot be told
  from a helmet with fewer pixels);
- `blurred`: the variance of the Laplacian of the head (grey, resized to 64 px) is below
  `min_sharpness` (motion blur and heavy compression erase the helmet's rim);
- `unsure`: the detector's confidence for the head is below `min_confidence`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from detector.config import HelmetConfig
from detector.detect.base import REPO_MODELS_DIR, open_session
from detector.detect.onnx import nms
from detector.errors import ModelError

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]
MODEL_FILE = "helmet-yolo.onnx"
#: The head of a seated rider lies in the top part of its box (riders are boxed head to feet or seat).
HEAD_PART = 0.45


@dataclass(frozen=True, slots=True)
class HeadCall:
    """One look at one rider's head: `helmet`, `no_helmet` or `unclear` (with the gate's reason)."""

    label: str  # "helmet" | "no_helmet" | "unclear"
    confidence: float  # the detector's score of the head box (0 when none)
    p_no_helmet: float  # the "Without Helmet" share of the head box's two class scores
    head: Box | None  # head box in frame pixels (None when no head was found)
    reason: str = ""  # why unclear: edge, occluded, no_head, small, blurred, unsure
    sharpness: float = 0.0

    @property
    def clear(self) -> bool:
        return self.label != "unclear"


def head_crop_box(rider: Box) -> Box:
    """The square head-and-shoulders crop of a rider box: its width (at least 45% of its height), from
    a little above the box's top."""
    x1, y1, x2, y2 = rider
    w, h = x2 - x1, y2 - y1
    side = max(w, 0.45 * h)
    cx = (x1 + x2) / 2
    top = y1 - 0.08 * side
    return (cx - side / 2, top, cx + side / 2, top + side)


def head_area(rider: Box) -> Box:
    """Where the head is expected: the top `HEAD_PART` of the rider box, the middle 70% of its width."""
    x1, y1, x2, y2 = rider
    w, h = x2 - x1, y2 - y1
    return (x1 + 0.15 * w, y1, x2 - 0.15 * w, y1 + HEAD_PART * h)


def covered_fraction(box: Box, others: Sequence[Box]) -> float:
    """Fraction of `box` covered by the union of `others` (on a coarse 16x16 grid: exact enough here)."""
    x1, y1, x2, y2 = box
    if x2 <= x1 or y2 <= y1 or not others:
        return 0.0
    xs = x1 + (np.arange(16) + 0.5) * (x2 - x1) / 16
    ys = y1 + (np.arange(16) + 0.5) * (y2 - y1) / 16
    gx, gy = np.meshgrid(xs, ys)
    hit = np.zeros(gx.shape, dtype=bool)
    for ox1, oy1, ox2, oy2 in others:
        hit |= (gx >= ox1) & (gx <= ox2) & (gy >= oy1) & (gy <= oy2)
    return float(hit.mean())


def sharpness(image: npt.NDArray[np.uint8], box: Box) -> float:
    """Variance of the Laplacian of the box's grey image resized to 64 px wide (scale-free)."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    h, w = image.shape[:2]
    crop = image[max(0, y1) : min(h, y2), max(0, x1) : min(w, x2)]
    if crop.size == 0:
        return 0.0
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    scale = 64.0 / max(grey.shape[1], 1)
    grey = cv2.resize(grey, (64, max(1, round(grey.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def resolve_helmet_model(cfg: HelmetConfig) -> Path:
    if cfg.model:
        path = Path(cfg.model)
        if not path.is_file():
            raise ModelError(f"helmet model not found: {cfg.model} (riders.helmet.model in the config)")
        return path
    path = REPO_MODELS_DIR / MODEL_FILE
    if not path.is_file():
        raise ModelError(
            f"no helmet model: {path} is absent. Make it once where the Ultralytics extra is installed: "
            "`detector models export-helmet` (from PyPI helmet-detector==2.1.0), or set riders.helmet.model"
        )
    return path


class HelmetClassifier:
    """The helmet detector on riders' head-and-shoulder crops, with the clearly-seen gate."""

    def __init__(self, cfg: HelmetConfig, path: Path | None = None) -> None:
        self.cfg = cfg
        self.path = path or resolve_helmet_model(cfg)
        self._session = open_session(self.path, cfg.threads, "helmet")
        inp = self._session.get_inputs()[0]
        self._input = inp.name
        size = inp.shape[2]
        if not isinstance(size, int):
            raise ModelError(f"{self.path}: expected a fixed input size, got {inp.shape}")
        self.size = size
        self.crops = 0  # crops run through the model (for the cost figures)

    def classify(self, image: npt.NDArray[np.uint8], rider: Box, others: Sequence[Box] = ()) -> HeadCall:
        """Judge the head of the rider boxed `rider` in `image`; `others` are the other road users' boxes
        (other riders included) that may hide it."""
        cfg = self.cfg
        fh, fw = image.shape[:2]
        crop = head_crop_box(rider)
        cx1, cy1, cx2, cy2 = crop
        if cx1 < 0 or cy1 < 0 or cx2 > fw or cy2 > fh:
            return HeadCall("unclear", 0.0, 0.0, None, "edge")
        area = head_area(rider)
        if covered_fraction(area, others) > cfg.max_occlusion:
            return HeadCall("unclear", 0.0, 0.0, None, "occluded")
        if (
            area[2] - area[0]
        ) < cfg.min_head_px * 0.8:  # cannot hold a head of the least size: skip the model
            return HeadCall("unclear", 0.0, 0.0, None, "small")
        found = self._detect(image, crop, area)
        if found is None:
            return HeadCall("unclear", 0.0, 0.0, None, "no_head")
        head, score, p_no = found
        if head[2] - head[0] < cfg.min_head_px:
            return HeadCall("unclear", score, p_no, head, "small")
        sharp = sharpness(image, head)
        if sharp < cfg.min_sharpness:
            return HeadCall("unclear", score, p_no, head, "blurred", sharp)
        if score < cfg.min_confidence:
            return HeadCall("unclear", score, p_no, head, "unsure", sharp)
        return HeadCall("no_helmet" if p_no > 0.5 else "helmet", score, p_no, head, "", sharp)

    def _detect(self, image: npt.NDArray[np.uint8], crop: Box, area: Box) -> tuple[Box, float, float] | None:
        """The best head box whose centre lies in `area`: (box in frame pixels, score, P(no helmet))."""
        x1, y1, x2, y2 = (int(round(v)) for v in crop)
        patch = image[y1:y2, x1:x2]
        if patch.size == 0:
            return None
        scale = self.size / max(patch.shape[0], patch.shape[1])
        resized = cv2.resize(
            patch, (self.size, self.size), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        )
        blob = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        out = self._session.run(None, {self._input: blob})[0][0]  # (4 + classes, anchors)
        self.crops += 1
        scores = out[4:].T
        best = scores.max(axis=1)
        keep = best >= 0.1
        if not keep.any():
            return None
        cxy, wh = out[:2, keep].T, out[2:4, keep].T
        sx, sy = (x2 - x1) / self.size, (y2 - y1) / self.size
        boxes = np.concatenate([cxy - wh / 2, cxy + wh / 2], axis=1) * np.array([sx, sy, sx, sy]) + np.array(
            [x1, y1, x1, y1]
        )
        cls_scores = scores[keep]
        order = nms(boxes.astype(np.float32), best[keep].astype(np.float32), 0.5)
        ax1, ay1, ax2, ay2 = area
        for i in order:
            bx = (boxes[i, 0] + boxes[i, 2]) / 2
            by = (boxes[i, 1] + boxes[i, 3]) / 2
            if ax1 <= bx <= ax2 and ay1 <= by <= ay2:
                with_h, without = float(cls_scores[i, 0]), float(cls_scores[i, 1])
                p_no = without / max(with_h + without, 1e-6)
                head = tuple(float(v) for v in boxes[i])
                return (head[0], head[1], head[2], head[3]), max(with_h, without), p_no
        return None

    def close(self) -> None:
        """The session goes with the object."""
