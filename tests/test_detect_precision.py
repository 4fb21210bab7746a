"""Which YOLO11n file the detector loads (fp32 from the wheel, int8 from models/) and the input it
fits to a frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import detector.detect.onnx as onnx_mod
from detector.config import DetectorConfig
from detector.detect.onnx import OnnxYoloDetector, fitted_input_size
from detector.errors import ModelError
from detector.types import Frame


def test_fitted_input_keeps_the_frame_shape_on_the_stride():
    assert fitted_input_size(1920, 1080) == (640, 384)
    assert fitted_input_size(960, 540) == (640, 384)
    assert fitted_input_size(320, 240) == (640, 480)
    assert fitted_input_size(1080, 1920) == (384, 640)  # portrait
    assert fitted_input_size(1568, 778, 416) == (416, 224)
    with pytest.raises(ValueError, match="positive"):
        fitted_input_size(0, 10)


def test_default_loads_the_int8_file_and_letterboxes_to_the_fitted_input():
    det = OnnxYoloDetector(DetectorConfig())
    assert det.model.name == "yolo11n-int8.onnx" and det.model.origin == "models/"
    frame = Frame(image=np.full((540, 960, 3), 90, np.uint8), index=0, timestamp=0.0, source_id="t")
    det.detect(frame)
    assert det.input_size == (640, 384)
    fp32 = OnnxYoloDetector(DetectorConfig(precision="fp32", input_size=(640, 640)))
    assert fp32.model.name == "yolo11n.onnx" and fp32.model.origin.startswith(("package:", "models/"))
    fp32.detect(frame)
    assert fp32.input_size == (640, 640)


def test_int8_without_its_file_names_the_command_that_makes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(onnx_mod, "REPO_MODELS_DIR", tmp_path)
    with pytest.raises(ModelError, match="detector models quantize"):
        OnnxYoloDetector(DetectorConfig(precision="int8"))
