"""Ring buffer of a camera's recent frames, and bundles that wait for their 'after' frames.

`FrameRing` keeps the newest frames (with the tracked detections of each, if given), bounded by a
frame count and/or a span of stream seconds, and counts what it evicts. It holds references to the
frames' images: sources must hand over a fresh array per frame (they do: decoding allocates).

`EvidenceCollector` is what the pipeline drives per camera:

    collector.push(frame, detections)          # every frame; returns PendingBundles now complete
    collector.request(violation)               # when a rule fires: starts a PendingBundle
    collector.flush()                          # end of stream: completes the rest with what exists

A PendingBundle takes the frames from `pre_s` before to `post_s` after the violation's moment
(plus the violation's before/at/after evidence frames if still buffered) and completes once a
frame past `moment + post_s` (and past the 'after' evidence frame) has been pushed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from detector.evidence.packets import PacketRing, PacketSlice, SliceDecoder
from detector.types import Detections, Frame, Violation

log = logging.getLogger(__name__)


class JpegFrame(Frame):
    """A buffered frame held as JPEG bytes: its image is decoded on each access and never kept.

    A bundle's writer walks a hundred frames of a clip one at a time, so its peak memory is one
    decoded frame, not the whole clip (600 MB at 1080p). Index, time and size need no decoding.
    """

    __slots__ = ("_jpeg", "_size")
    _jpeg: bytes
    _size: tuple[int, int]

    @classmethod
    def of(cls, raw: Frame, jpeg: bytes) -> JpegFrame:
        obj = object.__new__(cls)
        for name in ("index", "timestamp", "source_id", "timestamp_source", "wall_time"):
            object.__setattr__(obj, name, getattr(raw, name))
        object.__setattr__(obj, "_jpeg", jpeg)
        object.__setattr__(obj, "_size", (raw.width, raw.height))
        return obj

    @property
    def image(self) -> np.ndarray:
        image = cv2.imdecode(np.frombuffer(self._jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"frame {self.index} of {self.source_id}: its buffered JPEG does not decode")
        return image

    @property
    def width(self) -> int:
        return self._size[0]

    @property
    def height(self) -> int:
        return self._size[1]


class PacketFrame(Frame):
    """A buffered frame whose image lives in the camera's packets: decoded from its bundle's slice
    when asked (a bundle's writer and plate reader need a dozen of a clip's hundred frames)."""

    __slots__ = ("_decoder", "_size")
    _decoder: SliceDecoder | None
    _size: tuple[int, int]

    @classmethod
    def of(cls, raw: Frame, decoder: SliceDecoder | None = None) -> PacketFrame:
        obj = object.__new__(cls)
        for name in ("index", "timestamp", "source_id", "timestamp_source", "wall_time"):
            object.__setattr__(obj, name, getattr(raw, name))
        object.__setattr__(obj, "_decoder", decoder)
        object.__setattr__(obj, "_size", (raw.width, raw.height))
        return obj

    def bound(self, decoder: SliceDecoder) -> PacketFrame:
        return PacketFrame.of(self, decoder)

    @property
    def image(self) -> np.ndarray:
        if self._decoder is None:
            raise ValueError(f"frame {self.index} of {self.source_id}: its packets were not kept")
        return self._decoder.image(self.index)

    @property
    def width(self) -> int:
        return self._size[0]

    @property
    def height(self) -> int:
        return self._size[1]


class BufferedFrame:
    """One buffered frame with its tracked detections; its image may be held as a JPEG.

    `compress()` (run by a `FrameCompressor` thread, off the hot path) swaps the raw image for its
    JPEG bytes; `frame` decodes it again when a bundle is written. A 1080p frame takes 6.2 MB raw and
    about 0.6 MB at quality 95, so a 5 s ring at 25 fps is 75 MB instead of 780 MB. The swap is safe
    without a lock: the JPEG is in place before the raw image is let go.
    """

    __slots__ = ("_frame", "_jpeg", "detections", "index", "timestamp")

    def __init__(self, frame: Frame, detections: Detections | None = None) -> None:
        self._frame: Frame | None = frame
        self._jpeg: JpegFrame | None = None
        self.detections = detections
        self.index = frame.index
        self.timestamp = frame.timestamp

    @property
    def frame(self) -> Frame:
        """The raw frame, or once compressed a `JpegFrame` that decodes its image when asked."""
        raw = self._frame
        if raw is not None:
            return raw
        assert self._jpeg is not None
        return self._jpeg

    @property
    def compressed(self) -> bool:
        return self._frame is None

    @property
    def held_bytes(self) -> int:
        """Bytes of image this item holds."""
        raw = self._frame
        if isinstance(raw, PacketFrame):
            return 0
        return raw.image.nbytes if raw is not None else len(self._jpeg._jpeg) if self._jpeg else 0

    def compress(self, quality: int = 95) -> bool:
        """Hold the image as a JPEG; False if it could not be encoded (the raw image stays)."""
        raw = self._frame
        if raw is None:
            return True
        ok, buf = cv2.imencode(".jpg", raw.image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            return False
        self._jpeg = JpegFrame.of(raw, buf.tobytes())
        self._frame = None
        return True


class FrameCompressor:
    """Compresses buffered frames on its own thread. When it falls behind (more than `queue_size`
    frames waiting), the frame is compressed on the caller's thread instead (counted in `inline`):
    memory stays bounded whatever the load, and the cost shows up where it is paid."""

    def __init__(self, quality: int = 95, queue_size: int = 4) -> None:
        self.quality = quality
        self.compressed = 0
        self.inline = 0
        self.failed = 0
        self._queue: queue.Queue[BufferedFrame | None] = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._run, name="ring-compressor", daemon=True)
        self._thread.start()

    def submit(self, item: BufferedFrame) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.inline += 1
            try:
                item.compress(self.quality)
            except Exception:  # noqa: BLE001 - the frame stays raw; the camera goes on
                self.failed += 1
                log.exception("ring compressor: frame %d stays raw", item.index)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                if item.compress(self.quality):
                    self.compressed += 1
            except Exception:  # noqa: BLE001 - a dead compressor must not take the camera with it
                self.failed += 1
                if self.failed == 1:
                    log.exception("ring compressor: frame %d stays raw", item.index)

    def close(self) -> None:
        """Stop the worker after the frames queued; never blocks on a worker that is gone."""
        while self._thread.is_alive():
            try:
                self._queue.put(None, timeout=0.5)
                break
            except queue.Full:
                continue
        self._thread.join(timeout=10)


class FrameRing:
    """Newest frames of one camera, bounded by count and/or stream seconds."""

    def __init__(self, max_frames: int | None = 300, max_seconds: float | None = None) -> None:
        if max_frames is None and max_seconds is None:
            raise ValueError("FrameRing needs max_frames, max_seconds or both")
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"FrameRing.max_frames: expected >= 1, got {max_frames}")
        if max_seconds is not None and max_seconds <= 0:
            raise ValueError(f"FrameRing.max_seconds: expected > 0, got {max_seconds}")
        self.max_frames = max_frames
        self.max_seconds = max_seconds
        self._items: deque[BufferedFrame] = deque()
        self.evicted = 0
        self.pushed = 0

    def push(self, frame: Frame, detections: Detections | None = None) -> BufferedFrame:
        """Buffer `frame`. A `PacketFrame` holds no image (its source keeps the packets)."""
        if self._items and frame.index <= self._items[-1].index:
            raise ValueError(
                f"FrameRing: frame {frame.index} of {frame.source_id} is not after {self._items[-1].index}"
            )
        item = BufferedFrame(frame, detections)
        self._items.append(item)
        self.pushed += 1
        while self.max_frames is not None and len(self._items) > self.max_frames:
            self._items.popleft()
            self.evicted += 1
        while (
            self.max_seconds is not None
            and len(self._items) > 1
            and frame.timestamp - self._items[0].timestamp > self.max_seconds
        ):
            self._items.popleft()
            self.evicted += 1
        return item

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[BufferedFrame]:
        return iter(self._items)

    @property
    def latest(self) -> BufferedFrame | None:
        return self._items[-1] if self._items else None

    @property
    def oldest(self) -> BufferedFrame | None:
        return self._items[0] if self._items else None

    def window(self, start_s: float, end_s: float) -> list[BufferedFrame]:
        """Buffered frames with start_s <= timestamp <= end_s, in order."""
        return [b for b in self._items if start_s <= b.timestamp <= end_s]

    def get(self, index: int) -> BufferedFrame | None:
        for b in reversed(self._items):
            if b.index == index:
                return b
            if b.index < index:
                return None
        return None

    def clear(self) -> None:
        self._items.clear()


@dataclass(slots=True)
class PendingBundle:
    """Frames for one violation's bundle, collected until the buffer has passed moment + post_s."""

    violation: Violation
    start_s: float
    end_s: float
    items: dict[int, BufferedFrame] = field(default_factory=dict)
    complete: bool = False
    truncated: bool = False  # completed at end of stream, before end_s was reached
    late: bool = False  # decided after its moment had left the ring: the frames are the newest of the track
    packets: PacketSlice | None = None  # the camera's packets of these frames (packet sources)
    decoder: SliceDecoder | None = None

    def attach(self, ring: PacketRing) -> None:
        """Cut the packets of this bundle's frames from the source's ring (packet sources)."""
        if not self.items or self.packets is not None:
            return
        idx = sorted(self.items)
        self.packets = ring.slice(idx[0], idx[-1], anchor_index=self.violation.frame_index)
        if self.packets is None:
            log.error(
                "%s: the packets of frames %d-%d are gone from the ring",
                self.violation.event_key,
                idx[0],
                idx[-1],
            )
            return
        self.decoder = SliceDecoder(self.packets)
        held = self.packets.frame_pts
        for i in [i for i in self.items if i not in held]:
            del self.items[i]

    def offer(self, item: BufferedFrame) -> None:
        ev = self.violation.evidence_frames
        if self.start_s <= item.timestamp <= self.end_s or item.index in (ev.before, ev.at, ev.after):
            self.items[item.index] = item
        if item.timestamp >= self.end_s and item.index >= ev.after:
            self.complete = True

    @property
    def frames(self) -> list[Frame]:
        frames = [self.items[i].frame for i in sorted(self.items)]
        if self.decoder is not None:
            return [f.bound(self.decoder) if isinstance(f, PacketFrame) else f for f in frames]
        return frames

    @property
    def detections_by_frame(self) -> dict[int, Detections]:
        return {i: b.detections for i, b in sorted(self.items.items()) if b.detections is not None}

    def missing_evidence_frames(self) -> list[str]:
        ev = self.violation.evidence_frames
        return [
            name
            for name, idx in (("before", ev.before), ("at", ev.at), ("after", ev.after))
            if idx not in self.items
        ]


