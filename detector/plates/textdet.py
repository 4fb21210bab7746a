"""Fallback plate finder: text lines found by PP-OCRv6's text detector (shipped in rapidocr's wheel).

platedet was trained mostly on Brazilian plates and misses some plates that a person reads at a
glance. When it finds nothing on a violator, the text detector's lines on the vehicle crop are
candidate plates; the caller reads each and keeps only readings that fit the plate grammar.
DB post-processing is reduced to what plates need: threshold, dilate, connected components,
boxes grown by the unclip ratio.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from detector.detect.base import ModelInfo, open_session, package_file, sha256_file
from detector.errors import ModelError
from detector.plates.detect import PlateBox

log = logging.getLogger(__name__)

DET_PACKAGE = "rapidocr"
DET_FILE = "models/PP-OCRv6_det_small.onnx"


class TextLineDetector:
    """Finds text lines in a (vehicle) crop; boxes in the crop's pixels (confidence = mean text
    probability), best first."""

    def __init__(
        self,
        path: Path | None = None,
        threads: int = 2,
        side: int = 480,
        thresh: float = 0.3,
        box_thresh: float = 0.5,
        unclip: float = 1.6,
    ) -> None:
        if path is None:
            path = package_file(DET_PACKAGE, DET_FILE)
            if path is None:
                raise ModelError(
                    f"no text detector: the {DET_PACKAGE} package (which ships {DET_FILE}) is not installed"
                )
            origin = f"package:{DET_PACKAGE}"
        else:
            origin = "config"
        self._session = open_session(path, threads, "text detector")
        self._input = self._session.get_inputs()[0].name
        self.model = ModelInfo(
            name=path.stem, role="text_detector", sha256=sha256_file(path), file=path.name, version=origin
        )
        self.side, self.thresh, self.box_thresh, self.unclip = side, thresh, box_thresh, unclip

    def find(self, image: np.ndarray, max_boxes: int = 6) -> list[PlateBox]:
        h, w = image.shape[:2]
        if h < 8 or w < 8:
            return []
        scale = self.side / max(h, w)
        rh, rw = max(32, round(h * scale / 32) * 32), max(32, round(w * scale / 32) * 32)
        resized = cv2.resize(image, (rw, rh))
        blob = ((resized.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[None]
        (prob,) = self._session.run(None, {self._input: blob})
        prob = prob[0, 0]
        mask = (prob > self.thresh).astype(np.uint8)
        mask = cv2.dilate(mask, np.ones((2, 2), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
        boxes: list[PlateBox] = []
        sx, sy = w / rw, h / rh
        for i in range(1, n):
            x, y, bw, bh, area = stats[i]
            if bw < 4 or bh < 3:
                continue
            score = float(prob[labels == i].mean())
            if score < self.box_thresh:
                continue
            # grow the shrunk text kernel back to the text line (DB's unclip, on an axis-aligned box)
            grow = area * self.unclip / (2 * (bw + bh))
            x1, y1 = (x - grow) * sx, (y - grow) * sy
            x2, y2 = (x + bw + grow) * sx, (y + bh + grow) * sy
            boxes.append(PlateBox((max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2)), score))
        boxes.sort(key=lambda b: b.confidence * b.width, reverse=True)
        return boxes[:max_boxes]

    def close(self) -> None:
        if hasattr(self, "_session"):
            del self._session
