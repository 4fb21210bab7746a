import threading
import time

import numpy as np
import pytest

from detector.config import SourceConfig
from detector.errors import SourceError
from detector.runtime.capture import BoundedQueue, Captured, CaptureThread
from detector.sources import StreamSource
from detector.types import Frame
from tests.cameras.mjpeg_server import MjpegCamera


def frame(i: int) -> Frame:
    return Frame(image=np.zeros((4, 4, 3), np.uint8), index=i, timestamp=i / 10, source_id="q")


def test_queue_drops_oldest_and_counts():
    q: BoundedQueue[Frame] = BoundedQueue(3)
    for i in range(7):
        q.put(frame(i))
    assert q.stats.dropped == 4 and q.stats.put == 7 and q.stats.max_depth == 3
    got = [q.get(0) for _ in range(3)]
    assert [f.index for f in got if f is not None] == [4, 5, 6]
    q.close()
    assert q.get(0.01) is None


def test_waiting_queue_blocks_the_producer_and_loses_nothing():
    q: BoundedQueue[int] = BoundedQueue(2, policy="wait")
    produced: list[int] = []

    def produce() -> None:
        for i in range(50):
            q.put(i)
            produced.append(i)
        q.close()

    t = threading.Thread(target=produce)
    t.start()
    time.sleep(0.05)
    assert len(produced) <= 3  # blocked on a full queue, not dropping
    got = []
    while (item := q.get(1.0)) is not None:
        got.append(item)
    t.join(2)
    assert got == list(range(50)) and q.stats.dropped == 0


def test_closing_a_full_waiting_queue_releases_the_producer():
    q: BoundedQueue[int] = BoundedQueue(1, policy="wait")
    q.put(0)
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(q.put(1)))
    t.start()
    time.sleep(0.05)
    q.close()
    t.join(2)
    assert result == [False] and not t.is_alive()


def test_queue_rejects_zero_size():
    with pytest.raises(ValueError):
        BoundedQueue(0)


def test_capture_thread_hands_over_frames_then_the_error():
    # one connection of 12 frames, then the camera refuses: the frames arrive, then the error
    # (the camera refusing, rather than the test stopping it at frame 12, leaves no race with the
    # capture thread's reconnect)
    with MjpegCamera(frames_per_connection=12, max_connections=1) as cam:
        cfg = SourceConfig(uri=cam.url, fps=10, reconnect_attempts=0, reconnect_delay_s=0, read_timeout_s=2)
        source = StreamSource(cfg, "cam")
        capture = CaptureThread(source, BoundedQueue[Captured](100)).start()
        got = []
        with pytest.raises(SourceError, match="could not connect|stream"):
            for item in capture.frames():
                got.append(item.frame.index)
        capture.close()
        assert cam.connections == 2  # the first, and the refused reconnect
    assert got == list(range(12))


class PacedCamera:
    """A camera at `fps` whose first `waiting` frames are already in the connection when the reader
    starts (what a live start or a reconnect brings: the stream played while the engine got ready),
    the rest sent in real time; each frame stamped with its stream time and its wall-clock arrival."""

    def __init__(self, frames: int, fps: float, waiting: int) -> None:
        self.frames, self.fps, self.waiting = frames, fps, waiting
        self.info = type("Info", (), {"source_id": "paced"})()
        self.reconnects = 0

    def __iter__(self):
        start = time.monotonic() - self.waiting / self.fps  # the waiting frames were sent already
        for i in range(self.frames):
            due = start + i / self.fps
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            yield Frame(
                image=np.zeros((4, 4, 3), np.uint8),
                index=i,
                timestamp=i / self.fps,
                source_id="paced",
                wall_time=time.monotonic(),
            )

    def close(self) -> None:
        pass


def _consume(capture: CaptureThread, per_frame_s: float) -> list[Captured]:
    got = []
    for item in capture.frames():
        got.append(item)
        time.sleep(per_frame_s)
    capture.close()
    return got


def test_a_live_start_backlog_waits_in_the_connection_instead_of_being_dropped():
    # 40 frames wait at the start, more than the queue of 2 holds; the loop (5 ms a frame) is faster
    # than the camera (50 fps) and catches up: under the lag bound, nothing is dropped
    camera = PacedCamera(frames=100, fps=50, waiting=40)
    queue = BoundedQueue[Captured](2, policy="drop_oldest")
    capture = CaptureThread(camera, queue, clock=time.monotonic, max_lag_s=5.0).start()
    got = _consume(capture, 0.005)
    assert [c.frame.index for c in got] == list(range(100))
    assert queue.stats.dropped == 0
    # the waiting frames' latency counts their time in the connection: the first ones waited longest
    first, last = got[0], got[-1]
    assert first.captured_at <= last.captured_at


def test_a_loop_slower_than_the_camera_sheds_frames_beyond_the_lag_bound():
    # the camera sends 100 fps for 2 s, the loop takes 25 ms a frame (40 fps): it falls behind by
    # 0.6 s a second, so with a 0.3 s bound it must drop, and the lag stays bounded
    camera = PacedCamera(frames=200, fps=100, waiting=0)
    queue = BoundedQueue[Captured](2, policy="drop_oldest")
    capture = CaptureThread(camera, queue, clock=time.monotonic, max_lag_s=0.3).start()
    got = _consume(capture, 0.025)
    assert queue.stats.dropped > 0
    assert len(got) + queue.stats.dropped == 200
    assert capture.lag.max_s > 0.3
    assert capture.lag.max_s < 1.5  # without the bound it would reach ~3 s
    assert got[-1].frame.index == 199  # the freshest frame is never the one dropped
