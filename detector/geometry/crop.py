"""Detection on part of a frame: where the scheduler needs a detection now, not everywhere.

Between two whole-frame detections, the detector is forced to run where a decision is near (a track
about to reach a stop line, a young track the rules may judge; detector/runtime/schedule.py). Those
tracks often fill a small part of the frame, so the detector runs on a crop around them at the scale
a whole-frame detection would use: the network sees the same pixels per metre, on fewer pixels.

A box cut by the crop's edge is not a whole vehicle: detections within `EDGE_PX` of an edge of the
crop that is not an edge of the frame are dropped, and the tracker carries the tracks that are not
wholly inside the crop by their motion, as on a frame without detection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Box = tuple[float, float, float, float]

#: how close (frame pixels) to an inner crop edge a box may come and still count as whole
EDGE_PX = 3.0
#: the scene around the region the network also sees (network input pixels, each side). YOLO11's
#: attention block sees the whole input, so a tight crop lowers its confidence: on the 9 labelled
#: UA-DETRAC frames, crops found 83 of 88 whole-frame detections at >= 0.5 with no context, 85 with 32
CONTEXT_INPUT_PX = 32.0


@dataclass(frozen=True, slots=True)
class Crop:
    """The part of the frame a detection runs on (integer frame pixels) and the network input it is
    letterboxed to (width, height), at the scale of a whole-frame detection."""

    x0: int
    y0: int
    x1: int
    y1: int
    input_size: tuple[int, int]
    frame_size: tuple[int, int]  # (width, height) of the frame it is cut from

    @property
    def box(self) -> Box:
        return (float(self.x0), float(self.y0), float(self.x1), float(self.y1))

    @property
    def area_share(self) -> float:
        """The crop's share of the frame's area."""
        width, height = self.frame_size
        return (self.x1 - self.x0) * (self.y1 - self.y0) / float(max(1, width * height))


def plan_crop(
    region: Box, frame_size: tuple[int, int], full_input: tuple[int, int], stride: int = 32
) -> Crop:
    """The crop covering `region` and `CONTEXT_INPUT_PX` of scene around it, whose network input, at the
    whole frame's letterbox scale, is a multiple of `stride` on both sides (the crop grows around the
    region to fill it, inside the frame)."""
    width, height = frame_size
    scale = min(full_input[0] / width, full_input[1] / height)
    grow = CONTEXT_INPUT_PX / scale
    x0, y0, x1, y1 = region[0] - grow, region[1] - grow, region[2] + grow, region[3] + grow
    x0, y0 = max(0.0, min(x0, width)), max(0.0, min(y0, height))
    x1, y1 = max(x0 + 1, min(x1, width)), max(y0 + 1, min(y1, height))
    in_w = min(full_input[0], max(stride, math.ceil((x1 - x0) * scale / stride) * stride))
    in_h = min(full_input[1], max(stride, math.ceil((y1 - y0) * scale / stride) * stride))
    cw, ch = min(width, round(in_w / scale)), min(height, round(in_h / scale))
    cx0 = int(round(min(max(0.0, (x0 + x1 - cw) / 2), width - cw)))
    cy0 = int(round(min(max(0.0, (y0 + y1 - ch) / 2), height - ch)))
    return Crop(cx0, cy0, cx0 + cw, cy0 + ch, (in_w, in_h), (width, height))


def whole_in_crop(xyxy: npt.NDArray[np.floating], crop: Crop, edge: float = EDGE_PX) -> npt.NDArray[np.bool_]:
    """Which boxes (frame pixels) keep clear of the crop's inner edges (those not on the frame's edge)."""
    width, height = crop.frame_size
    if len(xyxy) == 0:
        return np.zeros(0, dtype=bool)
    ok = np.ones(len(xyxy), dtype=bool)
    if crop.x0 > 0:
        ok &= xyxy[:, 0] > crop.x0 + edge
    if crop.y0 > 0:
        ok &= xyxy[:, 1] > crop.y0 + edge
    if crop.x1 < width:
        ok &= xyxy[:, 2] < crop.x1 - edge
    if crop.y1 < height:
        ok &= xyxy[:, 3] < crop.y1 - edge
    return ok


def union_box(boxes: list[Box]) -> Box:
    """The smallest box holding every one of `boxes` (at least one)."""
    if not boxes:
        raise ValueError("union_box needs at least one box")
    arr = np.asarray(boxes, dtype=np.float64)
    return (
        float(arr[:, 0].min()),
        float(arr[:, 1].min()),
        float(arr[:, 2].max()),
        float(arr[:, 3].max()),
    )
