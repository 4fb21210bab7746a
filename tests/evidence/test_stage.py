"""The evidence FrameSink the pipeline drives, its factory from a camera config, and the overview image."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from detector.annotate.labels import ascii_fold
from detector.config import CameraConfig
from detector.errors import ConfigError
from detector.evidence import images as im
from detector.evidence.keys import Ed25519Signer, load_private_key, write_key_pair
from detector.evidence.manifest import parse_manifest
from detector.evidence.stage import EvidenceSink, open_evidence_sink
from detector.evidence.verify import verify_chain
from detector.modelinfo import ModelInfo
from detector.types import Detections, Frame, PlateRead, Violation
from tests.evidence.synthetic import plate_read, scene, violation


@dataclass(frozen=True)
class FakeResult:
    frame: Frame
    detections: Detections
    violations: tuple[Violation, ...] = ()


def _cfg(tmp_path: Path, key: Path | None) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "camera_id": "cam1",
            "name": "Ngã tư Hàng Xanh",
            "location": "Bình Thạnh",
            "gps": {"lat": 10.8, "lon": 106.7},
            "source": {"uri": "x.mp4"},
            "evidence": {
                "root": str(tmp_path / "ev"),
                "key_path": str(key) if key else None,
                "pre_s": 0.5,
                "post_s": 0.5,
            },
        }
    )


def test_sink_writes_bundles_when_after_frames_arrive(tmp_path: Path) -> None:
    keys = write_key_pair(tmp_path / "k")
    model = ModelInfo(
        name="yolo11n", role="detector", sha256="2" * 64, file="yolo11n.onnx", version="models/"
    )
    sink = open_evidence_sink(_cfg(tmp_path, keys.private), None, config_sha256="c" * 64, models=[model])
    asked: list[tuple[str, list[int]]] = []

    def lookup(
        v: Violation, frames: Sequence[Frame], dets: Mapping[int, Detections]
    ) -> tuple[PlateRead | None, np.ndarray | None]:
        asked.append((v.event_key, [f.index for f in frames]))
        return plate_read(), frames[0].image[:20, :40]

    sink.plate_lookup = lookup
    sfs = list(scene(40))
    for sf in sfs:
        vs = (violation(10),) if sf.frame.index == 10 else ()
        sink.write(FakeResult(sf.frame, sf.detections, vs))
        if sf.frame.index == 14:
            assert sink.written == [] and sink.pending == 1  # waiting for t >= 1.5 s
    assert [k for k, _ in sink.written] == ["cam1:red_light:7:10"]
    assert asked == [("cam1:red_light:7:10", list(range(5, 16)))]
    sink.add_violations([violation(38)])  # late: decided at end of stream
    sink.close()
    assert len(sink.written) == 2 and sink.failures == []
    last = parse_manifest((sink.written[1][1] / "manifest.json").read_bytes())
    assert "clip truncated at end of stream" in last.review_reasons and last.needs_review
    first = parse_manifest((sink.written[0][1] / "manifest.json").read_bytes())
    assert first.models == (model,)  # the loader's record is the manifest's, field for field
    assert first.camera.gps is not None and first.plate is not None
    assert verify_chain(tmp_path / "ev", [load_private_key(keys.private).public_key]).ok


def test_sink_counts_failures_and_keeps_running(tmp_path: Path) -> None:
    keys = write_key_pair(tmp_path / "k")
    sink = open_evidence_sink(_cfg(tmp_path, keys.private), None, config_sha256="c" * 64)

    def broken(*a: object) -> tuple[None, None]:
        raise OSError("disk gone")

    sink.plate_lookup = broken
    for sf in scene(30):
        sink.write(FakeResult(sf.frame, sf.detections, (violation(5),) if sf.frame.index == 5 else ()))
    assert sink.written == [] and [k for k, _ in sink.failures] == ["cam1:red_light:7:5"]


def test_factory_needs_root_and_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="key_path is not set"):
        open_evidence_sink(_cfg(tmp_path, None), None, config_sha256="c" * 64)
    sink = open_evidence_sink(
        _cfg(tmp_path, None), tmp_path / "x", config_sha256="c" * 64, signer=Ed25519Signer.generate()
    )
    assert isinstance(sink, EvidenceSink) and sink.writer.root == tmp_path / "x"


def test_privacy_mask_blurs_bystanders_only() -> None:
    sf = next(iter(scene(1)))
    img = sf.frame.image.copy()
    n = im.mask_bystanders(img, sf.detections, violator_track=7)
    assert n == 1
    diff = np.abs(img.astype(int) - sf.frame.image.astype(int)).sum(axis=2)
    x1, y1, x2, y2 = (int(v) for v in sf.detections.xyxy[1])  # the parked car (track 8), plate at its bottom
    assert diff[y2 - 8 : y2, x1:x2].mean() > 10  # its plate text is smeared
    vx1, vy1, vx2, vy2 = (int(v) for v in sf.detections.xyxy[0])
    assert diff[vy1:vy2, vx1:vx2].sum() == 0  # the violator is untouched
    assert diff[:, : x1 - 1].sum() == 0 or x1 == 0


def test_overview_draws_text_bar_and_folds_vietnamese() -> None:
    sf = next(iter(scene(1, wall_time0=1.8e9)))
    text = im.OverviewText(
        "Ngã tư Hàng Xanh", "cam1", "Đường Điện Biên Phủ", "RED LIGHT", ("plate: 51F-123.45",)
    )
    x1, y1, x2, y2 = (float(v) for v in sf.detections.xyxy[0])
    img, masked = im.overview(sf.frame, 7, (x1, y1, x2, y2), sf.detections, text, privacy_mask=True)
    assert masked == 1 and img.shape == sf.frame.image.shape
    assert (img[-3:, :, :] == 0).mean() > 0.5  # the black timestamp bar
    assert ascii_fold("Ngã tư Đường Điện Biên Phủ") == "Nga tu Duong Dien Bien Phu"
    assert im.format_time(sf.frame).startswith("2027-01-15 08:00:00.000 UTC")


def test_background_writer_keeps_order_and_survives_bugs(tmp_path: Path) -> None:
    keys = write_key_pair(tmp_path / "k")
    cfg = _cfg(tmp_path, keys.private)
    sink = open_evidence_sink(cfg, None, config_sha256="c" * 64, background=True)
    calls = {"n": 0}

    def lookup(v: Violation, frames: Sequence[Frame], dets: Mapping[int, Detections]) -> tuple[None, None]:
        calls["n"] += 1
        if v.frame_index == 12:
            raise ValueError("bug in a plate reader")
        return None, None

    sink.plate_lookup = lookup
    for sf in scene(40):
        vs = tuple(violation(i) for i in (4, 8, 12, 16) if sf.frame.index == i)
        sink.write(FakeResult(sf.frame, sf.detections, vs))
    sink.close()
    assert calls["n"] == 4
    assert [k for k, _ in sink.written] == ["cam1:red_light:7:4", "cam1:red_light:7:8", "cam1:red_light:7:16"]
    assert [k for k, _ in sink.failures] == ["cam1:red_light:7:12"]
    seqs = [parse_manifest((p / "manifest.json").read_bytes()).sequence for _, p in sink.written]
    assert seqs == [1, 2, 3]
    assert verify_chain(tmp_path / "ev", [load_private_key(keys.private).public_key]).ok


def test_privacy_mask_uses_plate_boxes_when_known() -> None:
    sf = next(iter(scene(1)))
    x1, y1, x2, y2 = (float(v) for v in sf.detections.xyxy[1])
    plate = np.array([[np.nan] * 4, [x1 + 4, y2 - 10, x2 - 4, y2 - 2]], np.float32)
    dets = Detections(
        xyxy=sf.detections.xyxy,
        confidence=sf.detections.confidence,
        class_id=sf.detections.class_id,
        tracker_id=sf.detections.tracker_id,
        data={im.PLATE_BOXES_KEY: plate},
    )
    img = sf.frame.image.copy()
    assert im.mask_bystanders(img, dets, violator_track=7) == 1
    diff = np.abs(img.astype(int) - sf.frame.image.astype(int)).sum(axis=2)
    assert diff[int(y2) - 9 : int(y2) - 2, int(x1) + 5 : int(x2) - 5].mean() > 10  # the plate is smeared
    assert diff[int(y1) : int(y1) + 10, :].sum() == 0  # the top of the car is not (only the padded plate box)
