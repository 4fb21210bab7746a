"""The ignore mask: overlay areas whose detections are dropped before tracking (config, geometry, pipeline)."""

from __future__ import annotations

import numpy as np
import pytest

from detector.config import CameraConfig
from detector.configcheck import check_camera
from detector.detect.base import ModelInfo
from detector.errors import ConfigError
from detector.ignore import IgnoreMask
from detector.pipeline import Pipeline
from detector.types import Detections, Frame

BAR = [(0, 0), (74, 0), (74, 720), (0, 720)]


def camera(ignore, image_size=(1620, 720)) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "camera_id": "cam",
            "name": "test",
            "source": {"uri": "x.mp4"},
            "ignore": ignore,
            "rules": {"image_size": image_size},
        }
    )


def test_keep_is_false_only_for_boxes_centred_in_a_polygon():
    mask = IgnoreMask.from_polygons([BAR, [(1586, 0), (1620, 0), (1620, 720), (1586, 720)]])
    boxes = np.array(
        [
            [10, 100, 60, 160],  # centre (35, 130): in the status bar
            [50, 100, 150, 160],  # centre (100, 130): overlaps the bar, centre outside
            [700, 300, 800, 400],  # the road
            [1590, 10, 1615, 40],  # the scrollbar
        ],
        dtype=np.float32,
    )
    assert mask.keep(boxes).tolist() == [False, True, True, False]
    assert IgnoreMask().keep(boxes).all() and not IgnoreMask()


@pytest.mark.parametrize(
    "ignore,message",
    [
        ([{"id": "bar", "polygon": [(0, 0), (74, 0), (74, 800), (0, 800)]}], "outside the 1620x720 image"),
        ([{"id": "bar", "polygon": [(0, 0), (74, 720), (74, 0), (0, 720)]}], "not valid"),
        ([{"id": "bar", "polygon": BAR}, {"id": "bar", "polygon": BAR}], "duplicate id 'bar'"),
        ([{"id": "bar", "polygon": BAR, "colour": "grey"}], "Extra inputs are not permitted"),
    ],
)
def test_bad_ignore_zones_are_config_errors(ignore, message):
    with pytest.raises(ValueError, match=message):  # ids and bounds: the config; the polygon: the mask
        IgnoreMask.from_config(camera(ignore).ignore)


def test_the_config_needs_no_shapely_the_mask_checks_the_polygon():
    bow_tie = [{"id": "bar", "polygon": [(0, 0), (74, 720), (74, 0), (0, 720)]}]
    cfg = camera(bow_tie)  # a valid schema: the config checks ids and bounds only
    with pytest.raises(ConfigError, match=r"ignore\[bar\]: polygon is not valid"):
        IgnoreMask.from_config(cfg.ignore)
    with pytest.raises(ConfigError, match=r"ignore\[bar\]: polygon is not valid"):
        check_camera(cfg)


class ListDetector:
    """Gives fixed detections on every frame (a stand-in for YOLO: the mask is what is tested)."""

    model = ModelInfo(name="fixed", role="detector", sha256="0" * 64)

    def __init__(self, dets: Detections) -> None:
        self.dets = dets

    def detect(self, frame: Frame) -> Detections:
        return self.dets

    def close(self) -> None:
        pass


def test_pipeline_drops_masked_detections_before_tracking():
    dets = Detections(
        xyxy=np.array([[10, 300, 60, 380], [600, 300, 700, 400]], dtype=np.float32),  # status bar, road
        confidence=np.array([0.9, 0.9], dtype=np.float32),
        class_id=np.array([2, 2], dtype=np.int64),
    )
    cfg = camera([{"id": "bar", "polygon": BAR, "reason": "phone status bar"}])
    pipe = Pipeline(cfg, fps=30.0, detector=ListDetector(dets))
    image = np.zeros((720, 1620, 3), np.uint8)
    for i in range(5):
        result = pipe.process(Frame(image, i, i / 30, "cam"))
    pipe.finish()
    pipe.close()
    assert pipe.ignored_detections == 5
    assert len(result.detections) == 1 and result.detections.xyxy[0, 0] == 600
    assert [t.last.xyxy[0] for t in result.tracks.values()] == [600]


def test_calibrate_view_greys_the_ignore_areas():
    from detector.annotate.scene import calibration_view
    from detector.config import RulesConfig

    white = np.full((720, 1620, 3), 255, np.uint8)
    out = calibration_view(white, RulesConfig(image_size=(1620, 720)), None, [("bar", BAR)])
    assert (out[100, 30] < 200).all() and (out[100, 30] > 60).all()  # grey over the bar
    assert (out[620, 30] < 200).all() and (out[620, 30] > 60).all()  # (its name sits in its middle)
    assert (out[360, 800] == 255).all()  # the rest untouched
