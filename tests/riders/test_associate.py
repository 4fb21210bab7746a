"""Rider association on boxes made for the case (geometry, hysteresis, pedestrians, label flips)."""

from __future__ import annotations

import numpy as np

from detector.config import AssociationConfig
from detector.riders.associate import RiderAssociator, rider_geometry
from detector.types import Detections
from tests.track.support import tracker_ids

PERSON, MOTO, CAR = 0, 3, 2


def dets(rows: list[tuple[int, int, tuple[float, float, float, float]]]) -> Detections:
    """rows: (track id, class id, box)."""
    return Detections(
        xyxy=np.array([b for _, _, b in rows], dtype=np.float32).reshape(-1, 4),
        confidence=np.full(len(rows), 0.8, np.float32),
        class_id=np.array([c for _, c, _ in rows], dtype=np.int64),
        tracker_id=np.array([t for t, _, _ in rows], dtype=np.int64),
    )


Box = tuple[float, float, float, float]


def bike_and_rider(x: float, y: float = 300.0) -> tuple[Box, Box]:
    """A motorbike box 60x100 with its rider sitting on it (head above the bike, hips in its upper half)."""
    bike = (x, y, x + 60, y + 100)
    rider = (x + 5, y - 60, x + 55, y + 55)
    return bike, rider


def test_geometry_accepts_a_rider_and_rejects_a_pedestrian_beside_or_in_front():
    cfg = AssociationConfig()
    bike, rider = bike_and_rider(100)
    vehicles = np.array([bike], dtype=np.float64)
    assert rider_geometry(np.array(rider), vehicles, cfg)[0]
    beside = (170, 240, 220, 400)  # next to the bike, no horizontal overlap
    assert not rider_geometry(np.array(beside), vehicles, cfg)[0]
    in_front = (105, 330, 155, 480)  # feet well below the bike: standing in front of it, nearer the camera
    assert not rider_geometry(np.array(in_front), vehicles, cfg)[0]
    tiny = (120, 280, 130, 300)  # far too small to ride it
    assert not rider_geometry(np.array(tiny), vehicles, cfg)[0]


def test_rider_joins_its_motorbike_after_the_confirm_frames_and_is_not_a_road_user():
    cfg = AssociationConfig(confirm_frames=4, release_frames=3, confirm_s=0.1)
    a = RiderAssociator(cfg)
    for k in range(8):
        bike, rider = bike_and_rider(100 + 10 * k)
        frame = a.update(
            dets([(1, MOTO, bike), (2, PERSON, rider), (3, CAR, (400, 300, 600, 420))]), k / 30, k
        )
        ids = tracker_ids(frame.road_users).tolist()
        assert 2 not in ids  # held back as a candidate, then a rider: never a road user of its own
        assert 1 in ids and 3 in ids
        if k >= cfg.confirm_frames - 1 and k / 30 >= cfg.confirm_s:
            assert frame.count(1) == 1
            assert [r.track_id for r in frame.riders[1]] == [2]
            row = ids.index(1)
            assert frame.road_users.data["riders"][row] == 1
            assert frame.road_users.data["riders"][ids.index(3)] == 0
        else:
            assert frame.count(1) == 0


def test_a_pedestrian_crossing_in_front_of_a_waiting_motorbike_stays_a_pedestrian():
    a = RiderAssociator(AssociationConfig())
    bike = (300, 300, 360, 400)
    for k in range(50):
        x = (
            200 + 4 * k
        )  # walks across at about 1.2 bike heights a second, overlapping the bike for a few frames only, at a changing offset
        frame = a.update(dets([(1, MOTO, bike), (2, PERSON, (x, 250, x + 40, 380))]), k / 30, k)
        assert frame.count(1) == 0
    assert 2 in tracker_ids(frame.road_users).tolist()
    assert a.rider_of(2) is None


def test_two_riders_count_two_and_a_rider_is_released_when_it_leaves():
    cfg = AssociationConfig(confirm_frames=3, release_frames=3, confirm_s=0.0)
    a = RiderAssociator(cfg)
    bike = (100, 300, 170, 400)
    driver, passenger = (105, 240, 150, 360), (125, 235, 168, 362)
    for k in range(5):
        frame = a.update(dets([(1, MOTO, bike), (2, PERSON, driver), (3, PERSON, passenger)]), k / 30, k)
    assert frame.count(1) == 2
    for k in range(5, 10):  # the passenger gets off and walks away to the right
        off = (300 + 20 * k, 235, 343 + 20 * k, 400)
        frame = a.update(dets([(1, MOTO, bike), (2, PERSON, driver), (3, PERSON, off)]), k / 30, k)
    assert frame.count(1) == 1
    assert 3 in tracker_ids(frame.road_users).tolist()


def test_a_ridden_motorbike_keeps_its_class_and_is_placed_from_its_rider_when_undetected():
    cfg = AssociationConfig(confirm_frames=3, confirm_s=0.0)
    a = RiderAssociator(cfg)
    for k in range(6):
        bike, rider = bike_and_rider(100 + 5 * k)
        a.update(dets([(1, MOTO, bike), (2, PERSON, rider)]), k / 30, k)
    bike, rider = bike_and_rider(130)
    # the detector labels the motorbike's box `person` in this frame: it stays the rider's motorcycle
    frame = a.update(dets([(1, PERSON, bike), (2, PERSON, rider)]), 6 / 30, 6)
    row = tracker_ids(frame.road_users).tolist().index(1)
    assert frame.road_users.class_id[row] == MOTO
    # the motorbike is missed, its rider is seen: the road user is still there, placed from the rider
    bike, rider = bike_and_rider(135)
    frame = a.update(dets([(2, PERSON, rider)]), 7 / 30, 7)
    ids = tracker_ids(frame.road_users).tolist()
    assert ids == [1]
    assert frame.road_users.predicted[0]  # an estimate, not a detection
    assert np.allclose(frame.road_users.xyxy[0], bike, atol=6)


def test_a_person_box_at_two_wheeler_speed_is_a_motorbike_and_a_walker_is_not():
    a = RiderAssociator(AssociationConfig())
    for k in range(40):
        t = k / 30
        fast = (
            100 + 300 * t,
            200,
            140 + 300 * t,
            300,
        )  # 3 box heights a second: a motorbike boxed with its rider
        walker = (400 + 60 * t, 200, 440 + 60 * t, 300)  # 0.6 box heights a second
        frame = a.update(dets([(1, PERSON, fast), (2, PERSON, walker)]), t, k)
    rows = tracker_ids(frame.road_users).tolist()
    assert frame.road_users.class_id[rows.index(1)] == MOTO
    assert frame.road_users.data["riders"][rows.index(1)] == 1 and a.count(1) == 1
    assert frame.road_users.class_id[rows.index(2)] == PERSON
