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
    assert det.model.name == "yolo11n-int8.onnx" and det.model.version == "models/"
    frame = Frame(image=np.full((540, 960, 3), 90, np.uint8), index=0, timestamp=0.0, source_id="t")
    det.detect(frame)
    assert det.input_size == (640, 384)
    fp32 = OnnxYoloDetector(DetectorConfig(precision="fp32", input_size=(640, 640)))
    assert fp32.model.name == "yolo11n.onnx" and fp32.model.version.startswith(("package:", "models/"))
    fp32.detect(frame)
    assert fp32.input_size == (640, 640)


def test_int8_without_its_file_names_the_command_that_makes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(onnx_mod, "REPO_MODELS_DIR", tmp_path)
    with pytest.raises(ModelError, match="detector models quantize"):
        OnnxYoloDetector(DetectorConfig(precision="int8"))


def test_detector_models_dir_names_the_models_folder_of_an_installed_package(tmp_path: Path):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    code = "from detector.detect.base import REPO_MODELS_DIR; print(REPO_MODELS_DIR)"
    env = {**os.environ, "DETECTOR_MODELS_DIR": str(tmp_path)}
    r = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert r.stdout.strip() == str(tmp_path)
    cfg = tmp_path / "cam.yaml"
    cfg.write_text(f"camera_id: c\nname: c\nsource: {{uri: {REPO / 'sample_videos' / 'sample_scene.mp4'}}}\n")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "detector",
            "replay",
            "--config",
            str(cfg),
            "--out",
            str(tmp_path / "o"),
            "--no-evidence",
            "--max-frames",
            "2",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert r.returncode == 1 and "detector models quantize" in r.stderr
