"""The vehicle detector on OpenVINO (`detector.backend: openvino`, detector/detect/openvino.py): the same
detections as onnxruntime on the same ONNX file, from several threads at once, in crops, in a box's
shared session; clear errors. Frames: the bundled sample scene."""

from __future__ import annotations

import builtins
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.config import DetectorConfig
from detector.detect.onnx import YOLO_PACKAGE, YOLO_PACKAGE_FILE, OnnxYoloDetector
from detector.errors import ModelError
from detector.geometry.crop import plan_crop
from detector.types import Detections, Frame
from tests.conftest import REPO, sample_violation_types
from tests.detect.support import iou

pytest.importorskip("openvino", reason="the openvino extra is not installed (scripts/setup.sh installs it)")

from detector.detect.openvino import STATIC_SHAPES, OpenVinoSession, streams_for  # noqa: E402


def _frames(n: int = 6) -> list[np.ndarray]:
    """`n` frames of the sample's busy middle (frames 100-340, evenly)."""
    cap = cv2.VideoCapture(str(REPO / "sample_videos" / "sample_scene.mp4"))
    out = []
    for i in range(340):
        ok, img = cap.read()
        assert ok, "the bundled sample could not be read"
        if i >= 100 and (i - 100) % (240 // n) == 0:
            out.append(img)
    cap.release()
    return out[:n]


def _fp32(backend: str, **kw: object) -> OnnxYoloDetector:
    from detector.detect.base import package_file

    path = package_file(YOLO_PACKAGE, YOLO_PACKAGE_FILE)
    assert path is not None
    cfg = DetectorConfig(model=str(path), precision="fp32", threads=1, backend=backend, confidence=0.3)  # type: ignore[arg-type]
    return OnnxYoloDetector(cfg.model_copy(update=kw))


def _matched(a: Detections, b: Detections, min_conf: float) -> tuple[int, int]:
    """(boxes of `a` at >= min_conf with a box of `b` at IoU >= 0.9 and the same class, those boxes)."""
    rows = np.flatnonzero(a.confidence >= min_conf)
    hit = sum(
        1
        for i in rows
        if any(iou(a.xyxy[i], b.xyxy[j]) >= 0.9 and a.class_id[i] == b.class_id[j] for j in range(len(b)))
    )
    return hit, len(rows)


def test_openvino_in_f32_gives_onnxruntimes_detections():
    ort_det, ov_det = _fp32("onnx"), _fp32("openvino", inference_precision="f32")
    assert isinstance(ov_det.session, OpenVinoSession)
    assert ov_det.session.inference_precision == "f32"
    assert ov_det.class_names == ort_det.class_names  # read from the file's metadata, as onnxruntime does
    total = 0
    for img in _frames():
        a, b = ort_det.detect_image(img), ov_det.detect_image(img)
        assert len(a) == len(b)
        hit, n = _matched(a, b, 0.3)
        assert hit == n
        assert np.allclose(np.sort(a.confidence), np.sort(b.confidence), atol=1e-3)
        total += n
    assert total >= 12  # the sample's frames hold cars: a real comparison, not of empty lists


def test_openvino_at_its_default_precision_keeps_the_confident_vehicles():
    """bf16 on CPUs with AMX (f32 elsewhere): every vehicle onnxruntime reports at >= 0.5 is there."""
    ort_det, ov_det = _fp32("onnx"), _fp32("openvino")
    hits = total = 0
    for img in _frames():
        hit, n = _matched(ort_det.detect_image(img), ov_det.detect_image(img), 0.5)
        hits, total = hits + hit, total + n
    assert total >= 10 and hits == total


def test_inferences_from_two_threads_at_once_give_each_frames_own_detections():
    det = _fp32("openvino")
    frames = _frames(4)
    alone = [det.detect_image(img) for img in frames]
    got: dict[int, Detections] = {}

    def work(k: int) -> None:
        for _ in range(3):
            got[k] = det.detect_image(frames[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(frames))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, a in enumerate(alone):
        assert np.array_equal(a.xyxy, got[k].xyxy) and np.array_equal(a.class_id, got[k].class_id)


def test_crops_of_many_sizes_are_detected_past_the_static_shapes():
    det = _fp32("openvino", inference_precision="f32")
    ref = _fp32("onnx")
    img = _frames(1)[0]
    frame = Frame(image=img, index=0, timestamp=0.0, source_id="t")
    whole = det.detect_image(img)
    regions = [(100.0, 100.0, 200.0 + 90 * k, 150.0 + 50 * k) for k in range(STATIC_SHAPES + 2)]
    sizes = set()
    for region in regions:
        crop = plan_crop(region, (img.shape[1], img.shape[0]), det.input_size_for(img.shape[1], img.shape[0]))
        sizes.add(crop.input_size)
        a, b = ref.detect_region(frame, crop), det.detect_region(frame, crop)
        assert _matched(a, b, 0.3)[0] == _matched(a, b, 0.3)[1]
    session = det.session
    assert isinstance(session, OpenVinoSession)
    assert len(sizes) > STATIC_SHAPES and len(session._compiled) == STATIC_SHAPES
    assert len(whole)


def test_streams_follow_the_cores_over_the_threads_of_one_inference():
    assert streams_for(1, cores=2) == 2
    assert streams_for(2, cores=2) == 1
    assert streams_for(4, cores=2) == 1


def test_a_box_of_cameras_shares_one_openvino_session():
    from detector.detect.shared import SharedSessions

    sessions = SharedSessions()
    cfg = _fp32("openvino").cfg
    a, b = sessions.detector(cfg), sessions.detector(cfg)
    assert a.session is b.session and len(sessions.sessions) == 1
    img = _frames(1)[0]
    assert len(a.detect_image(img)) == len(b.detect_image(img)) > 0
    assert any("openvino" in k for k in sessions.stats())


def test_without_the_package_the_backend_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    real = builtins.__import__

    def no_openvino(name: str, *args: object, **kw: object) -> object:
        if name == "openvino" or name.startswith("openvino."):
            raise ImportError("No module named 'openvino'")
        return real(name, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_openvino)
    with pytest.raises(ModelError, match=r"pip install -e '\.\[openvino\]'"):
        _fp32("openvino")


def test_a_broken_model_file_names_the_file(tmp_path: Path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(ModelError, match="broken.onnx"):
        OpenVinoSession(bad, 1, "vehicle detector")


def test_the_sample_replayed_on_openvino_finds_its_six_violations(tmp_path: Path):
    """The frame loop as a replay runs it (detection ahead on two workers), on OpenVINO at its default
    precision: the ground truth's six violations and no other."""
    from detector.config import load_camera_config
    from detector.runtime.loop import LoopOptions
    from detector.runtime.session import RunRequest, RunSession

    path = REPO / "configs" / "sample_scene.yaml"
    cfg = load_camera_config(path)
    cfg = cfg.model_copy(
        update={"detector": cfg.detector.model_copy(update={"backend": "openvino", "precision": "fp32"})}
    )
    request = RunRequest(cfg, path, tmp_path, preview=False, evidence=False, store=False, loop=LoopOptions())
    session = RunSession.open(request)
    try:
        assert isinstance(session.built.pipeline.detector.session, OpenVinoSession)  # type: ignore[attr-defined]
        summary = session.run()
    finally:
        session.close()
    assert sorted(v.violation_type.value for v in summary.violations) == sample_violation_types()


RACE = """
import sys, threading
from pathlib import Path
import numpy as np
from detector.detect.openvino import OpenVinoSession
s = OpenVinoSession(Path(sys.argv[1]), 1, "vehicle detector")
x = np.zeros((1, 3, 384, 640), np.float32)
gate = threading.Barrier(2)
def first_inference():
    gate.wait()
    s.run(None, {"images": x})
workers = [threading.Thread(target=first_inference) for _ in range(2)]
for w in workers:
    w.start()
for w in workers:
    w.join()
print("done")
"""


def test_two_threads_making_a_fresh_sessions_first_inference_at_once_do_not_deadlock():
    """A fresh process each time (the bindings' one-time set-up is per process): two detection workers
    start at the same moment on a session nobody has run yet, as a replay's first frames do."""
    import subprocess
    import sys

    from detector.detect.base import package_file

    path = package_file(YOLO_PACKAGE, YOLO_PACKAGE_FILE)
    for _ in range(3):
        done = subprocess.run(
            [sys.executable, "-c", RACE, str(path)], capture_output=True, text=True, timeout=120, cwd=REPO
        )
        assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr[-500:]
