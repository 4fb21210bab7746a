"""Detection in a crop (detector/geometry/crop.py, OnnxYoloDetector.detect_region): the crop's shape,
the boxes it keeps, and that a crop finds what the whole frame finds inside it (real UA-DETRAC frames)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detector.geometry.crop import Crop, plan_crop, union_box, whole_in_crop
from detector.types import Frame
from tests.conftest import shared_path
from tests.detect.support import iou


@pytest.mark.parametrize(
    "region",
    [
        (300.0, 400.0, 340.0, 430.0),
        (0.0, 0.0, 50.0, 50.0),
        (900.0, 500.0, 960.0, 540.0),
        (100.0, 50.0, 700.0, 450.0),
    ],
)
def test_a_crop_holds_its_region_inside_the_frame_at_the_whole_frames_scale(region):
    crop = plan_crop(region, (960, 540), (640, 384))
    x0, y0, x1, y1 = region
    assert 0 <= crop.x0 <= x0 and 0 <= crop.y0 <= y0 and x1 <= crop.x1 <= 960 and y1 <= crop.y1 <= 540
    w, h = crop.input_size
    assert w % 32 == 0 and h % 32 == 0 and w <= 640 and h <= 384
    # the network sees the crop at the scale a whole 960x540 frame is seen (640/960), within rounding
    assert w / (crop.x1 - crop.x0) == pytest.approx(640 / 960, rel=0.02)
    assert h / (crop.y1 - crop.y0) == pytest.approx(640 / 960, rel=0.02)
    assert crop.area_share == pytest.approx((crop.x1 - crop.x0) * (crop.y1 - crop.y0) / (960 * 540))


def test_boxes_cut_by_an_inner_edge_are_dropped_but_not_at_the_frames_edge():
    crop = Crop(100, 0, 400, 300, (192, 192), (960, 540))  # its top edge is the frame's
    boxes = np.array(
        [
            [150, 100, 200, 150],  # well inside
            [99, 100, 150, 150],  # crosses the left edge
            [300, 260, 350, 299],  # touches the bottom edge (within 3 px)
            [200, 0, 250, 40],  # on the frame's top edge: whole as far as the frame shows it
        ],
        dtype=np.float32,
    )
    assert whole_in_crop(boxes, crop).tolist() == [True, False, False, True]
    assert union_box([(1, 2, 3, 4), (0, 5, 2, 9)]) == (0, 2, 3, 9)
    with pytest.raises(ValueError):
        union_box([])


def test_a_crop_finds_the_confident_vehicles_the_whole_frame_finds_inside_it(yolo_detector):
    """On the 9 UA-DETRAC frames, three regions each (far lanes, left kerb, near lanes): a crop is seen
    without the rest of the frame, and YOLO11's attention block sees the whole input, so confidences
    move; the confident whole-frame boxes (>= 0.5) must be found in the crop all the same."""
    folder = shared_path("ua-detrac-evadb-sample", "MVI_20011")
    found = total = 0
    for path in sorted(folder.glob("img*.jpg")):
        image = cv2.imread(str(path))
        assert image is not None, path
        h, w = image.shape[:2]
        frame = Frame(image=image, index=0, timestamp=0.0, source_id="detrac")
        whole = yolo_detector.detect(frame)
        for fx0, fy0, fx1, fy1 in [(0.45, 0.05, 0.85, 0.35), (0.1, 0.3, 0.45, 0.7), (0.55, 0.6, 0.85, 1.0)]:
            crop = yolo_detector.plan_crop((w * fx0, h * fy0, w * fx1, h * fy1), w, h)
            assert crop.area_share < 0.5
            part = yolo_detector.detect_region(frame, crop)
            assert whole_in_crop(part.xyxy, crop).all()  # nothing cut by the crop's edges is reported
            confident = whole.xyxy[whole_in_crop(whole.xyxy, crop, edge=12.0) & (whole.confidence >= 0.5)]
            total += len(confident)
            found += sum(max((iou(box, b) for b in part.xyxy), default=0.0) > 0.7 for box in confident)
    assert total >= 40, "the regions hold many vehicles of this busy road"
    assert found >= 0.95 * total, f"the crops found {found} of {total} confident whole-frame boxes"
    assert yolo_detector.supports_regions
