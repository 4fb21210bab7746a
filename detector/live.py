"""Edge loop for live sources: a capture thread feeding a bounded queue that counts what it drops.

When processing falls behind the camera, the oldest waiting frame is dropped (the freshest view of
the road matters more than a backlog) and counted, so the operator sees how much was skipped.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from detector.errors import SourceError
from detector.sources import FrameSource
from detector.types import Frame

log = logging.getLogger(__name__)


@dataclass
class QueueStats:
    put: int = 0
    dropped: int = 0
    taken: int = 0


class BoundedFrameQueue:
    """A drop-oldest queue of frames. `close()` wakes a waiting consumer."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self._items: deque[Frame] = deque()
        self._maxsize = maxsize
        self._cond = threading.Condition()
        self._closed = False
        self.stats = QueueStats()

    def put(self, frame: Frame) -> None:
        with self._cond:
            if len(self._items) >= self._maxsize:
                self._items.popleft()
                self.stats.dropped += 1
            self._items.append(frame)
            self.stats.put += 1
            self._cond.notify()

    def get(self, timeout: float | None = None) -> Frame | None:
        """The next frame, or None once closed and empty (or on timeout)."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            if self._items:
                self.stats.taken += 1
                return self._items.popleft()
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


class CaptureThread:
    """Reads a source into a bounded queue on its own thread; errors are kept for the consumer."""

    def __init__(self, source: FrameSource, queue: BoundedFrameQueue) -> None:
        self.source = source
        self.queue = queue
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capture-{source.info.source_id}", daemon=True)

    def start(self) -> CaptureThread:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            for frame in self.source:
                if self._stop.is_set():
                    break
                self.queue.put(frame)
        except BaseException as exc:  # handed to the consumer thread, which raises it
            self.error = exc
        finally:
            self.queue.close()

    def frames(self) -> Iterator[Frame]:
        """Frames as the consumer can take them; raises the capture error at the end, if any."""
        while True:
            frame = self.queue.get(timeout=0.5)
            if frame is not None:
                yield frame
                continue
            if self.queue.closed and len(self.queue) == 0:
                break
        if self.error is not None:
            if isinstance(self.error, SourceError):
                raise self.error
            raise SourceError(f"capture from {self.source.info.source_id} failed: {self.error}") from self.error

    def close(self) -> None:
        self._stop.set()
        self.queue.close()
        self._thread.join(timeout=5)
        self.source.close()
