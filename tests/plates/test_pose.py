"""The angle a plate is seen at (detector/plates/pose.py), measured on real openalpr crops turned by
known amounts in software, and its part in picking a track's frames."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from detector.config import PlatesConfig
from detector.plates.ocr import PlateOcr
from detector.plates.pose import NO_POSE_READ_RATE, PlatePose, frontality, plate_pose
from detector.plates.reader import PlateReader
from detector.plates.vote import PlateObservation, plate_quality, select_best
from tests.plates.support import OPENALPR, image


def turned(img: np.ndarray, tilt_deg: float = 0.0, far_edge: float = 1.0) -> np.ndarray:
    """`img` seen turned: its right edge shortened to `far_edge` x its height (perspective), then
    rotated `tilt_deg` clockwise on screen; the canvas grows to hold it, edges replicated."""
    h, w = img.shape[:2]
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    nw = w * (1 + far_edge) / 2
    seen = np.array([[0, 0], [nw, h * (1 - far_edge) / 2], [nw, h * (1 + far_edge) / 2], [0, h]], np.float32)
    a = math.radians(tilt_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=np.float32)
    seen = seen @ rot.T
    seen -= seen.min(axis=0)
    size = tuple(int(math.ceil(v)) for v in seen.max(axis=0))
    m = cv2.getPerspectiveTransform(corners, seen.astype(np.float32))
    return cv2.warpPerspective(img, m, size, borderMode=cv2.BORDER_REPLICATE)


def spread_crops(k: int) -> list[np.ndarray]:
    """Every n-th crop of the openalpr US set, `k` in all: no picking of crops that measure well."""
    folder = OPENALPR / "seg_and_ocr" / "usimages"
    names = sorted(p.name for p in folder.glob("*.png")) if folder.is_dir() else []
    if not names:
        pytest.skip(f"real test data not found: {folder}")
    return [image(folder / names[int(i * len(names) / k)]) for i in range(k)]


@pytest.mark.parametrize("tilt", [-20.0, -8.0, 0.0, 5.0, 12.0, 25.0])
def test_tilt_is_measured(tilt: float) -> None:
    crops = spread_crops(30)
    poses = [plate_pose(turned(crop, tilt)) for crop in crops]
    found = [p for p in poses if p is not None]
    assert len(found) >= 0.85 * len(crops), f"a line of characters on {len(found)} of {len(crops)}"
    errors = np.array([abs(p.tilt_deg - tilt) for p in found])
    assert np.median(errors) < 1.0 and np.percentile(errors, 90) < 2.5, errors
    # turned in the plane only: no foreshortening
    assert np.median([p.height_ratio for p in found]) > 0.9


def test_foreshortening_is_measured() -> None:
    medians = []
    for far in (1.0, 0.8, 0.6):
        poses = [p for crop in spread_crops(30) if (p := plate_pose(turned(crop, 0.0, far))) is not None]
        assert len(poses) >= 25
        assert np.median([abs(p.tilt_deg) for p in poses]) < 1.5
        medians.append(float(np.median([p.height_ratio for p in poses])))
    # square on ~1; the glyph line spans most, not all, of the plate's width, so a little under-read
    assert medians[0] > 0.95 and medians[0] > medians[1] > medians[2], medians
    assert 0.75 < medians[1] < 0.9 and 0.55 < medians[2] < 0.75, medians


def test_frontality_falls_with_the_angle() -> None:
    level = PlatePose(0.0, 1.0, 7)
    assert level.frontality == pytest.approx(1.0)
    by_tilt = [PlatePose(t, 1.0, 7).frontality for t in (0, 10, 20, 30, 40)]
    assert all(a > b for a, b in zip(by_tilt, by_tilt[1:], strict=False))
    assert PlatePose(-20.0, 1.0, 7).frontality == pytest.approx(PlatePose(20.0, 1.0, 7).frontality)
    by_yaw = [PlatePose(0.0, r, 7).frontality for r in (1.0, 0.8, 0.6, 0.4)]
    assert all(a > b for a, b in zip(by_yaw, by_yaw[1:], strict=False))
    assert all(0.0 < f <= 1.0 for f in by_tilt + by_yaw)


def test_no_line_of_characters_no_pose() -> None:
    blank = np.full((60, 200, 3), 200, np.uint8)
    for crop in (blank, blank[:5], np.zeros((0, 0, 3), np.uint8)):
        assert plate_pose(crop) is None
        assert frontality(crop) == NO_POSE_READ_RATE < 1.0  # such a crop reads less often
    # specks of a textured crop seldom line up like characters
    rng = np.random.default_rng(4)
    noise = [rng.integers(0, 256, (h, 3 * h, 3), dtype=np.uint8) for h in (30, 60) for _ in range(20)]
    assert sum(plate_pose(crop) is not None for crop in noise) <= 0.2 * len(noise)


def test_a_square_on_frame_is_picked_over_a_turned_one() -> None:
    def obs(frame: int, front: float) -> PlateObservation:
        return PlateObservation(frame, "ABC123", "ABC123", "ABC123", 0.9, (0.9,) * 6, 1, True, "us",
                                sharpness=400.0, frontality=front)  # fmt: skip

    frames = [obs(1, 0.4), obs(2, 0.95), obs(3, 0.7)]
    assert [o.frame_index for o in select_best(frames, 2)] == [2, 3]
    assert plate_quality(40, 0.9, 400.0, 0.5) == pytest.approx(plate_quality(40, 0.9, 400.0) / 2)


def test_reader_records_the_angle(padded_ocr: PlateOcr) -> None:
    crop = image(OPENALPR / "seg_and_ocr" / "usimages" / "ca1564.png")
    reader = PlateReader(PlatesConfig(country="us", region="ca"), None, padded_ocr)
    square = reader.read_crop(crop)
    steep = reader.read_crop(turned(crop, 28.0))
    assert square is not None and steep is not None
    assert square.frontality > 0.9 > 0.6 > steep.frontality
    assert square.quality > steep.quality
