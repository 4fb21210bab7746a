"""Every camera config in configs/ parses and validates (zones, calibration, signal) and builds a scene."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.config import load_camera_config
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
