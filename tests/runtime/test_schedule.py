"""Where the detection schedule keeps the detector at full rate: only where a rule may judge a track,
and at a stop line only while the signal is not green. Geometry from configs/ua_detrac_intersection.yaml
(rules only on the near approach: stop line y = 374 from x = 262 to 486, two lanes below it)."""

from __future__ import annotations

from typing import Any

import numpy as np
from shapely.geometry import Point

from detector.config import RuntimeConfig, load_camera_config
from detector.geometry import Scene
from detector.geometry.crop import plan_crop
from detector.runtime.schedule import DetectionScheduler, judged_region
from detector.signals import Phase
from detector.types import Track, TrackPoint
from tests.conftest import REPO, sample_violation_types

DETRAC = REPO / "configs" / "ua_detrac_intersection.yaml"
SAMPLE = REPO / "configs" / "sample_scene.yaml"


def _scene(path=DETRAC) -> Scene:
    cfg = load_camera_config(path)
    return Scene.from_config(cfg.rules, cfg.rules.image_size)


def _track(tid: int, anchors: list[tuple[float, float]], fps: float = 25.0) -> Track:
    pts = [
        TrackPoint(
            frame_index=i, timestamp=i / fps, xyxy=(x - 20, y - 30, x + 20, y), confidence=0.9, class_id=2
        )
        for i, (x, y) in enumerate(anchors)
    ]
    return Track(track_id=tid, points=pts)


def _detected(s: DetectionScheduler, n: int, **kw: Any) -> int:
    return [s.decide(i, **kw).detect for i in range(n)].count(True)


def test_a_young_track_forces_detection_only_where_a_rule_may_judge_it():
    cfg = RuntimeConfig(detect_every=2, full_rate_young_s=0.3)
    # far up the image, on the cross street no zone covers: every 2nd frame
    far = {1: _track(1, [(800.0, 120.0), (802.0, 120.0)])}
    assert _detected(DetectionScheduler(cfg, _scene()), 8, tracks=far, active=[1]) == 4
    # in south_lane1, below the stop line: every frame while it is young
    near = {2: _track(2, [(300.0, 500.0), (301.0, 496.0)])}
    assert _detected(DetectionScheduler(cfg, _scene()), 8, tracks=near, active=[2]) == 8
    # without zones the whole frame is judged
    assert _detected(DetectionScheduler(cfg, None), 8, tracks=far, active=[1]) == 8


def test_unconfirmed_tracks_force_detection_only_inside_the_judged_region():
    cfg = RuntimeConfig(detect_every=2)
    # predicted boxes; their ground points (bottom centres) at (800, 120), (50, 200) and (400, 450)
    outside = np.array([[780.0, 90.0, 820.0, 120.0], [30.0, 170.0, 70.0, 200.0]])
    inside = np.array([[780.0, 90.0, 820.0, 120.0], [380.0, 420.0, 420.0, 450.0]])
    assert _detected(DetectionScheduler(cfg, _scene()), 6, tracks={}, active=(), tentative=outside) == 3
    assert _detected(DetectionScheduler(cfg, _scene()), 6, tracks={}, active=(), tentative=inside) == 6


def test_a_stop_line_forces_full_rate_only_while_the_signal_is_not_green():
    cfg = RuntimeConfig(detect_every=3, full_rate_young_s=0.0, full_rate_margin_px=40)
    # an old track 20 px before the stop line, driving up the lane at 4 px a frame
    approach = {3: _track(3, [(370.0, 430.0 - 4 * i) for i in range(10)])}  # last anchor y = 394
    kw = {"tracks": approach, "active": [3]}
    assert _detected(DetectionScheduler(cfg, _scene()), 6, phase=Phase.GREEN, **kw) == 2
    for phase in (Phase.RED, Phase.AMBER, Phase.UNKNOWN, None):
        assert _detected(DetectionScheduler(cfg, _scene()), 6, phase=phase, **kw) == 6


def test_a_solid_line_forces_full_rate_whatever_the_signal():
    cfg = RuntimeConfig(detect_every=3, full_rate_young_s=0.0, full_rate_margin_px=40)
    # the sample scene: a track drifting left across solid_lane1_lane2 (x ~ 620 at y = 300)
    across = {4: _track(4, [(660.0 - 3 * i, 300.0) for i in range(10)])}
    assert (
        _detected(DetectionScheduler(cfg, _scene(SAMPLE)), 6, tracks=across, active=[4], phase=Phase.GREEN)
        == 6
    )


def test_the_judged_region_covers_every_zone_and_the_speed_region_with_the_margin():
    region = judged_region(_scene(), 40.0)
    assert region is not None
    assert region.contains(Point(400, 520))  # south_lane2
    assert region.contains(Point(374, 340))  # 34 px beyond the stop line
    assert not region.contains(Point(800, 120))
    sample = judged_region(_scene(SAMPLE), 40.0)  # the speed calibration's valid region reaches y = 30
    assert sample is not None and sample.contains(Point(480, 40))
    assert judged_region(None, 40.0) is None


