"""Capture: a source read on its own thread into a bounded queue that counts what it drops.

A replay's queue makes the reader wait (a file never loses a frame). A live camera's reader waits
too while the loop is less than `max_lag_s` behind the camera: the frames not yet decoded stay in the
connection, compressed (a few kB each, where a decoded 1080p frame is 6 MB), and the loop catches up
on them at its own pace. That absorbs what every live start and every reconnect brings: the stream
is already playing while the connection is probed and the models are loaded, so the first read finds
a second or more of frames waiting, delivered as fast as they decode. Only when the loop falls
further behind than `max_lag_s` does the reader drop the oldest decoded frame (the freshest view of
the road matters more than a backlog that keeps growing), counting each, until it is back within half
of that.

How far behind: a frame's wall-clock arrival minus its stream time, against the smallest such
difference seen on this connection (the frame read closest to real time). Each queued frame carries
the monotonic time it reached the camera's connection, so the loop measures each frame's latency
from capture to decision, the time it waited in the connection included.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from detector.errors import SourceError
from detector.sources import FrameSource
from detector.types import Frame

log = logging.getLogger(__name__)

T = TypeVar("T")
Policy = Literal["wait", "drop_oldest"]


@dataclass
class QueueStats:
    put: int = 0
    dropped: int = 0
    taken: int = 0
    max_depth: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"put": self.put, "dropped": self.dropped, "taken": self.taken, "max_depth": self.max_depth}


class BoundedQueue(Generic[T]):
    """A bounded FIFO. `wait`: a full queue blocks `put`; `drop_oldest`: it evicts and counts.

    `close()` wakes every waiter; a closed queue still hands out what it holds.
    """

    def __init__(self, maxsize: int, policy: Policy = "drop_oldest") -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self.policy = policy
        self._cond = threading.Condition()
        self._closed = False
        self.stats = QueueStats()

    def put(self, item: T, wait: bool | None = None) -> bool:
        """Queue `item`; False if the queue was closed (the item is not queued). `wait` overrides the
        queue's policy for this item (True: block while full; False: evict the oldest)."""
        with self._cond:
            if self.policy == "wait" if wait is None else wait:
                while len(self._items) >= self._maxsize and not self._closed:
                    self._cond.wait()
            if self._closed:
                return False
            if len(self._items) >= self._maxsize:
                self._items.popleft()
                self.stats.dropped += 1
            self._items.append(item)
            self.stats.put += 1
            self.stats.max_depth = max(self.stats.max_depth, len(self._items))
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> T | None:
        """The next item, or None once closed and empty (or on timeout)."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            if self._items:
                self.stats.taken += 1
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


@dataclass(frozen=True, slots=True)
class Captured:
    frame: Frame
    captured_at: float  # monotonic seconds when the frame reached the connection (latency only)


class LagMeter:
    """How far behind the camera the reader is, in seconds, from each frame's wall-clock arrival and
    stream time; the baseline (the frame read closest to real time) restarts with each connection."""

    def __init__(self) -> None:
        self._base: float | None = None
        self._connection = -1
        self.max_s = 0.0

    def update(self, frame: Frame, connection: int) -> float:
        if frame.wall_time is None:
            return 0.0
        offset = frame.wall_time - frame.timestamp
        if connection != self._connection or self._base is None:
            self._connection, self._base = connection, offset
        self._base = min(self._base, offset)
        lag = offset - self._base
        self.max_s = max(self.max_s, lag)
        return lag


class CaptureThread:
    """Reads a source into a bounded queue on its own thread; errors are kept for the consumer.

    `max_lag_s` (live cameras): the reader waits for the loop until it is this far behind the camera,
    then drops the oldest decoded frames until it is within half of it again. None: the queue's own
    policy decides every frame (a replay waits always)."""

    def __init__(
        self,
        source: FrameSource,
        queue: BoundedQueue[Captured],
        clock: Callable[[], float] = time.perf_counter,
        max_lag_s: float | None = None,
    ) -> None:
        self.source = source
        self.queue = queue
        self.error: BaseException | None = None
        self.decode_s = 0.0  # time spent reading and decoding frames
        self.cpu_s = 0.0  # CPU time of the capture thread (demux, decode, colour conversion)
        self.max_lag_s = max_lag_s
        self.lag = LagMeter()
        self.shedding = False  # dropping the oldest frames to get back within max_lag_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"capture-{source.info.source_id}", daemon=True
        )

    def start(self) -> CaptureThread:
        self._thread.start()
        return self

    def _wait_for_loop(self, frame: Frame) -> tuple[bool | None, float]:
        """Whether this frame's put may block, and how long it has waited in the connection."""
        if self.max_lag_s is None:
            return None, 0.0
        lag = self.lag.update(frame, getattr(self.source, "reconnects", 0))
        if not self.shedding and lag > self.max_lag_s:
            self.shedding = True
            log.warning(
                "%s: the loop is %.1f s behind the camera; dropping the oldest frames",
                self.source.info.source_id,
                lag,
            )
        elif self.shedding and lag <= self.max_lag_s / 2:
            self.shedding = False
            log.info("%s: back within %.1f s of the camera", self.source.info.source_id, lag)
        return not self.shedding, lag

    def _run(self) -> None:
        clock = self._clock
        cpu0 = time.thread_time()
        try:
            frames = iter(self.source)
            while True:
                t0 = clock()
                frame = next(frames, None)
                t1 = clock()
                self.decode_s += t1 - t0
                if frame is None or self._stop.is_set():
                    break
                wait, lag = self._wait_for_loop(frame)
                if not self.queue.put(Captured(frame, t1 - lag), wait=wait):
                    break
        except BaseException as exc:  # handed to the consumer thread, which raises it
            self.error = exc
        finally:
            self.cpu_s = time.thread_time() - cpu0
            self.queue.close()

    def frames(self, idle: Callable[[], object] | None = None) -> Iterator[Captured]:
        """Frames as the consumer can take them; raises the capture error at the end, if any.

        `idle` is called every half second while no frame comes (a camera reconnecting), so a
        service watchdog hears that the loop is alive."""
        while True:
            item = self.queue.get(timeout=0.5)
            if item is not None:
                yield item
                continue
            if idle is not None:
                idle()
            if self.queue.closed and len(self.queue) == 0:
                break
        if self.error is not None:
            if isinstance(self.error, SourceError):
                raise self.error
            raise SourceError(
                f"capture from {self.source.info.source_id} failed: {self.error}"
            ) from self.error

    @property
    def backlog(self) -> int:
        return len(self.queue)

    def close(self) -> None:
        self._stop.set()
        self.queue.close()
        self._thread.join(timeout=5)
        if self._thread.is_alive():
            log.warning("capture thread of %s did not stop within 5 s", self.source.info.source_id)
        self.source.close()
