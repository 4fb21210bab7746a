"""Vehicle detection backends behind the `Detector` protocol."""

from __future__ import annotations

from detector.config import DetectorConfig
from detector.detect.base import Detector, ModelInfo


def create_detector(cfg: DetectorConfig) -> Detector:
    """Build the configured backend; imports the heavy one only when chosen."""
    if cfg.backend == "ultralytics":
        from detector.detect.ultralytics import UltralyticsDetector

        return UltralyticsDetector(cfg)
    from detector.detect.onnx import OnnxYoloDetector

    return OnnxYoloDetector(cfg)


__all__ = ["Detector", "ModelInfo", "create_detector"]
