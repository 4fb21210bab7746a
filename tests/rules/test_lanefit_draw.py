"""Calibration from lane markings and `detector calibrate`."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from detector.cli.rules import calibrate
from detector.geometry import calibrate as fit_homography
from detector.rules.lanefit import LaneFit, fit_lane_camera

ROOT = Path(__file__).resolve().parents[2]


def test_lane_camera_fit_recovers_a_known_camera():
    truth = LaneFit(
        params=(900.0, np.radians(12), np.radians(-8), np.radians(1.5), 9.0, 1.0, -25.0),
        principal_point=(320, 240),
        rms_px=0.0,
        n_points=0,
    )
    period, lane = 12.0, 3.5
    dash = truth.project([(lane, k * period) for k in range(7)])
    rng = np.random.default_rng(3)
    dash = dash + rng.normal(0, 0.3, dash.shape)
    left = truth.project([(0.0, y) for y in np.linspace(2, 70, 12)])
    right = truth.project([(2 * lane, y) for y in np.linspace(2, 70, 12)])
    fit = fit_lane_camera(
        [tuple(p) for p in dash], lane, period, [(0.0, left.tolist()), (2 * lane, right.tolist())], (320, 240)
    )
    assert fit.rms_px < 1.0
    img, world = fit.grid([0, lane, 2 * lane], [0, 12, 24, 36, 48, 60])
    homo = fit_homography(img, world)
    # distances measured through the fitted calibration match the truth within 2%
    a, b = truth.project([(lane, 6.0), (lane, 54.0)])
    wa, wb = homo.image_to_world([a, b])
    assert np.linalg.norm(wb - wa) == pytest.approx(48.0, rel=0.02)


def test_calibrate_command_writes_png(tmp_path):
    cfg = ROOT / "configs" / "sample_scene.yaml"
    if not (ROOT / "sample_videos" / "sample_scene.mp4").exists():
        pytest.skip("sample scene not generated")
    out = tmp_path / "cal.png"
    res = CliRunner().invoke(calibrate, ["--config", str(cfg), "--frame", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "reprojection RMS" in res.output
    img = cv2.imread(str(out))
    assert img is not None and img.shape == (540, 960, 3)
