"""Optional backend: a user's own Ultralytics model (.pt or .onnx), behind the `ultralytics` extra.

Same output type as the onnx backend. Importing Ultralytics costs seconds and hundreds of MB, so
it happens only when this backend is chosen. Set YOLO_OFFLINE=1 on air-gapped boxes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from detector.config import DetectorConfig
from detector.detect.base import ModelInfo, sha256_file
from detector.errors import ConfigError, ModelError
from detector.types import Detections, Frame

log = logging.getLogger(__name__)


class UltralyticsDetector:
    """Runs `ultralytics.YOLO(model)` and converts its results to `Detections`."""

    def __init__(self, cfg: DetectorConfig) -> None:
        if not cfg.model:
            raise ConfigError("detector.model: the ultralytics backend needs a model path (.pt or .onnx)")
        path = Path(cfg.model)
        if not path.is_file():
            raise ModelError(f"ultralytics model not found: {path}")
        os.environ.setdefault("YOLO_OFFLINE", "1")
        try:
            from ultralytics import YOLO
        except ImportError as exc:
            raise ConfigError(
                "detector.backend 'ultralytics' needs the extra: pip install torch==2.14.1 torchvision==0.29.1 "
                "&& pip install -e '.[ultralytics]'"
            ) from exc
        self.cfg = cfg
        self.model = ModelInfo(
            name=path.name, role="detector", sha256=sha256_file(path), file=path.name, version="config"
        )
        self._yolo: Any = YOLO(str(path), task="detect")
        names: dict[int, str] = dict(self._yolo.names)
        by_name = {v: k for k, v in names.items()}
        self._keep = [by_name[c] for c in cfg.classes if c in by_name]
        if not self._keep:
            raise ModelError(
                f"{path}: none of the classes {cfg.classes} is among the model's classes {names}"
            )

    def detect(self, frame: Frame) -> Detections:
        if self.cfg.input_size is not None:
            w, h = self.cfg.input_size
            imgsz: int | tuple[int, int] = (h, w)
        else:
            imgsz = self.cfg.input_long_side  # Ultralytics fits a rectangle to the frame itself
        result = self._yolo.predict(
            frame.image,
            imgsz=imgsz,
            conf=self.cfg.confidence,
            iou=self.cfg.iou,
            classes=self._keep,
            verbose=False,
        )[0]
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return Detections.empty()
        return Detections(
            xyxy=np.asarray(boxes.xyxy.cpu().numpy(), dtype=np.float32),
            confidence=np.asarray(boxes.conf.cpu().numpy(), dtype=np.float32),
            class_id=np.asarray(boxes.cls.cpu().numpy(), dtype=np.int64),
        )

    def close(self) -> None:
        self._yolo = None
