"""Scene geometry: validation errors, signed distances, homography calibration and reprojection."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from detector.config import RulesConfig
from detector.errors import ConfigError
from detector.geometry import Scene, calibrate
from tests.rules.synthetic import reference_rules_config


def _raw():
    return reference_rules_config().model_dump()


def _expect_error(raw, *fragments):
    """The config as the engine takes it: validated (fields, ids, references, bounds), then its scene
    built (shapes, the homography fit)."""
    with pytest.raises((ValidationError, ConfigError)) as exc:
        Scene.from_config(RulesConfig.model_validate(raw))
    for frag in fragments:
        assert frag in str(exc.value)


def test_reference_scene_is_valid():
    scene = Scene.from_config(reference_rules_config())
    assert list(scene.stop_lines) == ["S1"] and [lane.id for lane in scene.lanes] == ["L1", "M1"]


def test_bow_tie_lane_polygon_rejected():
    raw = _raw()
    raw["zones"]["lanes"][0]["polygon"] = [(100, 400), (500, 790), (500, 400), (100, 790)]
    _expect_error(raw, "lanes[L1]", "not valid")


def test_shape_checks_run_where_the_scene_is_built():
    raw = _raw()
    raw["zones"]["lanes"][0]["polygon"] = [(100, 400), (500, 790), (500, 400), (100, 790)]
    cfg = RulesConfig.model_validate(raw)  # the schema needs no shapely: a bow tie is a list of points
    with pytest.raises(ConfigError, match=r"lanes\[L1\]: polygon is not valid"):
        Scene.from_config(cfg)


def test_structural_checks_run_when_the_config_loads():
    raw = _raw()
    raw["zones"]["lanes"][1]["stop_line"] = "S9"
    with pytest.raises(ValidationError, match="unknown stop line 'S9'"):
        RulesConfig.model_validate(raw)


def test_lane_referencing_unknown_stop_line():
    raw = _raw()
    raw["zones"]["lanes"][1]["stop_line"] = "S9"
    _expect_error(raw, "lanes[M1]", "unknown stop line 'S9'")


def test_zone_outside_image():
    raw = _raw()
    raw["zones"]["no_stopping_zones"][0]["polygon"] = [(100, 100), (1200, 100), (1200, 300), (100, 300)]
    _expect_error(raw, "no_stopping_zones[N1]", "outside the 1000x800 image")


def test_scene_checks_image_size_given_at_runtime():
    raw = _raw()
    raw["image_size"] = None
    cfg = RulesConfig.model_validate(raw)
    with pytest.raises(ConfigError, match="outside the 640x480 image"):
        Scene.from_config(cfg, (640, 480))


def test_duplicate_ids_rejected():
    raw = _raw()
    raw["zones"]["lanes"][1]["id"] = "L1"
    _expect_error(raw, "duplicate id 'L1'")


def test_forward_point_on_line_rejected():
    raw = _raw()
    raw["zones"]["stop_lines"][0]["forward_point"] = (500, 400)
    _expect_error(raw, "stop_lines[S1]", "forward_point")


def test_unknown_vehicle_class_rejected():
    raw = _raw()
    raw["zones"]["lanes"][1]["allowed_classes"] = ["scooter"]
    _expect_error(raw, "lanes[M1]", "unknown classes")


def test_fewer_than_four_calibration_points():
    raw = _raw()
    raw["calibration"]["image_points"] = raw["calibration"]["image_points"][:3]
    raw["calibration"]["world_points"] = raw["calibration"]["world_points"][:3]
    _expect_error(raw, "calibration", "at least 4")


def test_collinear_calibration_points():
    raw = _raw()
    raw["calibration"]["image_points"] = [(100, 100), (200, 200), (300, 300), (400, 400)]
    raw["calibration"]["world_points"] = [(0, 0), (0, 10), (10, 10), (10, 0)]
    _expect_error(raw, "collinear")


def test_speed_limit_without_calibration_rejected():
    raw = _raw()
    raw["calibration"] = None
    _expect_error(raw, "calibration is missing")


def test_stop_line_signed_distance_positive_forward():
    scene = Scene.from_config(reference_rules_config())
    d = scene.stop_lines["S1"].signed_distance([(300, 500), (300, 300), (300, 400)])
    assert d.tolist() == pytest.approx([-100, 100, 0])
    feats = scene.features([(300, 500), (950, 300)])
    assert feats.stop_d[:, 0].tolist() == pytest.approx(
        [-100, np.hypot(50, 100)]
    )  # beyond the end: to the end point
    assert feats.stop_within[:, 0].tolist() == [True, False]
    assert feats.lane_idx.tolist() == [0, -1]


def _perspective_h():
    # world (metres, road plane) -> image: a camera looking down a road
    return np.array([[40.0, -12.0, 480.0], [0.0, -6.0, 500.0], [0.0, -0.02, 1.0]])


def _project(H, pts):
    p = np.c_[pts, np.ones(len(pts))] @ H.T
    return p[:, :2] / p[:, 2:3]


def test_homography_recovers_known_transform_and_reports_error():
    H = _perspective_h()
    world = np.array([(x, y) for x in (-5.0, 0.0, 5.0) for y in (0.0, 10.0, 20.0, 30.0)])
    image = _project(H, world)
    rng = np.random.default_rng(1)
    noisy = image + rng.normal(0, 1.0, image.shape)
    homo = calibrate(noisy.tolist(), world.tolist())
    assert 0.2 < homo.rms_error_px < 2.0
    assert 0.0 < homo.rms_error_m < 1.0
    back = homo.image_to_world(image)
    assert np.abs(back - world).max() < 1.0
    # round trip
    assert np.abs(homo.world_to_image(homo.image_to_world(image)) - image).max() < 1e-6


def test_homography_exact_with_four_points():
    H = _perspective_h()
    world = np.array([(-5.0, 0.0), (5.0, 0.0), (5.0, 30.0), (-5.0, 30.0)])
    homo = calibrate(_project(H, world).tolist(), world.tolist())
    assert homo.rms_error_m < 1e-6
    # the assumed point accuracy still gives a non-zero scale uncertainty
    assert homo.scale_rel_uncertainty > 0


def test_homography_rejects_large_error():
    world = np.array([(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0), (5.0, 5.0)])
    image = np.array(
        [(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0), (80.0, 20.0)]
    )  # last point wrong
    with pytest.raises(ConfigError, match="reprojection error"):
        calibrate(image.tolist(), world.tolist(), max_rms_error_m=0.5)


def test_dwell_limit_must_fit_in_history():
    raw = _raw()
    raw["rules"]["no_stopping"] = {"max_dwell_s": 90.0}
    _expect_error(raw, "max_dwell_s", "history_s")
