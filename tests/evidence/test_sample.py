"""A bundle made from real frames of the generated sample scene verifies (skipped until it is generated)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.config import EvidenceConfig
from detector.evidence.clip import probe_codec
from detector.evidence.keys import Ed25519Signer
from detector.evidence.manifest import parse_manifest
from detector.evidence.verify import verify_chain
from detector.evidence.writer import BundleWriter
from detector.measures import SpeedingMeasures
from detector.types import Detections, EvidenceFrames, Frame, PlateRead, Violation, ViolationType
from tests.evidence.synthetic import camera_info, models

SAMPLE = Path(os.environ.get("DETECTOR_SAMPLE_DIR", Path(__file__).resolve().parents[2] / "sample_videos"))
VIDEO, TRUTH = SAMPLE / "sample_scene.mp4", SAMPLE / "ground_truth.json"
CLASS_IDS = {"car": 2, "motorcycle": 3, "bus": 5, "truck": 7, "bicycle": 1}

pytestmark = pytest.mark.skipif(
    not (VIDEO.is_file() and TRUTH.is_file()), reason="sample scene not generated (sample_videos/)"
)


def _read_frames(wanted: range) -> dict[int, np.ndarray]:
    cap = cv2.VideoCapture(str(VIDEO))
    out: dict[int, np.ndarray] = {}
    try:
        for i in range(wanted.stop):
            ok, img = cap.read()
            if not ok:
                break
            if i in wanted:
                out[i] = img
    finally:
        cap.release()
    return out


def test_bundle_from_sample_scene_frames_verifies(tmp_path: Path) -> None:
    truth = json.loads(TRUTH.read_text(encoding="utf-8"))  # read directly: only the stable fields are used
    fps = float(truth["scene"]["fps"])
    vehicle = next(
        v for v in truth["vehicles"] if v["boxes"] and any(x["type"] == "speeding" for x in v["violations"])
    )
    vt = next(x for x in vehicle["violations"] if x["type"] == "speeding")
    at = int(vt["frame"])
    images = _read_frames(range(max(at - 10, 0), at + 11))
    assert at in images, "sample scene video is shorter than its ground truth"
    boxes_by_frame: dict[int, list[tuple[int, str, dict]]] = {}
    for v in truth["vehicles"]:
        for b in v["boxes"]:
            if b["frame"] in images:
                boxes_by_frame.setdefault(b["frame"], []).append((v["id"], v["vehicle_class"], b))
    frames, dets = [], {}
    for i, img in sorted(images.items()):
        frames.append(Frame(image=img, index=i, timestamp=i / fps, source_id="cam1"))
        boxes = boxes_by_frame.get(i, [])
        if boxes:
            dets[i] = Detections(
                xyxy=np.array([[b["x1"], b["y1"], b["x2"], b["y2"]] for _, _, b in boxes], np.float32),
                confidence=np.full(len(boxes), 0.9, np.float32),
                class_id=np.array([CLASS_IDS.get(c, 2) for _, c, _ in boxes]),
                tracker_id=np.array([tid for tid, _, _ in boxes]),
            )
    box = next((b for tid, _, b in boxes_by_frame.get(at, []) if tid == vehicle["id"]), None)
    crop = None
    if box is not None and box["plate_box"]:
        x1, y1, x2, y2 = (int(round(c)) for c in box["plate_box"])
        crop = images[at][y1:y2, x1:x2]
    violation = Violation(
        violation_type=ViolationType(vt["type"]),
        camera_id="cam1",
        track_id=int(vehicle["id"]),
        vehicle_class=vehicle["vehicle_class"],
        frame_index=at,
        timestamp=at / fps,
        evidence_frames=EvidenceFrames(max(at - 5, 0), at, at + 5),
        # the truth's speed, known exactly: no uncertainty, no fit
        measured=SpeedingMeasures(
            speed_kmh=vt["measured"]["speed_kmh"],
            speed_uncertainty_kmh=0.0,
            limit_kmh=vt["measured"]["limit_kmh"],
            tolerance_kmh=0.0,
            regression_se_kmh=0.0,
            calibration_se_kmh=0.0,
            window_s=0.0,
            n_points=0,
            calibration_rms_m=None,
        ),
        rule_version="truth",
    )
    plate = PlateRead(
        text=vehicle["plate"], normalized=vehicle["plate_normalized"], confidence=0.99, needs_review=False
    )
    signer = Ed25519Signer.generate()
    w = BundleWriter(
        tmp_path, signer, camera_info(), models(), "c" * 64, config=EvidenceConfig(pre_s=1, post_s=1)
    )
    path = w.write(violation, frames, plate=plate, plate_crop=crop, detections_by_frame=dets)
    report = verify_chain(tmp_path, [signer.public_key])
    assert report.ok, report.all_problems()
    m = parse_manifest((path / "manifest.json").read_bytes())
    assert (
        m.violation.violation_type == vt["type"] and m.plate is not None and m.plate.text == vehicle["plate"]
    )
    overview = cv2.imread(str(path / "overview.jpg"))
    assert overview is not None and overview.shape == images[at].shape
    codec, n = probe_codec(path / "clip.mp4")
    assert codec == "h264" and n == len(frames)


CFG = Path(__file__).resolve().parents[2] / "configs" / "sample_scene.yaml"


def test_rule_engine_violations_on_sample_scene_become_verified_bundles(tmp_path: Path) -> None:
    """Ground-truth tracks -> the real RuleEngine -> EvidenceSink fed the decoded video -> verified chain."""
    from detector.config import config_sha256, load_camera_config
    from detector.evidence.stage import EvidenceSink, calibration_info
    from detector.evidence.writer import camera_info_from_config
    from detector.rules.engine import RuleEngine, run_tracks
    from detector.signals import Phase, PhaseLogSignal
    from detector.types import Track, TrackPoint

    truth = json.loads(TRUTH.read_text(encoding="utf-8"))
    sc = truth["scene"]
    fps = float(sc["fps"])
    cfg = load_camera_config(CFG)
    tracks = []
    for v in truth["vehicles"]:
        t = Track(v["id"])
        for b in v["boxes"]:
            t.append(
                TrackPoint(
                    b["frame"],
                    b["t"],
                    (b["x1"], b["y1"], b["x2"], b["y2"]),
                    0.9,
                    CLASS_IDS[v["vehicle_class"]],
                )
            )
        tracks.append(t)
    signal = PhaseLogSignal([(s / fps, Phase(name)) for s, _e, name in sc["signal"]["phases"]])
    engine = RuleEngine.from_config(cfg.rules, cfg.camera_id, (sc["width"], sc["height"]))
    violations = run_tracks(engine, tracks, lambda fi, ts: signal.state_at(ts))
    assert violations, "the rule engine found no violation in the sample scene"
    by_frame: dict[int, list[Violation]] = {}
    for v in violations:
        by_frame.setdefault(v.frame_index, []).append(v)
    vehicles = {v["id"]: v for v in truth["vehicles"]}

    def plate_lookup(v: Violation, frames: list[Frame], dets: dict) -> tuple[PlateRead, np.ndarray | None]:
        gt = vehicles[v.track_id]
        return PlateRead(
            text=gt["plate"], normalized=gt["plate_normalized"], confidence=0.95, needs_review=False
        ), None

    signer = Ed25519Signer.generate()
    ev_cfg = EvidenceConfig(pre_s=0.5, post_s=0.5)
    writer = BundleWriter(
        tmp_path,
        signer,
        camera_info_from_config(cfg),
        models(),
        config_sha256(CFG),
        config=ev_cfg,
        calibration=calibration_info(cfg.rules.calibration),
    )
    sink = EvidenceSink(writer, ev_cfg, plate_lookup=plate_lookup)  # type: ignore[arg-type]
    boxes: dict[int, list[tuple[int, str, dict]]] = {}
    for v in truth["vehicles"]:
        for b in v["boxes"]:
            boxes.setdefault(b["frame"], []).append((v["id"], v["vehicle_class"], b))
    last = max(v.evidence_frames.after for v in violations) + int(fps)
    cap = cv2.VideoCapture(str(VIDEO))
    try:
        i = 0
        while i <= last:
            ok, img = cap.read()
            if not ok:
                break
            bx = boxes.get(i, [])
            dets = Detections(
                xyxy=np.array([[b["x1"], b["y1"], b["x2"], b["y2"]] for _, _, b in bx], np.float32).reshape(
                    -1, 4
                ),
                confidence=np.full(len(bx), 0.9, np.float32),
                class_id=np.array([CLASS_IDS.get(c, 2) for _, c, _ in bx], np.int64),
                tracker_id=np.array([tid for tid, _, _ in bx], np.int64),
            )
            frame = Frame(image=img, index=i, timestamp=i / fps, source_id=cfg.camera_id)
            sink.write(_Result(frame, dets, tuple(by_frame.get(i, ()))))
            i += 1
    finally:
        cap.release()
    sink.close()
    assert sink.failures == []
    assert sorted(k for k, _ in sink.written) == sorted(v.event_key for v in violations)
    report = verify_chain(tmp_path, [signer.public_key])
    assert report.ok, report.all_problems()
    for _, path in sink.written:
        m = parse_manifest((path / "manifest.json").read_bytes())
        assert m.plate is not None and m.plate.text == vehicles[m.violation.track_id]["plate"]
        assert m.calibration is not None and m.calibration.homography is not None
        assert m.camera.camera_id == cfg.camera_id and (path / "vehicle.jpg").is_file()


class _Result:
    def __init__(self, frame: Frame, detections: Detections, violations: tuple[Violation, ...]) -> None:
        self.frame, self.detections, self.violations = frame, detections, violations
