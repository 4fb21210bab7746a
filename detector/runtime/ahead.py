"""Detection ahead of the tracker: the detector runs on the next frames while the loop tracks this one.

On a 2-core box one inference at a time cannot use both cores well: onnxruntime's two threads meet
at every layer (a parallel section costs a wake-up, or a spin), and while the loop's own thread
tracks, judges and hands out a frame, the second core waits. Here the detector runs on worker
threads, each inference on one onnxruntime thread, on up to `runtime.detect_ahead` frames beyond the
one being tracked; the loop takes their detections in frame order.

Which frames are detected is decided when a frame is taken from the capture queue, from the tracks
as they stood `detect_ahead` frames earlier (the scheduler's reach covers those frames too). A replay
always decides at that fixed distance, so it reproduces whatever the machine's speed; a live camera
tracks a frame as soon as nothing newer waits, so it adds no latency when it keeps up.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from detector.detect import Detector
from detector.detect.base import detect_in
from detector.geometry.crop import Crop
from detector.types import Detections, Frame

log = logging.getLogger(__name__)


class DetectAhead:
    """A pool of `workers` threads running one detector; `submit` returns the frame's detections later."""

    def __init__(self, detector: Detector, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.detector = detector
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="detect")
        self._lock = threading.Lock()
        self.busy_s = 0.0  # wall time spent detecting, summed over the workers
        self.cpu_s = 0.0  # the workers' CPU time (onnxruntime's own threads, if any, not included)
        self.submitted = 0

    def submit(self, frame: Frame, crop: Crop | None = None) -> Future[Detections]:
        """Detect `frame` (only inside `crop`, if given) on a worker."""
        self.submitted += 1
        return self._pool.submit(self._detect, frame, crop)

    def _detect(self, frame: Frame, crop: Crop | None) -> Detections:
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return detect_in(self.detector, frame, crop)
        finally:
            with self._lock:
                self.busy_s += time.perf_counter() - t0
                self.cpu_s += time.thread_time() - c0

    def close(self) -> None:
        """Wait for the detections in flight, then stop the workers."""
        self._pool.shutdown(wait=True, cancel_futures=True)
