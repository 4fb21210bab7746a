"""The stop-line finder (`detector.rules.stopline_find`): a generated road, the Roboflow VN frames' human
stop-line boxes, and the configured stop lines of two real clips.

Floors sit a few points under the figures of benchmarks/RESULTS.md ("Roboflow frames: ... the stop
line"; benchmarks/bench_stopline.py, 2026-12-07): held-out part 43 of 90 boxes detected (47.8%), 43 of 60
suggestions right (71.7%), |dy| median 0.0022 of the image height.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.rules.stopline_find import StopLineSearch, find_stop_lines, vertical_offset
from tests.conftest import shared_path

REPO = Path(__file__).resolve().parents[2]


def road(seed: int, band_y: float, tilt_deg: float = 0.0, band: bool = True) -> np.ndarray:
    """A 720x1280 grey road with sensor noise, dashed lane lines along the road (converging to a
    vanishing point), a zebra crossing just above band_y, and (with `band`) a white band across the
    road at band_y (at x = 640) tilted by tilt_deg."""
    rng = np.random.default_rng(seed)
    img = np.full((720, 1280, 3), 95, np.uint8)
    img = np.clip(img.astype(np.int16) + rng.normal(0, 4, img.shape).astype(np.int16), 0, 255).astype(
        np.uint8
    )
    vp = (640, 150)
    for x_bottom in (160, 480, 800, 1120):  # lane lines, dashed
        for t0 in np.arange(0.3, 1.0, 0.12):
            p = (int(vp[0] + (x_bottom - vp[0]) * t0), int(vp[1] + (720 - vp[1]) * t0))
            q = (int(vp[0] + (x_bottom - vp[0]) * (t0 + 0.06)), int(vp[1] + (720 - vp[1]) * (t0 + 0.06)))
            cv2.line(img, p, q, (225, 225, 225), 6)
    s = np.tan(np.radians(tilt_deg))
    for x in range(300, 980, 44):  # zebra bars, 30 px above the band wherever it is
        y = int(round(band_y + s * (x + 11 - 640)))
        cv2.rectangle(img, (x, y - 90), (x + 22, y - 35), (230, 230, 230), -1)
    if band:
        p = (250, int(round(band_y + s * (250 - 640))))
        q = (1030, int(round(band_y + s * (1030 - 640))))
        cv2.line(img, p, q, (235, 235, 235), 9)
    return img


@pytest.mark.parametrize(("band_y", "tilt"), [(430.0, 0.0), (520.0, 6.0), (380.0, -9.0)])
def test_finds_the_band_across_a_generated_road(band_y: float, tilt: float):
    found = find_stop_lines(road(1, band_y, tilt))
    assert found, "no band found"
    best = found[0]
    assert abs(best.y_at(640) - band_y) <= 3
    assert abs(best.tilt_deg - tilt) <= 2.5
    assert best.p1[0] < 300 and best.p2[0] > 980  # it spans the painted length
    assert 0.05 <= best.thickness_px / 9 <= 2.5


def test_no_band_on_a_road_without_one_and_not_the_zebra():
    assert find_stop_lines(road(2, 430.0, band=False)) == []


def test_region_and_scale_and_bad_input():
    img = road(3, 430.0)
    region = np.ones(img.shape[:2], bool)
    region[:, :] = False  # nothing allowed: nothing found
    assert find_stop_lines(img, region) == []
    small = find_stop_lines(img, params=StopLineSearch(work_long_side=640))  # worked at half size
    assert small and abs(small[0].y_at(640) - 430) <= 4  # coordinates are the input image's
    with pytest.raises(ValueError, match="BGR"):
        find_stop_lines(img[..., 0])
    with pytest.raises(ValueError, match="region shape"):
        find_stop_lines(img, np.ones((10, 10), bool))


def test_vertical_offset_to_a_configured_polyline():
    best = find_stop_lines(road(4, 430.0))[0]
    assert vertical_offset(best, [[200, 420], [1100, 420]]) == pytest.approx(10, abs=3)
    assert vertical_offset(best, [[1200, 420], [1270, 420]]) is None  # no shared x-range


def test_roboflow_held_out_boxes():
    data = shared_path("vn-redlight-stopline-frames-roboflow", "test")
    sys.path.insert(0, str(REPO))
    from benchmarks.bench_stopline import score

    tallies, _, _ = score(data, StopLineSearch(), 0.02, None, ("held-out",))
    t = tallies["held-out"]
    assert t.frames == 103 and t.boxes == 90
    assert t.detected / t.boxes >= 0.43
    assert t.detected / (t.detected + t.false) >= 0.65
    assert float(np.median(t.dists)) <= 0.004


def frame_at(video: Path, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(video))
    try:
        for _ in range(index + 1):
            ok, img = cap.read()
            assert ok, f"{video}: ended before frame {index}"
    finally:
        cap.release()
    return img


@pytest.mark.parametrize(
    ("clip", "frame", "config", "max_px"),
    [
        (("vn-redlight-cctv-davidbeckiet", "test2.mp4"), 300, "vn_davidbeckiet_redlight.yaml", 6),
        (("vn-cctv-bkav-aicam", "traffic.mp4"), 150, "vn_bkav_hanoi_stopline.yaml", 8),
    ],
)
def test_configured_stop_lines_agree_with_the_finder(clip, frame, config, max_px):
    """The stop lines drawn by eye on the real clips lie within a few px of the finder's best band."""
    from detector.config import load_camera_config

    video = shared_path(*clip)
    cfg = load_camera_config(REPO / "configs" / config)
    found = find_stop_lines(frame_at(video, frame))
    assert found
    offsets = [vertical_offset(c, cfg.rules.zones.stop_lines[0].points) for c in found[:2]]
    near = [abs(d) for d in offsets if d is not None]
    assert near and min(near) <= max_px


def test_calibrate_suggests_the_stop_line(tmp_path):
    """`detector calibrate --suggest-stop-line` on the DavidBeckiet clip: the suggestion is printed with
    its distance to the configured line, and drawn."""
    from click.testing import CliRunner

    from detector.cli.rules import calibrate

    shared_path("vn-redlight-cctv-davidbeckiet", "test2.mp4")
    out = tmp_path / "cal.png"
    cfg = REPO / "configs" / "vn_davidbeckiet_redlight.yaml"
    res = CliRunner().invoke(
        calibrate, ["--config", str(cfg), "--frame", "0", "--out", str(out), "--suggest-stop-line"]
    )
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.output.splitlines() if ln.startswith("stop-line suggestion S1"))
    offset = float(line.rsplit("stop_line: ", 1)[1].split(" px")[0])
    assert abs(offset) <= 6
    picture = cv2.imread(str(out))
    assert picture is not None and picture.shape == (720, 1620, 3)
