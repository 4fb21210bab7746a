"""The text-line fallback finds plates that platedet misses (on the sample scene's real car photos)."""

import cv2
import numpy as np
import pytest

from detector.config import PlatesConfig
from detector.plates.reader import PlateReader, crop_box
from detector.plates.textdet import TextLineDetector
from detector.sample.groundtruth import load_ground_truth
from tests.conftest import REPO
from tests.detect.support import iou


@pytest.fixture(scope="module")
def scene():
    truth = load_ground_truth(REPO / "sample_videos" / "ground_truth.json")
    cap = cv2.VideoCapture(str(REPO / "sample_videos" / "sample_scene.mp4"))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    return truth, frames


def test_text_lines_cover_the_plate_and_read_right(scene):
    truth, frames = scene
    det = TextLineDetector()
    reader = PlateReader.from_config(PlatesConfig(), with_detector=False)
    checked = 0
    for vehicle in truth.vehicles:
        box = next(b for b in vehicle.boxes if b.visible > 0.99 and b.plate_box and b.x2 - b.x1 > 150)
        image = frames[box.frame]
        x1, y1 = int(box.x1), int(box.y1)
        crop = image[y1 : int(box.y2), x1 : int(box.x2)]
        lines = det.find(crop)
        shifted = [(b.xyxy[0] + x1, b.xyxy[1] + y1, b.xyxy[2] + x1, b.xyxy[3] + y1) for b in lines]
        best = max(shifted, key=lambda s: iou(s, box.plate_box))
        assert iou(best, box.plate_box) > 0.4, f"vehicle {vehicle.id}: no text line on the plate"
        obs = reader.read_crop(crop_box(image, best), box.frame)
        assert obs is not None and obs.text == vehicle.plate, (vehicle.id, obs)
        checked += 1
    assert checked == len(truth.vehicles)
    det.close()
    reader.close()


def test_blank_crop_has_no_text_lines():
    det = TextLineDetector()
    assert det.find(np.full((120, 200, 3), 90, np.uint8)) == []
    assert det.find(np.zeros((4, 4, 3), np.uint8)) == []