def _planner(region, width, height):
    return plan_crop(region, (width, height), (640, 384))


def test_a_forced_detection_runs_on_a_crop_around_what_forces_it():
    cfg = RuntimeConfig(detect_every=2, full_rate_young_s=0.3, crop_max_share=0.5)
    s = DetectionScheduler(cfg, _scene(), _planner)
    near = {2: _track(2, [(300.0, 500.0), (301.0, 496.0)])}  # young, in south_lane1, box 40x30
    got = [s.decide(i, near, [2], frame_size=(960, 540)) for i in range(6)]
    assert [d.detect for d in got] == [True] * 6
    # periodic frames see the whole frame; the frames between are detected in a crop holding the box
    assert [d.crop is None for d in got] == [True, False] * 3
    crop = got[1].crop
    assert crop is not None and crop.x0 <= 281 and crop.x1 >= 321 and crop.y0 <= 466 and crop.y1 >= 496
    assert crop.area_share <= 0.5 and crop.input_size[0] % 32 == 0 and crop.input_size[1] % 32 == 0
    assert s.stats.cropped == 3 and s.stats.detected == 6


def test_a_crop_larger_than_the_share_allowed_is_the_whole_frame():
    cfg = RuntimeConfig(detect_every=2, full_rate_young_s=0.3, crop_max_share=0.05)
    s = DetectionScheduler(cfg, _scene(), _planner)
    near = {2: _track(2, [(300.0, 500.0), (301.0, 496.0)])}
    got = [s.decide(i, near, [2], frame_size=(960, 540)) for i in range(4)]
    assert all(d.detect and d.crop is None for d in got) and s.stats.cropped == 0


def test_no_crop_cuts_into_a_two_wheeler_or_a_person():
    """A crop overlapping a box the loop asks to avoid (a motorbike's, a person's) is not run: the whole
    frame is detected instead; a box elsewhere does not stop the crop."""
    cfg = RuntimeConfig(detect_every=2, full_rate_young_s=0.3, crop_max_share=0.5)
    near = {2: _track(2, [(300.0, 500.0), (301.0, 496.0)])}  # young car in south_lane1
    beside = np.array([[330.0, 470.0, 360.0, 520.0]])  # a motorbike next to it, inside its crop
    far = np.array([[900.0, 20.0, 940.0, 60.0]])  # one far away, top right
    s = DetectionScheduler(cfg, _scene(), _planner)
    got = [s.decide(i, near, [2], frame_size=(960, 540), crop_avoid=beside) for i in range(4)]
    assert all(d.detect and d.crop is None for d in got)
    assert s.stats.cropped == 0 and s.stats.crop_avoided == 3  # a whole frame detected is periodic again
    s = DetectionScheduler(cfg, _scene(), _planner)
    got = [s.decide(i, near, [2], frame_size=(960, 540), crop_avoid=far) for i in range(4)]
    assert [d.crop is None for d in got] == [True, False] * 2 and s.stats.crop_avoided == 0


def test_crop_avoid_classes_are_checked():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown classes"):
        RuntimeConfig(crop_avoid_classes=("motorbike",))


def test_the_sample_replayed_with_crops_finds_its_six_violations_and_carries_the_rest(tmp_path):
    """The whole sample with forced detections in crops: the ground truth's six violations, no other,
    and on crop frames the tracks outside the crop are carried (rows marked predicted), not lost."""
    from detector.runtime.loop import LoopOptions
    from detector.runtime.session import RunRequest, RunSession

    cfg = load_camera_config(SAMPLE)
    cfg = cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update={"crop_max_share": 0.5})})
    seen: dict[int, set[int]] = {}
    crops: set[int] = set()

    def on_result(r) -> None:
        assert r.detections.tracker_id is not None
        seen[r.frame.index] = set(r.detections.tracker_id.tolist())

    session = RunSession.open(
        RunRequest(
            cfg,
            SAMPLE,
            tmp_path,
            preview=False,
            evidence=False,
            store=False,
            loop=LoopOptions(on_result=on_result),
        )
    )
    real = session.built.pipeline.detector.detect_region  # type: ignore[attr-defined]

    def spy(frame, crop):
        crops.add(frame.index)
        return real(frame, crop)

    session.built.pipeline.detector.detect_region = spy  # type: ignore[attr-defined]
    try:
        summary = session.run()
    finally:
        session.close()
    assert sorted(v.violation_type.value for v in summary.violations) == sample_violation_types()
    schedule = summary.runtime["schedule"]
    assert isinstance(schedule, dict) and schedule["cropped"] == len(crops) > 10
    # a track seen just before and just after a crop frame is in that frame too (detected or carried)
    for i in crops:
        if i - 1 in seen and i + 1 in seen:
            assert (seen[i - 1] & seen[i + 1]) <= seen[i], f"frame {i}: a track vanished on a crop frame"
