"""The frame loop of `detector replay` and `detector run`: one loop, a file or a camera.

    capture thread --(bounded queue)--> detect or predict -> track -> signal + rules --> outputs thread
                                                                                    \\-> evidence worker
                                                                                        (plates, bundle,
                                                                                         store ingest)

A replay is a run whose capture queue waits for the loop (no frame is ever dropped) and whose time
comes from the file. A live camera's reader waits for the loop too, until the loop is
`runtime.max_lag_s` behind the camera; only then does it drop the oldest frames (counted). While
frames wait, the detection schedule skips periodic detections, so the loop catches up and every
frame that was captured still reaches the tracker and the rules. The hot path never waits on OCR, encoding or
the database: those run on the evidence worker; the track records and preview on the outputs thread.

Wall-clock time is read here only for figures (latency, fps, the status file), never for a decision.
"""

from __future__ import annotations

import json
import logging
import resource
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from detector.assemble import BuiltPipeline
from detector.classes import COCO_ROAD_USERS
from detector.config import RuntimeConfig
from detector.detect.base import region_detector
from detector.fsutil import atomic_write_text
from detector.geometry.crop import Crop
from detector.pipeline import FrameResult, RunSummary
from detector.runtime.ahead import DetectAhead
from detector.runtime.capture import BoundedQueue, Captured, CaptureThread, Policy
from detector.runtime.notify import SystemdNotifier
from detector.runtime.schedule import DetectionScheduler
from detector.runtime.sinks import ThreadedSinks
from detector.signals import Phase, SignalState
from detector.sources import FrameSource
from detector.types import Detections

log = logging.getLogger(__name__)

REPLAY_QUEUE = 4  # decoded frames a replay's reader keeps ahead of the loop
LATENCY_BINS_MS = 10_000  # 1 ms bins: a bounded histogram over days of frames


def _process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class LatencyHistogram:
    """Per-frame latency (capture to decision) in 1 ms bins; bounded memory whatever the run's length."""

    def __init__(self) -> None:
        self.counts = np.zeros(LATENCY_BINS_MS + 1, dtype=np.int64)
        self.max_ms = 0.0

    def add(self, seconds: float) -> None:
        ms = seconds * 1000.0
        self.max_ms = max(self.max_ms, ms)
        self.counts[min(int(ms), LATENCY_BINS_MS)] += 1

    def percentile(self, q: float) -> float:
        total = int(self.counts.sum())
        if total == 0:
            return 0.0
        idx = int(np.searchsorted(np.cumsum(self.counts), q / 100.0 * total))
        return float(min(idx + 1, LATENCY_BINS_MS))  # upper edge of the bin

    def as_dict(self) -> dict[str, float]:
        return {
            "p50": self.percentile(50),
            "p95": self.percentile(95),
            "p99": self.percentile(99),
            "max": round(self.max_ms, 1),
        }


@dataclass(frozen=True)
class _Pending:
    """A frame taken from the capture queue, waiting to be tracked (its detection may be running)."""

    item: Captured
    taken: float  # when the loop took it (processing latency starts here)
    detect: bool
    future: Future[Detections] | None  # its detection, running ahead; None: predicted, or detected inline
    crop: Crop | None = None  # detected in this part of the frame only


@dataclass
class LoopOptions:
    live: bool = False
    max_frames: int | None = None
    duration_s: float | None = None  # stop after this much wall time (live)
    status_path: Path | None = None  # a status file rewritten every `status_every_s` (health checks)
    status_every_s: float = 5.0
    on_result: Callable[[FrameResult], None] | None = None  # progress and printing, on the loop's thread
    notifier: SystemdNotifier = field(
        default_factory=lambda: SystemdNotifier(environ={})
    )  # no-op unless given
    stop: threading.Event = field(default_factory=threading.Event)  # set by a signal handler to stop cleanly


