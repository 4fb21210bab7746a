"""Output sinks off the hot path: frame results handed to a worker thread through a bounded queue.

The track records and the preview (JSON encoding, drawing, MP4 encoding) run on their own thread so
the frame loop never waits for them. The queue waits when full (a replay's outputs lose nothing; on a
live camera a full output queue slows the loop, which the detection schedule then absorbs), and counts
its depth. Each result is copied for the worker: the frame and its detections are immutable here, and
the track paths the preview draws are cut to their recent points, so the hot path can go on appending.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from detector.pipeline import FrameResult, FrameSink
from detector.runtime.capture import BoundedQueue
from detector.types import Track, Violation

log = logging.getLogger(__name__)

PATH_POINTS = 40  # the preview draws each track's last 40 points


_NO_IMAGE = np.zeros((1, 1, 3), np.uint8)


def _snapshot(result: FrameResult, keep_image: bool) -> FrameResult:
    """What the worker needs of a result: the track paths cut to their recent points, and the frame's
    image only if a sink draws on it (a 1080p frame is 6 MB; the track records need none)."""
    frame = result.frame
    if not keep_image:
        frame = replace(frame, image=_NO_IMAGE)
    tracks = {}
    for tid in result.active:
        track = result.tracks.get(tid)
        if track is not None:
            tracks[tid] = Track(track_id=tid, points=track.points[-PATH_POINTS:])
    for v in result.violations:
        track = result.tracks.get(v.track_id)
        if track is not None and v.track_id not in tracks:
            tracks[v.track_id] = Track(track_id=v.track_id, points=track.points[-PATH_POINTS:])
    return replace(result, frame=frame, tracks=tracks)


class ThreadedSinks:
    """Runs `sinks` on one worker thread, in frame order. A sink's error stops the worker and is raised
    by the next `write`, `finish` or `close` (never silently lost)."""

    def __init__(
        self,
        sinks: Sequence[FrameSink],
        queue_size: int = 64,
        name: str = "outputs",
        needs_image: bool = True,
    ) -> None:
        self.sinks = list(sinks)
        self.needs_image = needs_image
        self.queue: BoundedQueue[tuple[str, object]] = BoundedQueue(queue_size, policy="wait")
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._closed = False

    def _run(self) -> None:
        while (item := self.queue.get()) is not None or not self.queue.closed:
            if item is None:
                continue
            kind, payload = item
            try:
                for sink in self.sinks:
                    if kind == "write":
                        sink.write(payload)  # type: ignore[arg-type]
                    else:
                        sink.finish(payload)  # type: ignore[arg-type]
            except BaseException as exc:  # handed to the frame loop, which raises it
                log.exception("output worker failed")
                self.error = exc
                self.queue.close()
                return

    def _raise(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"output writer failed: {self.error}") from self.error

    def write(self, result: FrameResult) -> None:
        self._raise()
        self.queue.put(("write", _snapshot(result, self.needs_image)))

    def finish(self, late: Sequence[Violation]) -> None:
        self._raise()
        self.queue.put(("finish", tuple(late)))

    @property
    def backlog(self) -> int:
        return len(self.queue)

    def close(self) -> None:
        """Drain what is queued, stop the worker, close every sink."""
        if self._closed:
            return
        self._closed = True
        self.queue.close()
        self._thread.join()
        for sink in self.sinks:
            sink.close()
        self._raise()
