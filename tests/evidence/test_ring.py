"""Ring buffer bounds and eviction counts; pending bundles that wait for their 'after' frames."""

from __future__ import annotations

import numpy as np
import pytest

from detector.evidence.ring import BufferedFrame, EvidenceCollector, FrameCompressor, FrameRing
from detector.types import Frame
from tests.evidence.synthetic import scene, violation


def _frame(i: int, fps: float = 10.0) -> Frame:
    return Frame(image=np.zeros((4, 4, 3), np.uint8), index=i, timestamp=i / fps, source_id="c")


def test_ring_bounded_by_count_counts_evictions() -> None:
    ring = FrameRing(max_frames=5)
    for i in range(12):
        ring.push(_frame(i))
    assert len(ring) == 5
    assert ring.evicted == 7
    assert [b.frame.index for b in ring] == [7, 8, 9, 10, 11]


def test_ring_bounded_by_seconds() -> None:
    ring = FrameRing(max_frames=None, max_seconds=1.0)
    for i in range(30):
        ring.push(_frame(i))
    assert ring.latest is not None and ring.oldest is not None
    assert ring.latest.frame.timestamp - ring.oldest.frame.timestamp <= 1.0 + 1e-9
    assert len(ring) == 11 and ring.evicted == 19


def test_ring_rejects_out_of_order_and_bad_bounds() -> None:
    ring = FrameRing(max_frames=3)
    ring.push(_frame(5))
    with pytest.raises(ValueError, match="frame 5 of c is not after 5"):
        ring.push(_frame(5))
    with pytest.raises(ValueError):
        FrameRing(max_frames=None, max_seconds=None)


def test_ring_window_and_get() -> None:
    ring = FrameRing(max_frames=50)
    for i in range(20):
        ring.push(_frame(i))
    assert [b.frame.index for b in ring.window(0.5, 0.8)] == [5, 6, 7, 8]
    got = ring.get(13)
    assert got is not None and got.frame.index == 13
    assert ring.get(99) is None


def test_pending_waits_for_post_seconds_then_completes() -> None:
    col = EvidenceCollector(pre_s=1.0, post_s=1.0, max_frames=100)
    frames = list(scene(60))
    completed = []
    for sf in frames[:31]:
        completed += col.push(sf.frame, sf.detections)
    pending = col.request(violation(30))
    assert not pending.complete and col.pending == 1
    for sf in frames[31:40]:
        assert col.push(sf.frame, sf.detections) == []  # t < 3.0 + 1.0: still waiting
    done = col.push(frames[40].frame, frames[40].detections)
    assert done == [pending] and pending.complete and not pending.truncated
    assert [f.index for f in pending.frames] == list(range(20, 41))
    assert set(pending.detections_by_frame) == set(range(20, 41))
    assert pending.missing_evidence_frames() == []


def test_pending_keeps_evidence_frames_outside_window() -> None:
    col = EvidenceCollector(pre_s=0.2, post_s=0.2, max_frames=100)
    frames = list(scene(40))
    for sf in frames[:21]:
        col.push(sf.frame)
    p = col.request(violation(20, gap=8))  # before=12 (outside the 0.2 s window), after=28
    for sf in frames[21:28]:
        col.push(sf.frame)
    assert not p.complete  # window ended at frame 22 but the 'after' frame 28 is not in yet
    col.push(frames[28].frame)
    assert p.complete
    assert {12, 20, 28} <= {f.index for f in p.frames}


def test_flush_completes_truncated_at_end_of_stream() -> None:
    col = EvidenceCollector(pre_s=1.0, post_s=2.0)
    for sf in scene(25):
        col.push(sf.frame)
    p = col.request(violation(24))
    assert not p.complete
    assert col.flush() == [p]
    assert p.complete and p.truncated and col.pending == 0
    assert p.missing_evidence_frames() == ["after"]


def test_request_after_the_window_completes_at_once() -> None:
    col = EvidenceCollector(pre_s=0.5, post_s=0.5, max_seconds=5.0)
    for sf in scene(30):
        col.push(sf.frame)
    p = col.request(violation(10))
    assert p.complete and col.pending == 0
    assert [f.index for f in p.frames] == list(range(5, 16))


