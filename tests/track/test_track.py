import numpy as np

from detector.config import TrackerConfig
from detector.sources import ImageFolderSource, VideoFileSource
from detector.track import ByteTracker, TrackStore
from detector.types import Detections, Frame
from tests.conftest import shared_path
from tests.detect.support import detrac_targets, iou
from tests.track.support import tracker_ids


def run_tracker(detector, frames, fps):
    tracker = ByteTracker(TrackerConfig(), fps)
    store = TrackStore()
    per_frame = []
    for frame in frames:
        tracked = tracker.update(detector.detect(frame), frame.timestamp)
        store.update(frame, tracked)
        per_frame.append(tracked)
    return per_frame, store


def test_labelled_detrac_car_keeps_one_id(yolo_detector):
    folder = shared_path("ua-detrac-evadb-sample", "MVI_20011")
    xml = shared_path("ua-detrac-evadb-sample", "MVI_20011.xml")
    per_frame, store = run_tracker(yolo_detector, ImageFolderSource(folder, fps=25), 25)
    # target 1 is the big car in the foreground; its label in frame 2 is our anchor
    target = detrac_targets(xml, 2)[0]
    ids = []
    for tracked in per_frame[1:]:  # from frame 2 on (a track is confirmed on its 2nd frame)
        overlaps = [iou(target, b) for b in tracked.xyxy]
        if not overlaps or max(overlaps) < 0.3:
            break  # the car drives out of the bottom of the image after a few frames
        best = int(np.argmax(overlaps))
        ids.append(int(tracked.tracker_id[best]))
        target = tuple(tracked.xyxy[best])  # follow it: it moves a little each frame
    assert len(ids) >= 4, f"the labelled car was followed for only {len(ids)} frames"
    assert len(set(ids)) == 1, f"ids over frames 2-{len(ids) + 1}: {ids}"


def test_labelled_detrac_vehicles_are_tracked_from_the_first_frame(yolo_detector):
    # the stream's first frame has no earlier frame to confirm a detection against: the vehicles in
    # view are reported at once (as Ultralytics' ByteTrack does), and keep their ids on frame 2
    folder = shared_path("ua-detrac-evadb-sample", "MVI_20011")
    xml = shared_path("ua-detrac-evadb-sample", "MVI_20011.xml")
    per_frame, _ = run_tracker(yolo_detector, ImageFolderSource(folder, fps=25), 25)
    ids: dict[int, set[int]] = {}
    for frame_num in (1, 2):
        tracked = per_frame[frame_num - 1]
        for k, target in enumerate(detrac_targets(xml, frame_num)):
            overlaps = [iou(target, b) for b in tracked.xyxy]
            assert overlaps and max(overlaps) >= 0.5, f"labelled target {k} of frame {frame_num} not tracked"
            ids.setdefault(k, set()).add(int(tracked.tracker_id[int(np.argmax(overlaps))]))
    assert all(len(v) == 1 for v in ids.values()), f"ids changed between frames 1 and 2: {ids}"


def test_ids_stable_across_consecutive_frames_on_real_intersection(yolo_detector):
    clip = shared_path("ua-detrac-evadb-sample", "clips", "test_ua_detrac_69f.mp4")
    frames = [f for f, _ in zip(VideoFileSource(clip), range(40), strict=False)]
    per_frame, store = run_tracker(yolo_detector, frames, 30)
    same = total = 0
    for prev, cur in zip(per_frame, per_frame[1:], strict=False):
        for i, box in enumerate(cur.xyxy):
            overlaps = [iou(box, p) for p in prev.xyxy]
            if overlaps and max(overlaps) > 0.7:  # clearly the same vehicle a frame later
                total += 1
                same += int(cur.tracker_id[i] == prev.tracker_id[int(np.argmax(overlaps))])
    assert total > 200
    assert same / total > 0.97, f"{same}/{total} consecutive matches kept their id"
    long_tracks = [t for t in store.tracks.values() if len(t) >= 30]
    assert len(long_tracks) >= 8  # many vehicles followed across most of the 40 frames


