"""Our ByteTrack (detector/track/): the assignment, the Kalman filter and the tracker's life cycle."""

import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from detector.config import TrackerConfig
from detector.track import ByteTracker
from detector.track.assign import iou_matrix, match, min_cost_assignment
from detector.track.kalman import BoxKalman, xyxy_to_z, z_to_xyxy
from detector.types import Detections
from tests.track.support import tracker_ids


def dets(*rows: tuple[float, float, float, float, float]) -> Detections:
    """Detections from (x1, y1, x2, y2, confidence) rows, all cars."""
    arr = np.array(rows, dtype=np.float32).reshape(-1, 5)
    return Detections(xyxy=arr[:, :4], confidence=arr[:, 4], class_id=np.full(len(arr), 2))


def box_at(x: float, conf: float = 0.9) -> tuple[float, float, float, float, float]:
    return (x, 100.0, x + 60.0, 140.0, conf)


@pytest.mark.parametrize("seed", range(4))
def test_assignment_is_optimal_like_scipy(seed):
    rng = np.random.default_rng(seed)
    for _ in range(300):
        n, m = rng.integers(1, 9, 2)
        cost = rng.normal(size=(n, m))
        if rng.uniform() < 0.3:
            cost = np.round(cost, 1)  # ties
        pairs = min_cost_assignment(cost)
        rows, cols = linear_sum_assignment(cost)
        assert len(pairs) == min(n, m)
        assert len({i for i, _ in pairs}) == len({j for _, j in pairs}) == len(pairs)
        assert sum(cost[i, j] for i, j in pairs) == pytest.approx(cost[rows, cols].sum(), abs=1e-9)


def brute_best(sim: np.ndarray, thr: float) -> float:
    n, m = sim.shape
    best = 0.0
    for k in range(1, min(n, m) + 1):
        for rows in itertools.combinations(range(n), k):
            for cols in itertools.permutations(range(m), k):
                pairs = list(zip(rows, cols, strict=True))
                if all(sim[r, c] >= thr for r, c in pairs):
                    best = max(best, sum(sim[r, c] - thr for r, c in pairs))
    return best


def test_match_makes_no_pair_below_the_threshold_and_is_optimal():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n, m = rng.integers(1, 5, 2)
        sim = rng.uniform(size=(n, m)) * (rng.uniform(size=(n, m)) < 0.6)
        pairs, left_rows, left_cols = match(sim, 0.3)
        assert all(sim[r, c] >= 0.3 for r, c in pairs)
        assert sorted([r for r, _ in pairs] + left_rows) == list(range(n))
        assert sorted([c for _, c in pairs] + left_cols) == list(range(m))
        assert sum(sim[r, c] - 0.3 for r, c in pairs) == pytest.approx(brute_best(sim, 0.3), abs=1e-9)


def test_iou_matrix():
    a = [[0, 0, 10, 10], [0, 0, 0, 0]]
    b = [[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]]
    np.testing.assert_allclose(iou_matrix(a, b), [[50 / 150, 1.0, 0.0], [0.0, 0.0, 0.0]])
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)


def test_kalman_learns_the_velocity_and_predicts_across_a_gap():
    kf = BoxKalman(fps=10)
    boxes = [[10.0 * i, 50, 10.0 * i + 40, 80] for i in range(25)]  # 10 px a frame: 100 px/s
    mean, cov = kf.initiate(xyxy_to_z(boxes[0]))
    for b in boxes[1:]:
        mean, cov = kf.predict(mean, cov, 0.1)
        mean, cov = kf.update(mean, cov, xyxy_to_z(b))
    assert mean[0, 4] == pytest.approx(100.0, rel=0.05) and abs(mean[0, 5]) < 2
    ahead, ahead_cov = kf.predict(mean, cov, 0.5)  # five frames without a detection
    np.testing.assert_allclose(z_to_xyxy(ahead)[0], [290, 50, 330, 80], atol=3)
    assert ahead_cov[0, 0, 0] > cov[0, 0, 0]  # less sure after a gap


def test_confident_detections_on_the_first_frame_are_tracked_at_once_later_ones_on_their_second():
    tracker = ByteTracker(TrackerConfig(), fps=10)
    first = tracker.assign(dets(box_at(0), box_at(300, 0.4)), 0.0)
    assert tracker_ids(first).tolist() == [0, -1]  # a weak box never starts a track
    second = tracker.assign(dets(box_at(5), box_at(500)), 0.1)
    assert tracker_ids(second).tolist() == [0, -1] and tracker.tentative == 1
    third = tracker.assign(dets(box_at(10), box_at(505)), 0.2)
    assert tracker_ids(third).tolist() == [0, 1] and tracker.tentative == 0
    assert tracker_ids(tracker.update(dets(box_at(15), box_at(510)), 0.3)).tolist() == [0, 1]


def test_an_unconfirmed_track_that_misses_is_dropped():
    tracker = ByteTracker(TrackerConfig(), fps=10)
    tracker.assign(Detections.empty(), 0.0)
    assert tracker_ids(tracker.assign(dets(box_at(0)), 0.1)).tolist() == [-1]
    assert tracker.tentative == 1
    tracker.assign(Detections.empty(), 0.2)
    assert tracker.tentative == 0 and tracker.track_count == 0
    assert tracker_ids(tracker.assign(dets(box_at(0)), 0.3)).tolist() == [-1]  # starts over