class FrameLoop:
    """Runs a built pipeline over a source; `run()` returns the summary with the loop's figures."""

    def __init__(
        self,
        built: BuiltPipeline,
        source: FrameSource,
        cfg: RuntimeConfig,
        options: LoopOptions,
        clock: Callable[[], float] = time.perf_counter,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.built = built
        self.source = source
        self.cfg = cfg
        self.opts = options
        self._clock = clock
        self._wall = wall
        self.pipeline = built.pipeline
        stage = self.pipeline.violation_stage
        scene = getattr(getattr(stage, "engine", None), "scene", None)
        regional = region_detector(self.pipeline.detector)  # forced detections in crops, if it can
        self.scheduler = DetectionScheduler(cfg, scene, regional.plan_crop if regional is not None else None)
        self._crop_avoid = frozenset(
            i for i, name in COCO_ROAD_USERS.items() if name in cfg.crop_avoid_classes
        )
        self.ahead: DetectAhead | None = None
        if cfg.detect_ahead > 0:
            self.ahead = DetectAhead(self.pipeline.detector, cfg.detect_workers)
        self._active: tuple[int, ...] = ()
        self.latency = LatencyHistogram()  # capture -> decision (what a live camera waits)
        self.processing = LatencyHistogram()  # taken from the queue -> decision
        policy: Policy = "drop_oldest" if options.live else "wait"
        # a file waits for the loop: a few decoded frames ahead keep it busy (each 1080p frame is 6 MB)
        # (the frames whose detection runs ahead, and the one being tracked, are read ahead too)
        held = cfg.detect_ahead + 1 if cfg.detect_ahead else 0
        size = cfg.queue_size if options.live else min(cfg.queue_size, max(1, REPLAY_QUEUE - held))
        self.queue: BoundedQueue[Captured] = BoundedQueue(size, policy=policy)
        self.outputs = ThreadedSinks(
            built.output_sinks, cfg.output_queue_size, needs_image=built.preview is not None
        )
        self.pipeline.sinks = [self.outputs, *built.inline_sinks]
        self._started = 0.0
        self._cpu0 = (0.0, 0.0)  # (loop thread, process) CPU seconds at the start
        self.loop_cpu_s = 0.0
        self.capture_cpu_s = 0.0
        self._steady_from: tuple[int, float] | None = None
        self._last_status = -1e9
        self.capture: CaptureThread | None = None

    def run(self) -> RunSummary:
        max_lag = self.cfg.max_lag_s if self.opts.live else None
        capture = CaptureThread(self.source, self.queue, clock=self._clock, max_lag_s=max_lag).start()
        self.capture = capture
        self._started = self._clock()
        self._cpu0 = (time.thread_time(), _process_cpu_s())
        self.opts.notifier.ready(f"watching {self.pipeline.cfg.camera_id}")
        try:
            self._loop(capture)
            self.pipeline.finish()
        finally:
            self.loop_cpu_s = time.thread_time() - self._cpu0[0]
            self.opts.notifier.stopping()
            capture.close()
            self.capture_cpu_s = capture.cpu_s
            self.pipeline.summary.times.decode = capture.decode_s
            if self.ahead is not None:
                self.ahead.close()
                self.pipeline.summary.times.detect = self.ahead.busy_s
        return self.pipeline.summary

    def _loop(self, capture: CaptureThread) -> None:
        """Take frames, decide which are detected, start their detection, and track them in order.

        A frame is tracked once `detect_ahead` newer frames have been taken (their detections run
        meanwhile); a live camera's frame as soon as nothing newer waits in the capture queue."""
        opts = self.opts
        pending: deque[_Pending] = deque()
        for taken_n, item in enumerate(capture.frames(idle=opts.notifier.watchdog), start=1):
            pending.append(self._take(item, capture))
            while pending and (len(pending) > self.cfg.detect_ahead or (opts.live and capture.backlog == 0)):
                self._track(pending.popleft())
            if self._should_stop(taken_n):
                break
        while pending:  # the frames already taken are tracked: a stop loses none of them
            self._track(pending.popleft())

    def _take(self, item: Captured, capture: CaptureThread) -> _Pending:
        taken = self._clock()
        frame = item.frame
        decision = self.scheduler.decide(
            frame.index,
            self.pipeline.store.tracks,
            self._active,
            self.opts.live and capture.backlog > 0,
            tentative=self.pipeline.tracker.tentative_boxes(),
            phase=self._phase(),
            frame_size=(frame.width, frame.height),
            crop_avoid=self.pipeline.tracker.boxes_of(self._crop_avoid) if self.scheduler.planner else None,
        )
        future = None
        if decision.detect and self.ahead is not None:
            future = self.ahead.submit(frame, decision.crop)
        return _Pending(item, taken, decision.detect, future, decision.crop)

    def _phase(self) -> Phase | None:
        """The signal phase as the rules last judged it (None without rules or a signal)."""
        stage = self.pipeline.violation_stage
        state = stage.display_state() if stage is not None else None
        return state.phase if isinstance(state, SignalState) else None

    def _track(self, p: _Pending) -> None:
        detections = p.future.result() if p.future is not None else None
        result = self.pipeline.process(p.item.frame, detect=p.detect, detections=detections, crop=p.crop)
        now = self._clock()
        self.latency.add(now - p.item.captured_at)
        self.processing.add(now - p.taken)
        self._active = result.active
        n = self.pipeline.summary.frames
        if n == 10:
            self._steady_from = (n, now)
        if self.opts.on_result is not None:
            self.opts.on_result(result)
        self._heartbeat(now)

    def _should_stop(self, taken: int) -> bool:
        opts = self.opts
        return bool(
            (opts.max_frames and taken >= opts.max_frames)
            or opts.stop.is_set()
            or (opts.duration_s is not None and self._clock() - self._started >= opts.duration_s)
        )

    def _heartbeat(self, now: float) -> None:
        self.opts.notifier.watchdog()
        if now - self._last_status < self.opts.status_every_s:
            return
        self._last_status = now
        figures = self.figures()
        self.opts.notifier.status(
            f"{figures['frames']} frames, {figures['fps']:.1f} fps, {figures['dropped']} dropped"
        )
        if self.opts.status_path is not None:
            record = {"updated_at": self._wall(), "camera_id": self.pipeline.cfg.camera_id, **figures}
            try:
                atomic_write_text(self.opts.status_path, json.dumps(record, indent=2))
            except OSError as exc:  # a full disk must not stop the camera
                log.warning("cannot write status file %s: %s", self.opts.status_path, exc)

    def figures(self) -> dict[str, object]:
        """The loop's figures so far: what the status file, the summary and the benchmarks read."""
        now = self._clock()
        frames = self.pipeline.summary.frames
        elapsed = now - self._started
        steady = 0.0
        if self._steady_from is not None and frames > self._steady_from[0] and now > self._steady_from[1]:
            steady = (frames - self._steady_from[0]) / (now - self._steady_from[1])
        q = self.queue.stats
        return {
            "frames": frames,
            "fps": frames / elapsed if elapsed > 0 else 0.0,
            "steady_fps": round(steady, 2),
            "dropped": q.dropped,
            "max_lag_s": round(self.capture.lag.max_s, 2) if self.capture is not None else 0.0,
            "capture_queue": q.as_dict(),
            "output_queue": self.outputs.queue.stats.as_dict(),
            "evidence_pending": self.built.evidence.pending if self.built.evidence is not None else 0,
            "schedule": self.scheduler.stats.as_dict(),
            "latency_ms": self.latency.as_dict(),
            "processing_ms": self.processing.as_dict(),
            "cpu_s": self._cpu(frames),
            "packet_ring": ring.stats.as_dict() if (ring := getattr(self.source, "packets", None)) else {},
        }

    def _cpu(self, frames: int) -> dict[str, float]:
        """CPU seconds of the run (load-independent figures): the loop thread (detect or predict,
        track, rules; not onnxruntime's own threads), the capture thread and the whole process, and
        the milliseconds of each per processed frame. Thread figures are final once the loop ended."""
        process = _process_cpu_s() - self._cpu0[1]
        evidence = self.built.evidence.worker_cpu_s if self.built.evidence is not None else 0.0
        out = {
            "loop": round(self.loop_cpu_s, 2),
            "capture": round(self.capture_cpu_s, 2),
            "detect_workers": round(self.ahead.cpu_s, 2) if self.ahead is not None else 0.0,
            "evidence_worker": round(evidence, 2),
            "process": round(process, 2),
        }
        if frames:
            out.update({f"{k}_ms_per_frame": round(v * 1000 / frames, 2) for k, v in list(out.items())})
        return out

    def close(self) -> None:
        """Drain the outputs and the evidence worker, then close every stage."""
        try:
            self.pipeline.summary.dropped_frames = self.queue.stats.dropped
            self.pipeline.summary.runtime = self.figures()
        finally:
            if self.ahead is not None:
                self.ahead.close()
            self.built.close()
        # the evidence worker's CPU counts what it did while draining, too
        self.pipeline.summary.runtime["cpu_s"] = self._cpu(self.pipeline.summary.frames)
