"""Traffic statistics computed as the edge runs (detector/network/live_stats.py), interval by
interval, against the batch computation over the whole run and the sample's ground truth.

The frames are the generator's exact boxes (tracker ids = vehicle ids), handed to the stage as the
frame loop hands its results; the expected counts come from the exact motion (test_network_stats).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from detector.config import load_camera_config
from detector.geometry import Scene
from detector.network.live_stats import LiveTrafficStats, open_live_stats
from detector.network.stats import TrafficStat, geometry_from_scene, traffic_stats
from detector.pipeline import FrameResult
from detector.sample.groundtruth import GroundTruth, load_ground_truth
from detector.types import Detections, Frame
from tests.network.support import INTERVAL_S, ROOT, STATS, counts_of, truth_counts

START = datetime(2026, 11, 20, 0, 30, tzinfo=UTC)
CLASS_ID = {"car": 2, "motorcycle": 3, "bus": 5, "truck": 7}


def _result(frame: Frame, detections: Detections) -> FrameResult:
    """What the frame loop hands its result hook; the stage reads the frame and its detections."""
    return FrameResult(frame=frame, detections=detections, tracks={}, active=(), violations=())


@pytest.fixture(scope="module")
def truth() -> GroundTruth:
    return load_ground_truth(ROOT / "sample_videos" / "ground_truth.json")


def _frames(truth: GroundTruth) -> list[FrameResult]:
    blank = np.zeros((2, 2, 3), np.uint8)  # the stage reads boxes, not pixels
    out = []
    fps = truth.scene.fps
    for i in range(truth.scene.frame_count):
        rows = [(v, b) for v in truth.vehicles if (b := v.box_at(i)) is not None and b.visible >= 0.9]
        dets = Detections(
            xyxy=np.array([(b.x1, b.y1, b.x2, b.y2) for _, b in rows], np.float32).reshape(-1, 4),
            confidence=np.full(len(rows), 0.9, np.float32),
            class_id=np.array([CLASS_ID[v.vehicle_class] for v, _ in rows], np.int64),
            tracker_id=np.array([v.id for v, _ in rows], np.int64),
        )
        out.append(_result(Frame(image=blank, index=i, timestamp=i / fps, source_id="sample"), dets))
    return out


def _geometry():  # noqa: ANN202
    return geometry_from_scene(
        Scene.from_config(load_camera_config(ROOT / "configs" / "sample_scene.yaml").rules)
    )


def _records(results: list[FrameResult]) -> list[dict[str, object]]:
    """tracks.jsonl's records of the same frames (what `detector stats compute` reads)."""
    return [
        {
            "t": round(r.frame.timestamp, 4),
            "track_id": int(r.detections.tracker_id[i]),  # type: ignore[index]
            "class": {2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}[int(r.detections.class_id[i])],
            "box": [round(float(v), 1) for v in r.detections.xyxy[i]],
        }
        for r in results
        for i in range(len(r.detections))
    ]


def test_live_intervals_equal_the_batch_and_the_ground_truth(truth: GroundTruth) -> None:
    results = _frames(truth)
    stored: list[list[TrafficStat]] = []
    live = LiveTrafficStats("sample", _geometry(), STATS, lambda rows: stored.append(list(rows)), start=START)
    for r in results:
        live.submit(r)
    live.close()
    assert live.figures.failures == 0
    end_t = results[-1].frame.timestamp
    # interval 0 was stored while the stream was still running: as soon as it was over and settled
    k, handed_t = live.figures.handed[0]
    assert k == 0 and INTERVAL_S + live.settle_s <= handed_t < INTERVAL_S + live.settle_s + 0.1 < end_t
    assert stored[0] and all(r.interval_start == START for r in stored[0])
    rows = [r for rs in stored for r in rs]
    batch = traffic_stats(_records(results), _geometry(), STATS, "sample", START)
    assert sorted(rows, key=repr) == sorted(batch, key=repr)  # the same rows, value for value
    expected = truth_counts(truth)
    assert counts_of(rows) == expected and sum(expected.values()) == 10


def test_memory_stays_bounded_on_a_long_run(truth: GroundTruth) -> None:
    """The sample scene played 8 times in a row (tracks renumbered per lap): the held records never
    grow beyond about an interval plus the lookback, and every lap counts the same vehicles."""
    one = _frames(truth)
    lap_s = len(one) / truth.scene.fps
    live = LiveTrafficStats(
        "sample", _geometry(), STATS.model_copy(update={"interval_s": lap_s}), lambda rows: None, start=START
    )
    per_lap: list[Counter[tuple[str, str]]] = []
    live.sink = lambda rows: per_lap.append(
        Counter({(r.lane_id, r.vehicle_class): r.count for r in rows if r.vehicle_class != "all" and r.count})
    )
    held = []
    for lap in range(8):
        for r in one:
            d = r.detections
            ids = None if d.tracker_id is None else d.tracker_id + 1000 * lap
            f = Frame(
                image=r.frame.image,
                index=r.frame.index + lap * len(one),
                timestamp=r.frame.timestamp + lap * lap_s,
                source_id="sample",
            )
            live.submit(_result(f, Detections(d.xyxy, d.confidence, d.class_id, ids)))
            held.append(len(live._records))
    live.close()
    per_frame = sum(len(r.detections) for r in one) / len(one)
    window_frames = (lap_s + live.lookback_s + live.settle_s) * truth.scene.fps
    assert max(held) < 1.5 * per_frame * window_frames
    assert len(per_lap) == 8 and all(c == per_lap[0] for c in per_lap) and sum(per_lap[0].values()) == 10


def test_network_file_opens_the_stage_and_rows_reach_the_store(truth: GroundTruth, tmp_path: Path) -> None:
    import yaml

    from detector.store.services import open_embedded_store

    net = tmp_path / "net.yaml"
    net.write_text(
        yaml.safe_dump({"statistics": [{"camera_id": "sample", "stats": STATS.model_dump(mode="json")}]})
    )
    cfg = load_camera_config(ROOT / "configs" / "sample_scene.yaml")
    net.write_text(
        yaml.safe_dump({"statistics": [{"camera_id": cfg.camera_id, "stats": STATS.model_dump(mode="json")}]})
    )
    (tmp_path / "trusted").mkdir()
    store = open_embedded_store(tmp_path / "store", tmp_path / "trusted")
    try:
        stage = open_live_stats(net, cfg, store.traffic.save, START)
        assert stage is not None
        for r in _frames(truth):
            stage.submit(r)
        stage.close()
        served = store.traffic.query(camera_id=cfg.camera_id)
        assert counts_of(served) == truth_counts(truth)  # type: ignore[arg-type]
    finally:
        store.close()