class EvidenceCollector:
    """Per-camera ring plus the bundles waiting for frames after their moment."""

    def __init__(
        self,
        pre_s: float,
        post_s: float,
        max_frames: int | None = 300,
        max_seconds: float | None = None,
        compressor: FrameCompressor | None = None,
        packets: PacketRing | None = None,
    ):
        if pre_s < 0 or post_s < 0:
            raise ValueError(f"EvidenceCollector: pre_s/post_s must be >= 0, got {pre_s}/{post_s}")
        self.pre_s, self.post_s = pre_s, post_s
        self.ring = FrameRing(max_frames, max_seconds if max_seconds is not None else pre_s + post_s + 1.0)
        self.compressor = compressor
        self.packets = packets  # set: frames are buffered without images, bundles cut packet slices
        self._pending: list[PendingBundle] = []

    @property
    def pending(self) -> int:
        return len(self._pending)

    def push(self, frame: Frame, detections: Detections | None = None) -> list[PendingBundle]:
        if self.packets is not None:
            item = self.ring.push(PacketFrame.of(frame), detections)
        else:
            item = self.ring.push(frame, detections)
            if self.compressor is not None:
                self.compressor.submit(item)
        done: list[PendingBundle] = []
        for p in self._pending:
            p.offer(item)
            if p.complete:
                done.append(self._cut(p))
        if done:
            self._pending = [p for p in self._pending if not p.complete]
        if self.packets is not None:
            self.packets.release_before(self._oldest_needed())
        return done

    def _oldest_needed(self) -> int:
        oldest = self.ring.oldest
        need = oldest.index if oldest is not None else 0
        for p in self._pending:
            if p.items:
                need = min(need, min(p.items))
        return need

    def _cut(self, p: PendingBundle) -> PendingBundle:
        if self.packets is not None:
            p.attach(self.packets)
        return p

    def request(self, violation: Violation) -> PendingBundle:
        """Start collecting a violation's frames; complete at once if the buffer is already past its end."""
        p = PendingBundle(violation, violation.timestamp - self.pre_s, violation.timestamp + self.post_s)
        for item in self.ring:
            p.offer(item)
        oldest = self.ring.oldest
        if oldest is not None and oldest.timestamp > p.start_s:
            log.info(
                "%s: ring starts at %.2fs, after the clip start %.2fs (%d frames evicted so far)",
                violation.event_key,
                oldest.timestamp,
                p.start_s,
                self.ring.evicted,
            )
        if not p.items:
            self._take_newest_of_track(p)
        if not p.complete:
            self._pending.append(p)
        else:
            self._cut(p)
        return p

    def _take_newest_of_track(self, p: PendingBundle, n: int = 10) -> None:
        """A violation decided after its frames were evicted (a track ended long after the moment on
        a loaded box): its bundle takes the newest buffered frames that show the vehicle, flagged, so the
        violation is still written and reviewed rather than lost."""
        tid = p.violation.track_id
        shows = [
            b
            for b in self.ring
            if b.detections is not None
            and b.detections.tracker_id is not None
            and bool((b.detections.tracker_id == tid).any())
        ]
        for item in (shows or list(self.ring))[-n:]:
            p.items[item.index] = item
        if p.items:
            p.late = True
            p.complete = True
            log.warning(
                "%s: its frames had left the ring; the bundle takes the %d newest frames of the track",
                p.violation.event_key,
                len(p.items),
            )

    def flush(self) -> list[PendingBundle]:
        """End of stream: every waiting bundle completes with the frames it has."""
        done = self._pending
        for p in done:
            p.complete = True
            p.truncated = True
            self._cut(p)
        self._pending = []
        return done
