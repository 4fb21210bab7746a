"""Every camera config in configs/ parses and validates (zones, calibration, signal) and builds a scene."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from detector.config import load_camera_config
from detector.config.riders import AssociationConfig, HelmetConfig
from detector.config.rules import RulesSettings, SpeedLimitConfig
from detector.geometry import Scene

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.y*ml")) + sorted(
    (Path(__file__).resolve().parents[1] / "configs").glob("*.json")
)


def test_there_are_configs():
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_parses_and_builds_its_scene(path):
    cfg = load_camera_config(path)
    scene = Scene.from_config(cfg.rules)
    if cfg.rules.calibration is not None:
        assert scene.homography is not None
        assert scene.homography.rms_error_m <= cfg.rules.calibration.max_reprojection_error_m
    for lane in cfg.rules.zones.lanes:
        if lane.stop_line is not None:
            assert lane.stop_line in scene.stop_lines


@pytest.mark.parametrize(
    ("model", "values", "field"),
    [
        (RulesSettings, {"red_light": {"grace_s": -0.1}}, "grace_s"),
        (RulesSettings, {"wrong_way": {"window_s": 0}}, "window_s"),
        (RulesSettings, {"solid_line": {"confirm_frames": 0}}, "confirm_frames"),
        (SpeedLimitConfig, {"limit_kmh": 0}, "limit_kmh"),
        (HelmetConfig, {"min_head_px": 0}, "min_head_px"),
        (HelmetConfig, {"min_sharpness": -1}, "min_sharpness"),
        (HelmetConfig, {"max_samples": 0}, "max_samples"),
        (AssociationConfig, {"release_frames": 0}, "release_frames"),
    ],
)
def test_shared_bounded_fields_reject_out_of_range_values(model, values, field):
    """The rules' and riders' bounded numbers (fields.Positive, NonNegative, Count) still reject bad values."""
    with pytest.raises(ValidationError, match=field):
        model.model_validate(values)