def test_low_confidence_boxes_keep_a_track_and_a_dropped_frame_is_aged_by_stream_time():
    cfg = TrackerConfig(lost_track_s=1.0)
    tracker = ByteTracker(cfg, fps=10)
    for i in range(5):  # moving 5 px a frame
        assert tracker_ids(tracker.update(dets(box_at(5 * i)), i / 10)).tolist() == [0]
    # weak boxes (below high_confidence) where the track is expected keep it
    assert tracker_ids(tracker.update(dets(box_at(25, 0.35)), 0.5)).tolist() == [0]
    # unseen for 0.9 s of stream time over one call: still re-found where its motion takes it
    tracker.assign(Detections.empty(), 0.6)
    assert tracker_ids(tracker.update(dets(box_at(70)), 1.4)).tolist() == [0]
    # unseen for 1.2 s of stream time, again over a single call (a camera that dropped frames):
    # expired, whatever the number of calls, so the vehicle there starts a new track
    tracker.assign(Detections.empty(), 1.5)
    assert tracker_ids(tracker.assign(dets(box_at(130)), 2.6)).tolist() == [-1]
    assert tracker_ids(tracker.update(dets(box_at(135)), 2.7)).tolist() == [1]


def test_a_backward_timestamp_is_not_predicted_and_does_not_break_the_tracker():
    tracker = ByteTracker(TrackerConfig(), fps=10)
    tracker.update(dets(box_at(0)), 1.0)
    assert tracker_ids(tracker.update(dets(box_at(1)), 0.5)).tolist() == [0]
    assert tracker_ids(tracker.update(dets(box_at(2)), 1.1)).tolist() == [0]


def test_reset_starts_ids_again():
    tracker = ByteTracker(TrackerConfig(minimum_consecutive_frames=1), fps=10)
    tracker.update(dets(box_at(0), box_at(200)), 0.0)
    tracker.reset()
    assert tracker.track_count == 0
    assert tracker_ids(tracker.update(dets(box_at(0)), 5.0)).tolist() == [0]


def test_a_crop_carries_the_tracks_outside_it_and_starts_none_over_them():
    from detector.geometry.crop import Crop

    tracker = ByteTracker(TrackerConfig(), fps=25.0)
    a, b = box_at(100.0), box_at(600.0)
    for k in range(3):  # two confirmed tracks, 0 and 1, standing still
        assert tracker_ids(tracker.update(dets(a, b), k / 25)).tolist() == [0, 1]
    crop = Crop(0, 0, 400, 300, (256, 192), (960, 540))  # holds a (x 100-160), not b (x 600-660)
    # only a is detected; b, outside the crop, is carried: neither missed nor dropped
    assert tracker_ids(tracker.update(dets(a), 3 / 25, crop)).tolist() == [0]
    assert tracker.carried == [1]
    assert tracker_ids(tracker.update(dets(a, b), 4 / 25)).tolist() == [0, 1]  # b keeps its id
    # a track inside the crop that is not detected there is carried too: a crop never loses a track
    tracker.update(dets(), 5 / 25, crop)
    assert sorted(tracker.carried) == [0, 1]
    assert tracker_ids(tracker.update(dets(a, b), 6 / 25)).tolist() == [0, 1]
    # a box over a carried track's prediction (cut by the crop, say) starts no track
    wide = Crop(0, 0, 640, 300, (448, 192), (960, 540))  # b (x 600-660) crosses its right edge
    tracker.update(dets(a, (590.0, 100.0, 639.0, 140.0, 0.9)), 7 / 25, wide)
    assert tracker.tentative == 0 and tracker.carried == [1]
    # on a whole frame a missed track is lost (not carried by the tracker; the store stops it)
    tracker.update(dets(b), 8 / 25)
    assert tracker.carried == [] and tracker_ids(tracker.update(dets(a, b), 9 / 25)).tolist() == [0, 1]


def test_boxes_of_gives_the_predicted_boxes_of_the_tracks_of_those_classes():
    """What the scheduler keeps a crop away from: tracks of a class, confirmed or not, tracked or lost;
    a track's class is its last detection's."""
    tracker = ByteTracker(TrackerConfig(), fps=10)
    bike = Detections(
        xyxy=np.array([[0, 100, 60, 140], [300, 100, 360, 140]], np.float32),
        confidence=np.array([0.9, 0.9], np.float32),
        class_id=np.array([3, 2]),
    )
    tracker.update(bike, 0.0)
    assert np.allclose(tracker.boxes_of(frozenset({3})), [[0, 100, 60, 140]], atol=1)
    assert len(tracker.boxes_of(frozenset({0, 1}))) == 0
    tracker.update(Detections.empty(), 0.1)  # both lost: still held, still counted
    assert len(tracker.boxes_of(frozenset({2, 3}))) == 2
    # a newcomer not yet confirmed counts too, with its class
    tracker.update(
        Detections(np.array([[600, 100, 640, 180]], np.float32), np.array([0.9], np.float32), np.array([0])),
        0.2,
    )
    assert tracker.tentative == 1 and len(tracker.boxes_of(frozenset({0}))) == 1
