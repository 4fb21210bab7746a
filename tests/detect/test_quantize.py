"""int8 quantization of the vehicle detector: `detector models quantize`, its manifest entry, its accuracy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from detector.config import DetectorConfig
from detector.detect.base import sha256_file
from detector.detect.onnx import OnnxYoloDetector
from detector.detect.quantize import default_calibration, head_nodes, quantize_yolo
from detector.errors import ConfigError
from detector.modelfiles import check_models, load_manifest
from detector.sample.groundtruth import load_ground_truth
from detector.sample.measure import countable, iou, read_frames
from tests.conftest import REPO, shared_path

INT8 = REPO / "models" / "yolo11n-int8.onnx"
SAMPLE = REPO / "sample_videos" / "sample_scene.mp4"
VEHICLES = [1, 2, 3, 5, 7]
DETECTOR = [sys.executable, "-m", "detector"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DETECTOR, *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def fp32_model() -> Path:
    status = next(s for s in check_models(load_manifest()) if s.entry.name == "yolo11n")
    assert status.path is not None and status.ok
    return status.path


def vehicle_boxes(det: OnnxYoloDetector, image: np.ndarray, min_conf: float = 0.0) -> np.ndarray:
    d = det.detect_image(image)
    keep = np.isin(d.class_id, VEHICLES) & (d.confidence >= min_conf)
    return d.xyxy[keep]


@pytest.fixture(scope="module")
def detectors():
    cfg = DetectorConfig(input_size=(640, 384))
    fp32 = OnnxYoloDetector(cfg.model_copy(update={"model": str(fp32_model())}))
    int8 = OnnxYoloDetector(cfg.model_copy(update={"model": str(INT8)}))
    yield fp32, int8
    fp32.close()
    int8.close()


def test_int8_file_matches_its_manifest_entry():
    entry = next(e for e in load_manifest().models if e.name == "yolo11n-int8")
    assert entry.file == INT8.name and entry.derived_from == "yolo11n"
    assert entry.command and entry.command.startswith("detector models quantize")
    assert entry.calibration and "frames" in entry.calibration
    assert entry.licence.startswith("AGPL-3.0") and entry.package is None
    assert INT8.is_file(), "models/yolo11n-int8.onnx is missing: run `detector models quantize`"
    assert sha256_file(INT8) == entry.sha256


def test_models_check_reports_the_int8_file(tmp_path: Path):
    r = run("models", "check", "--json")
    by_name = {m["name"]: m for m in json.loads(r.stdout)}
    int8 = by_name["yolo11n-int8"]
    assert int8["ok"] and int8["origin"] == "models/" and int8["derived_from"] == "yolo11n", int8
    # missing, then a different file: reported, never taken from a package
    statuses = {s.entry.name: s for s in check_models(load_manifest(), models_dir=tmp_path)}
    assert statuses["yolo11n-int8"].origin == "missing" and not statuses["yolo11n-int8"].ok
    (tmp_path / INT8.name).write_bytes(b"not the int8 model")
    statuses = {s.entry.name: s for s in check_models(load_manifest(), models_dir=tmp_path)}
    assert statuses["yolo11n-int8"].origin == "models/" and not statuses["yolo11n-int8"].ok


def test_int8_finds_the_same_vehicles_as_fp32_on_the_sample_scene(detectors):
    fp32, int8 = detectors
    truth = load_ground_truth(REPO / "sample_videos" / "ground_truth.json")
    frames = read_frames(SAMPLE, [45, 150, 240, 330])
    for idx, image in frames.items():
        a, b = vehicle_boxes(fp32, image), vehicle_boxes(int8, image)
        # every confident vehicle of one model is found by the other at IoU >= 0.5
        for ref, other in ((vehicle_boxes(fp32, image, 0.45), b), (vehicle_boxes(int8, image, 0.45), a)):
            for box in ref:
                assert len(other) and iou(tuple(box), other).max() >= 0.5, (idx, box)
        for v in truth.vehicles:
            gt = v.box_at(idx)
            if gt is not None and countable(gt):
                assert len(b) and iou(gt.xyxy, b).max() >= 0.5, (idx, v.id)
    assert int8.class_names[2] == "car"  # the class names survive in the metadata


def test_quantize_on_a_tiny_calibration_set_is_loadable_and_deterministic(tmp_path: Path):
    outs = []
    for k in range(2):
        out = tmp_path / f"tiny{k}.onnx"
        r = quantize_yolo(fp32_model(), out, [SAMPLE], input_size=(320, 192), frames_per_source=3)
        assert r.out == out and r.frames == 3 and r.sources == (("sample_scene.mp4", 3),)
        assert r.sha256 == sha256_file(out)
        outs.append(r.sha256)
    assert outs[0] == outs[1], "the same inputs gave different bytes"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left
    det = OnnxYoloDetector(DetectorConfig(model=str(tmp_path / "tiny0.onnx"), input_size=(320, 192)))
    image = read_frames(SAMPLE, [150])[150]
    assert len(vehicle_boxes(det, image)) >= 1


def test_quantize_command_writes_outside_models_without_touching_the_manifest(tmp_path: Path):
    before = (REPO / "models" / "manifest.yaml").read_bytes()
    out = tmp_path / "cli.onnx"
    r = run(
        "models",
        "quantize",
        "--calibrate",
        str(SAMPLE),
        "--frames-per-source",
        "2",
        "--input-size",
        "320x192",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert f"sha256 {sha256_file(out)}" in r.stdout and "manifest is unchanged" in r.stdout
    assert (REPO / "models" / "manifest.yaml").read_bytes() == before


def test_quantize_calibrates_on_a_real_clip(tmp_path: Path):
    clip = shared_path("bgslibrary-videos", "video02.avi")
    r = quantize_yolo(fp32_model(), tmp_path / "bgs.onnx", [clip], input_size=(320, 192), frames_per_source=2)
    assert r.frames == 2
    OnnxYoloDetector(DetectorConfig(model=str(r.out), input_size=(320, 192)))


@pytest.mark.parametrize("kind", ["missing", "not-a-video", "empty-folder"])
def test_quantize_bad_calibration_exits_2_naming_the_path(tmp_path: Path, kind: str):
    if kind == "missing":
        bad = tmp_path / "nope.mp4"
    elif kind == "not-a-video":
        bad = tmp_path / "notes.mp4"
        bad.write_text("this is not a video", encoding="utf-8")
    else:
        bad = tmp_path / "frames"
        bad.mkdir()
    out = tmp_path / "x.onnx"
    r = run("models", "quantize", "--calibrate", str(bad), "--out", str(out))
    assert r.returncode == 2, r.stderr
    assert str(bad) in r.stderr
    assert not out.exists()


def test_quantize_bad_input_size_and_unknown_source_exit_2(tmp_path: Path):
    r = run(
        "models",
        "quantize",
        "--calibrate",
        str(SAMPLE),
        "--input-size",
        "640x380",
        "--out",
        str(tmp_path / "x.onnx"),
    )
    assert r.returncode == 2 and "multiples of 32" in r.stderr
    r = run("models", "quantize", "--source", "nosuchmodel", "--out", str(tmp_path / "x.onnx"))
    assert r.returncode == 2 and "nosuchmodel" in r.stderr


def test_default_calibration_names_the_folder_when_no_clip_is_there(tmp_path: Path):
    with pytest.raises(ConfigError, match=str(tmp_path)):
        default_calibration(tmp_path)


def test_head_exclusion_keeps_the_decode_in_fp32():
    names = head_nodes(fp32_model(), "decode")
    assert "/model.23/Concat_25" in names and "/model.23/dfl/conv/Conv" in names
    assert not any("/cv2." in n or "/cv3." in n for n in names)
    assert head_nodes(fp32_model(), "none") == []


def test_manifest_upsert_replaces_the_entry_and_keeps_the_comments(tmp_path: Path):
    from detector.modelfiles import upsert_manifest_entry

    path = tmp_path / "manifest.yaml"
    path.write_bytes((REPO / "models" / "manifest.yaml").read_bytes())
    entry = next(e for e in load_manifest(path).models if e.name == "yolo11n-int8")
    upsert_manifest_entry(entry.model_copy(update={"sha256": "0" * 64}), path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Every model the engine runs")
    names = [e.name for e in load_manifest(path).models]
    assert names == [e.name for e in load_manifest().models]  # replaced in place, not appended
    assert next(e for e in load_manifest(path).models if e.name == "yolo11n-int8").sha256 == "0" * 64
    upsert_manifest_entry(entry.model_copy(update={"name": "other-int8"}), path)
    assert [e.name for e in load_manifest(path).models][-1] == "other-int8"
    with pytest.raises(ConfigError, match="derived"):
        upsert_manifest_entry(entry.model_copy(update={"name": "x", "derived_from": None}), path)