def test_request_after_eviction_keeps_what_is_left() -> None:
    col = EvidenceCollector(pre_s=0.5, post_s=0.5)  # ring keeps pre + post + 1 = 2 s
    for sf in scene(30):
        col.push(sf.frame)
    p = col.request(violation(10))
    assert p.complete
    assert [f.index for f in p.frames] == [9, 10, 11, 12, 13, 14, 15]
    assert p.missing_evidence_frames() == ["before"]
    assert col.ring.evicted == 9


def _textured(i: int, h: int = 270, w: int = 480) -> Frame:
    """A frame with real structure (gradients and a moving block), stamped with wall time."""
    yy, xx = np.mgrid[0:h, 0:w]
    image = np.stack([(xx + i) % 256, (yy * 2) % 256, ((xx + yy) // 2) % 256], axis=-1).astype(np.uint8)
    image[50:90, 10 + 5 * i : 60 + 5 * i] = (20, 200, 240)
    return Frame(
        image=image, index=i, timestamp=i / 25, source_id="c", timestamp_source="pts", wall_time=1e9 + i
    )


def test_compressed_ring_holds_jpegs_and_gives_the_frames_back() -> None:
    compressor = FrameCompressor(quality=95)
    collector = EvidenceCollector(pre_s=0.2, post_s=0.2, compressor=compressor)
    originals = [_textured(i) for i in range(20)]
    for f in originals:
        collector.push(f)
    compressor.close()  # drains: every frame submitted is compressed
    assert compressor.compressed + compressor.inline == 20
    items = list(collector.ring)
    assert all(b.compressed for b in items)
    held = sum(b.held_bytes for b in items)
    assert held < sum(f.image.nbytes for f in originals[-len(items) :]) / 4
    for b in items:
        f = b.frame
        orig = originals[b.index]
        assert (f.index, f.timestamp, f.wall_time, f.timestamp_source) == (
            orig.index,
            orig.timestamp,
            orig.wall_time,
            "pts",
        )
        assert (f.width, f.height) == (orig.width, orig.height) and f.image.shape == orig.image.shape
        assert np.abs(f.image.astype(int) - orig.image.astype(int)).mean() < 3.0  # near-lossless at 95
        assert f.image is not f.image  # decoded on each access, never kept


def test_a_compressor_that_falls_behind_compresses_on_the_callers_thread() -> None:
    compressor = FrameCompressor(quality=95, queue_size=1)
    compressor.close()  # its worker has stopped: every submit past the first finds the queue full
    collector = EvidenceCollector(pre_s=1.0, post_s=1.0, compressor=compressor)
    for i in range(10):
        collector.push(_textured(i))
    assert compressor.inline == 9
    assert sum(b.compressed for b in collector.ring) == 9  # the one queued was never taken


def test_a_frame_that_cannot_be_compressed_stays_raw_and_the_compressor_lives_on() -> None:
    compressor = FrameCompressor(quality=95)
    collector = EvidenceCollector(pre_s=1.0, post_s=1.0, compressor=compressor)
    bad = BufferedFrame(_textured(0))
    bad._frame = object.__new__(Frame)  # a frame without an image
    compressor.submit(bad)
    for i in range(1, 6):
        collector.push(_textured(i))
    compressor.close()
    assert compressor.failed == 1 and compressor.compressed == 5
    assert all(b.compressed for b in collector.ring)


def test_a_violation_decided_after_its_frames_left_the_ring_takes_the_tracks_newest_frames() -> None:
    from detector.types import Detections

    collector = EvidenceCollector(pre_s=0.2, post_s=0.2, max_frames=None, max_seconds=0.5)
    for i in range(20):  # 2 s at 10 fps; the ring keeps the last 0.5 s
        d = Detections(
            xyxy=np.array([[0, 0, 2, 2]], np.float32),
            confidence=np.array([0.9], np.float32),
            class_id=np.array([2], np.int64),
            tracker_id=np.array([4 if i < 18 else 5], np.int64),
        )
        collector.push(_frame(i), d)
    v = violation(at=3, track_id=4)  # its moment (0.3 s) is long gone
    p = collector.request(v)
    assert (
        p.complete and p.late and sorted(p.items) == [14, 15, 16, 17]
    )  # the buffered frames showing track 4
