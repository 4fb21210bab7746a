import numpy as np
import pytest

from detector.types import Detections, Frame, ShapeError, Track, TrackPoint
from tests.track.support import tracker_ids


def dets(n: int) -> Detections:
    xyxy = np.array([[10 * i, 0, 10 * i + 5, 8] for i in range(n)], np.float32)
    return Detections(
        xyxy=xyxy,
        confidence=np.linspace(0.3, 0.9, n, dtype=np.float32),
        class_id=np.arange(n, dtype=np.int64) % 3,
        data={"k": np.arange(n)},
    )


def test_shape_errors_name_expected_and_actual():
    with pytest.raises(ShapeError, match=r"expected shape \(N, 4\), got \(3, 3\)"):
        Detections(
            xyxy=np.zeros((3, 3), np.float32),
            confidence=np.zeros(3, np.float32),
            class_id=np.zeros(3, np.int64),
        )
    with pytest.raises(ShapeError, match=r"confidence: expected length 3 .*got 2"):
        Detections(
            xyxy=np.zeros((3, 4), np.float32),
            confidence=np.zeros(2, np.float32),
            class_id=np.zeros(3, np.int64),
        )
    with pytest.raises(ShapeError, match=r"data\['k'\]: expected length 2"):
        Detections(
            xyxy=np.zeros((2, 4), np.float32),
            confidence=np.zeros(2, np.float32),
            class_id=np.zeros(2, np.int64),
            data={"k": np.array([1])},
        )


def test_mask_filtering_keeps_arrays_parallel():
    d = dets(5)
    sub = d[d.confidence > 0.7]
    assert len(sub) == 2
    assert sub.data["k"].tolist() == [3, 4]
    assert sub.xyxy[:, 0].tolist() == [30, 40]
    assert tracker_ids(sub).tolist() == [-1, -1]
    with pytest.raises(ShapeError, match="expected length 5, got 4"):
        d[np.ones(4, bool)]


def test_bottom_center_and_empty():
    d = dets(2)
    assert d.bottom_center.tolist() == [[2.5, 8.0], [12.5, 8.0]]
    e = Detections.empty()
    assert len(e) == 0 and e.bottom_center.shape == (0, 2)
    assert len(Detections.merge([d, e, d])) == 4


def test_frame_validates_image():
    with pytest.raises(ShapeError, match=r"\(H, W, 3\)"):
        Frame(image=np.zeros((4, 4), np.uint8), index=0, timestamp=0.0, source_id="x")


def test_track_order_and_majority_class():
    t = Track(track_id=1)
    for i, cls in enumerate([2, 2, 7, 2]):
        t.append(
            TrackPoint(frame_index=i, timestamp=i / 10, xyxy=(0, 0, 4, 10), confidence=0.9, class_id=cls)
        )
    assert t.class_name == "car"
    assert t.anchors().tolist()[0] == [2.0, 10.0]
    with pytest.raises(ValueError, match="not after"):
        t.append(TrackPoint(frame_index=2, timestamp=0.2, xyxy=(0, 0, 1, 1), confidence=0.5, class_id=2))


def test_majority_is_order_free_and_gives_ties_to_the_smallest_value() -> None:
    from collections import Counter

    from detector.types import majority

    assert majority([3, 2, 3, 2, 3]) == (3, 0.6)
    assert majority([3, 2, 2, 3]) == (2, 0.5) == majority([2, 3, 3, 2])  # tie: car (2) over motorcycle (3)
    assert majority(["truck", "bus", "bus", "truck"])[0] == "bus"
    assert majority(Counter({7: 4, 2: 1})) == (7, 0.8) == majority({2: 1, 7: 4})
    with pytest.raises(ValueError):
        majority([])


def test_a_track_class_is_its_majority_with_ties_to_the_smaller_id() -> None:
    t = Track(4)
    for i, cls in enumerate([3, 2, 3, 2, 7]):  # a tie between car (2) and motorcycle (3), one truck frame
        t.append(TrackPoint(i, i / 10, (0.0, 0.0, 10.0, 10.0), 0.9, cls))
    assert t.class_name == "car"
    t.append(TrackPoint(5, 0.5, (0.0, 0.0, 10.0, 10.0), 0.9, 3))
    assert t.class_name == "motorcycle"
