"""Helmet or not, on one rider's head: the helmet detector on the upper part of the rider's box.

The model (`models/helmet-yolo.onnx`, exported by `detector models export-helmet` from PyPI
`helmet-detector==2.1.0`) finds heads and says `With Helmet` or `Without Helmet`. It runs on a square
head-and-shoulders crop of one rider (the upper part of its box), never on the whole frame; the crop is
resized to `crop_px` and centred on the model's grey input (320 px for the default export), so the
head is as small a part of the input as in the close views the model was trained on (a head filling
the input is read as bare far more often).

A head is judged only when it is clearly seen; otherwise the call is `unclear` with the reason, and an
unclear call is never a vote for "no helmet". The gate, in the order applied:

- `edge`: the head-and-shoulders crop leaves the frame (part of the head may be cut off);
- `occluded`: another road user's box (another rider, another vehicle) covers more than
  `max_occlusion` of the expected head area;
- `no_head`: the detector finds no head box at the top of the rider (its centre in the upper part of
  the box, its top within `max_head_top` of the box's height);
- `small`: the head box is narrower than `min_head_px` frame pixels (a strap or a cap cannot be told
  from a helmet with fewer pixels);
- `blurred`: the variance of the Laplacian of the head (grey, resized to 64 px) is below
  `min_sharpness` (motion blur and heavy compression erase the helmet's rim);
- `unsure`: neither class is sure: `no_helmet` needs the `Without Helmet` score at `min_confidence`
  or more and beating by `min_margin` every `With Helmet` score of the raw boxes on the same head
  (IoU >= 0.3: counter-evidence); `helmet` needs the `With Helmet` score at `min_confidence` or more.
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


@dataclass(frozen=True, slots=True)
class HeadBox:
    """One head the detector found: its box (frame pixels), its two class scores, and the best
    `With Helmet` score of any raw box overlapping it (IoU >= 0.3): the counter-evidence."""

    box: Box
    with_helmet: float
    without_helmet: float
    helmet_evidence: float

    @property
    def score(self) -> float:
        return max(self.with_helmet, self.without_helmet)

    @property
    def p_no_helmet(self) -> float:
        return self.without_helmet / max(self.with_helmet + self.without_helmet, 1e-6)


def pick_head(heads: Sequence[HeadBox], rider: Box, cfg: HelmetConfig) -> HeadBox | None:
    """The best-scoring head at the top of the rider box: its centre in `head_area`, its top within
    `max_head_top` of the rider's height from the rider's top (a head lower down is someone else's,
    or a knee, a bag, a mirror)."""
    ax1, ay1, ax2, ay2 = head_area(rider)
    top_limit = rider[1] + cfg.max_head_top * (rider[3] - rider[1])
    for head in sorted(heads, key=lambda h: -h.score):
        x1, y1, x2, y2 = head.box
        bx, by = (x1 + x2) / 2, (y1 + y2) / 2
        if ax1 <= bx <= ax2 and ay1 <= by <= ay2 and y1 <= top_limit:
            return head
    return None


def decide(head: HeadBox, cfg: HelmetConfig) -> tuple[str, str]:
    """(label, reason) for a head found and clearly seen. `no_helmet` only when the `Without Helmet`
    score reaches `min_confidence` and beats every `With Helmet` score on the same head by
    `min_margin`; `helmet` when the `With Helmet` score reaches `min_confidence` and beats the other;
    otherwise `unclear` (`unsure`)."""
    if head.without_helmet >= cfg.min_confidence and (
        head.without_helmet - max(head.helmet_evidence, head.with_helmet) >= cfg.min_margin
    ):
        return "no_helmet", ""
    if head.with_helmet >= cfg.min_confidence and head.with_helmet > head.without_helmet:
        return "helmet", ""
    return "unclear", "unsure"


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
        return self.judge(image, rider, self.heads(image, crop))

    def judge(self, image: npt.NDArray[np.uint8], rider: Box, heads: Sequence[HeadBox]) -> HeadCall:
        """The call on the rider's head among the heads the detector found in its crop."""
        cfg = self.cfg
        found = pick_head(heads, rider, cfg)
        if found is None:
            return HeadCall("unclear", 0.0, 0.0, None, "no_head")
        head, score, p_no = found.box, found.score, found.p_no_helmet
        if head[2] - head[0] < cfg.min_head_px:
            return HeadCall("unclear", score, p_no, head, "small")
        sharp = sharpness(image, head)
        if sharp < cfg.min_sharpness:
            return HeadCall("unclear", score, p_no, head, "blurred", sharp)
        label, reason = decide(found, cfg)
        return HeadCall(label, score, p_no, head, reason, sharp)

    def heads(self, image: npt.NDArray[np.uint8], crop: Box) -> list[HeadBox]:
        """The head boxes the detector finds in the square `crop` of `image` (frame pixels).

        The crop is resized to `crop_px` (at most the model's input side) and centred on a grey canvas,
        so a head is as large a part of the input as in the close views the model was trained on."""
        x1, y1, x2, y2 = (int(round(v)) for v in crop)
        patch = image[y1:y2, x1:x2]
        if patch.size == 0:
            return []
        side = min(self.size, self.cfg.crop_px)
        interp = cv2.INTER_AREA if side < max(patch.shape[:2]) else cv2.INTER_LINEAR
        canvas = np.full((self.size, self.size, 3), 114, np.uint8)
        off = (self.size - side) // 2
        canvas[off : off + side, off : off + side] = cv2.resize(patch, (side, side), interpolation=interp)
        blob = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        out = self._session.run(None, {self._input: blob})[0][0]  # (4 + classes, anchors)
        self.crops += 1
        scores = out[4:].T
        best = scores.max(axis=1)
        keep = best >= 0.05
        if not keep.any():
            return []
        cxy, wh = out[:2, keep].T, out[2:4, keep].T
        sx, sy = (x2 - x1) / side, (y2 - y1) / side
        boxes = (np.concatenate([cxy - wh / 2, cxy + wh / 2], axis=1) - off) * np.array(
            [sx, sy, sx, sy]
        ) + np.array([x1, y1, x1, y1])
        cls_scores = scores[keep]
        order = nms(boxes.astype(np.float32), best[keep].astype(np.float32), 0.5)
        return [_head_box(boxes, cls_scores, int(i)) for i in order if best[keep][i] >= 0.1]

    def close(self) -> None:
        """The session goes with the object."""


def _head_box(boxes: npt.NDArray[np.float64], cls_scores: npt.NDArray[np.float32], i: int) -> HeadBox:
    b = boxes[i]
    ix1 = np.maximum(boxes[:, 0], b[0])
    iy1 = np.maximum(boxes[:, 1], b[1])
    ix2 = np.minimum(boxes[:, 2], b[2])
    iy2 = np.minimum(boxes[:, 3], b[3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    iou = inter / np.maximum(areas + (b[2] - b[0]) * (b[3] - b[1]) - inter, 1e-6)
    evidence = float(cls_scores[iou >= 0.3, 0].max())
    box = (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
    return HeadBox(box, float(cls_scores[i, 0]), float(cls_scores[i, 1]), evidence)