def synthetic_frame(i: int) -> Frame:
    return Frame(image=np.zeros((200, 400, 3), np.uint8), index=i, timestamp=i / 10, source_id="syn")


def test_two_vehicles_passing_keep_their_ids():
    tracker = ByteTracker(TrackerConfig(minimum_consecutive_frames=1), fps=10)
    store = TrackStore()
    for i in range(30):
        a = [20 + 8 * i, 50, 60 + 8 * i, 80]
        b = [300 - 6 * i, 120, 340 - 6 * i, 150]
        dets = Detections(
            xyxy=np.array([a, b], np.float32), confidence=np.array([0.9, 0.85]), class_id=np.array([2, 7])
        )
        frame = synthetic_frame(i)
        store.update(frame, tracker.update(dets, frame.timestamp))
    assert len(store.tracks) == 2
    classes = sorted(t.class_name for t in store.tracks.values())
    assert classes == ["car", "truck"]
    assert all(len(t) >= 29 for t in store.tracks.values())


def test_track_store_hands_stale_tracks_on_and_frees_them():
    finished: list[int] = []
    store = TrackStore(forget_after_s=1.0, on_finished=lambda t: finished.append(t.track_id))
    d = Detections(
        xyxy=np.array([[0, 0, 10, 10]], np.float32),
        confidence=np.array([0.9], np.float32),
        class_id=np.array([2], np.int64),
        tracker_id=np.array([5], np.int64),
    )
    store.update(synthetic_frame(0), d)
    store.update(synthetic_frame(5), Detections.empty())
    assert 5 in store.tracks
    store.update(synthetic_frame(20), Detections.empty())
    assert 5 not in store.tracks and finished == [5] and store.forgotten == 1


def test_track_store_stays_bounded_over_a_long_stream():
    # a new vehicle every second for an hour of stream at 10 fps: only the recent ones are held
    store = TrackStore(forget_after_s=2.0, on_finished=lambda t: None)
    for i in range(36_000):
        tid = i // 10
        d = Detections(
            xyxy=np.array([[i % 10, 0, i % 10 + 10, 10]], np.float32),
            confidence=np.array([0.9], np.float32),
            class_id=np.array([2], np.int64),
            tracker_id=np.array([tid], np.int64),
        )
        store.update(synthetic_frame(i), d)
        assert len(store.tracks) <= 4
    assert store.forgotten >= 3590


def test_prediction_carries_tracks_at_their_velocity_and_marks_them():
    store = TrackStore(velocity_window_s=0.2)
    for i in range(3):  # moving 4 px right per frame (10 fps)
        d = Detections(
            xyxy=np.array([[4 * i, 0, 4 * i + 10, 10]], np.float32),
            confidence=np.array([0.8], np.float32),
            class_id=np.array([2], np.int64),
            tracker_id=np.array([7], np.int64),
        )
        store.update(synthetic_frame(i), d)
    dets, active = store.predict(synthetic_frame(3))
    assert active == [7] and dets.predicted.tolist() == [True] and tracker_ids(dets).tolist() == [7]
    np.testing.assert_allclose(dets.xyxy[0], [12, 0, 22, 10], atol=1e-4)
    dets, _ = store.predict(synthetic_frame(4))  # still from the detected points, not from predictions
    np.testing.assert_allclose(dets.xyxy[0], [16, 0, 26, 10], atol=1e-4)
    track = store.tracks[7]
    assert [p.predicted for p in track.points] == [False, False, False, True, True]
    assert track.last_detected is not None and track.last_detected.frame_index == 2
    # a track not seen at the last detected frame is not carried
    store.update(synthetic_frame(5), Detections.empty())
    assert store.predict(synthetic_frame(6))[1] == []


def test_history_is_trimmed():
    store = TrackStore(max_history=10)
    for i in range(25):
        d = Detections(
            xyxy=np.array([[i, 0, i + 10, 10]], np.float32),
            confidence=np.array([0.9], np.float32),
            class_id=np.array([2], np.int64),
            tracker_id=np.array([1], np.int64),
        )
        store.update(synthetic_frame(i), d)
    assert len(store.tracks[1]) == 10
    assert store.tracks[1].first.frame_index == 15
