import numpy as np
import pytest

from detector.config import SourceConfig
from detector.errors import SourceError
from detector.live import BoundedFrameQueue, CaptureThread
from detector.sources import StreamSource
from detector.types import Frame
from tests.mjpeg_server import MjpegCamera


def frame(i: int) -> Frame:
    return Frame(image=np.zeros((4, 4, 3), np.uint8), index=i, timestamp=i / 10, source_id="q")


def test_queue_drops_oldest_and_counts():
    q = BoundedFrameQueue(3)
    for i in range(7):
        q.put(frame(i))
    assert q.stats.dropped == 4 and q.stats.put == 7
    assert [q.get(0).index for _ in range(3)] == [4, 5, 6]
    q.close()
    assert q.get(0.01) is None


def test_queue_rejects_zero_size():
    with pytest.raises(ValueError):
        BoundedFrameQueue(0)


def test_capture_thread_hands_over_frames_then_the_error():
    # one connection of 12 frames, then the camera refuses: the frames arrive, then the error
    # (the camera refusing, rather than the test stopping it at frame 12, leaves no race with the
    # capture thread's reconnect)
    with MjpegCamera(frames_per_connection=12, max_connections=1) as cam:
        cfg = SourceConfig(uri=cam.url, fps=10, reconnect_attempts=0, reconnect_delay_s=0, read_timeout_s=2)
        source = StreamSource(cfg, "cam")
        capture = CaptureThread(source, BoundedFrameQueue(100)).start()
        got = []
        with pytest.raises(SourceError, match="could not connect|stream"):
            for f in capture.frames():
                got.append(f.index)
        capture.close()
        assert cam.connections == 2  # the first, and the refused reconnect
    assert got == list(range(12))
