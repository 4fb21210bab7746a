"""The per-frame engine: detect (or predict) -> track -> rules -> sinks; `detector.runtime` drives it.

The pipeline never reads the wall clock: every decision is a function of the frames and their
stream timestamps, so replaying a file reproduces the same tracks and violations.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from detector.config import CameraConfig
from detector.detect import Detector, ModelInfo, create_detector
from detector.detect.base import detect_in
from detector.geometry.crop import Crop
from detector.ignore import IgnoreMask
from detector.riders.associate import RiderAssociator, RiderFrame
from detector.riders.helmet import HelmetClassifier
from detector.riders.stage import RiderRules
from detector.track import ByteTracker, TrackStore
from detector.types import Detections, Frame, Track, Violation

log = logging.getLogger(__name__)


class ViolationStage(Protocol):
    """Turns tracks into violations (the rules engine); pure of the wall clock."""

    def process(self, frame: Frame, tracks: dict[int, Track], active: Sequence[int]) -> list[Violation]: ...

    def finish(self, tracks: dict[int, Track]) -> list[Violation]: ...

    def display_state(self) -> object | None:
        """What the preview should draw of this stage's state (e.g. the signal phase), or None."""
        ...

    def close(self) -> None: ...


class FrameSink(Protocol):
    """Receives every processed frame (outputs: records, preview, evidence, feed)."""

    def write(self, result: FrameResult) -> None: ...

    def finish(self, late: Sequence[Violation]) -> None:
        """End of stream: violations decided only now (their frames were already written)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class FrameResult:
    frame: Frame
    detections: Detections  # this frame's tracked detections
    tracks: dict[int, Track]
    active: tuple[int, ...]
    violations: tuple[Violation, ...]
    overlay: object | None = None  # the violation stage's display state (e.g. the signal phase)
    riders: RiderFrame | None = (
        None  # riders of this frame's two-wheelers (their rows are not in `detections`)
    )


@dataclass
class StageTimes:
    """Seconds spent per stage, for the summary and benchmarks."""

    decode: float = 0.0
    detect: float = 0.0
    detected_frames: int = 0  # frames the detector ran on (the others were carried by prediction)
    track: float = 0.0
    rules: float = 0.0
    output: float = 0.0
    frames: int = 0

    def fps(self, stage: str) -> float:
        spent: float = getattr(self, stage)
        return self.frames / spent if spent > 0 else float("inf")


@dataclass
class RunSummary:
    camera_id: str
    frames: int = 0
    stream_seconds: float = 0.0
    tracks: int = 0
    tracks_by_class: dict[str, int] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    times: StageTimes = field(default_factory=StageTimes)
    dropped_frames: int = 0
    models: list[ModelInfo] = field(default_factory=list)
    runtime: dict[str, object] = field(default_factory=dict)  # the frame loop's figures (queues, latency)


def _helmet(cfg: CameraConfig) -> HelmetClassifier | None:
    return HelmetClassifier(cfg.riders.helmet) if cfg.riders.enabled and cfg.riders.helmet.enabled else None


class Pipeline:
    """Runs detection, tracking and the violation stage on a stream of frames.

    `perf_counter` is injected only to measure stage times for the summary; it never affects a
    decision.
    """

    def __init__(
        self,
        cfg: CameraConfig,
        fps: float,
        detector: Detector | None = None,
        violation_stage: ViolationStage | None = None,
        sinks: Sequence[FrameSink] = (),
        perf_counter: Callable[[], float] = time.perf_counter,
        rider_rules: RiderRules | None = None,
    ) -> None:
        self.cfg = cfg
        self.detector = detector or create_detector(cfg.detector)
        self.ignore = IgnoreMask.from_config(cfg.ignore)
        self.ignored_detections = 0  # discarded by the ignore mask (overlays), counted
        self.tracker = ByteTracker(cfg.tracker, fps)
        self.store = TrackStore(
            max_history=cfg.tracker.max_history,
            forget_after_s=cfg.tracker.forget_after_s,
            on_finished=self._count_track,
        )
        self.riders = (
            RiderAssociator(cfg.riders.association, forget_after_s=cfg.tracker.forget_after_s)
            if cfg.riders.enabled
            else None
        )
        self.rider_rules = (
            rider_rules
            if rider_rules is not None or not cfg.riders.enabled
            else RiderRules(cfg.riders, cfg.camera_id, helmet=_helmet(cfg))
        )
        self.violation_stage = violation_stage
        self.sinks = list(sinks)
        self._clock = perf_counter
        self.summary = RunSummary(camera_id=cfg.camera_id, models=[self.detector.model])
        self._classes_seen: dict[str, int] = {}  # forgotten tracks by class (bounded over days)
        self._finished = False

    def _count_track(self, track: Track) -> None:
        cls = track.class_name
        self._classes_seen[cls] = self._classes_seen.get(cls, 0) + 1

    @property
    def tracks_seen(self) -> int:
        return sum(self._classes_seen.values()) + len(self.store.tracks)

    def process(
        self,
        frame: Frame,
        detect: bool = True,
        detections: Detections | None = None,
        crop: Crop | None = None,
    ) -> FrameResult:
        """One frame: detect and track it, or (`detect=False`) carry the tracks by their motion.
        `detections`: this frame's, already found (detection ahead of the tracker, runtime/ahead.py);
        `crop`: they were found in this part of the frame only (the tracks outside it are carried)."""
        c = self._clock
        t0 = c()
        riders: RiderFrame | None = None
        if detect:
            dets = detections if detections is not None else detect_in(self.detector, frame, crop)
            if self.ignore and len(dets):
                keep = self.ignore.keep(dets.xyxy)
                self.ignored_detections += int((~keep).sum())
                dets = dets[keep]
            t1 = c()
            tracked, active, riders = self._track_detected(frame, dets, crop)
        else:
            t1 = c()
            tracked, active = self.store.predict(frame)
            if self.riders is not None:
                riders = self.riders.carry(tracked, frame.index)
                tracked = riders.road_users
        t2 = c()
        tracks = self.store.tracks
        violations: list[Violation] = []
        if self.violation_stage is not None:
            violations = self._with_riders(self.violation_stage.process(frame, tracks, active))
        if self.rider_rules is not None:
            run_id = getattr(
                self.violation_stage, "run_id", ""
            )  # a live run's id, as the rules stage stamps it
            violations += [replace(v, run_id=run_id) for v in self.rider_rules.process(frame, riders)]
        t3 = c()
        overlay = self.violation_stage.display_state() if self.violation_stage is not None else None
        result = FrameResult(
            frame=frame,
            detections=tracked,
            tracks=tracks,
            active=tuple(active),
            violations=tuple(violations),
            overlay=overlay,
            riders=riders,
        )
        for sink in self.sinks:
            sink.write(result)
        t4 = c()
        times = self.summary.times
        times.detect += t1 - t0
        times.track += t2 - t1
        if self.violation_stage is not None or self.rider_rules is not None:
            times.rules += t3 - t2
        times.output += t4 - t3
        times.frames += 1
        self.summary.frames += 1
        self.summary.stream_seconds = frame.timestamp
        self.summary.violations.extend(violations)
        return result

    def _track_detected(
        self, frame: Frame, dets: Detections, crop: Crop | None
    ) -> tuple[Detections, list[int], RiderFrame | None]:
        """Track a detected frame: (its road users' rows, active ids, riders). With a `crop`, the tracks
        outside it are carried by their motion, as on a frame without detection."""
        self.summary.times.detected_frames += 1
        tracked = self.tracker.update(dets, frame.timestamp, crop)
        riders, associator = None, self.riders
        if associator is not None:
            riders = associator.update(tracked, frame.timestamp, frame.index)
            tracked = riders.road_users
            for tid in riders.rider_ids:  # a rider is part of its two-wheeler, not a road user of its own
                self.store.tracks.pop(tid, None)
        if crop is None:
            return tracked, self.store.update(frame, tracked), riders
        active, moved = self.store.update_part(frame, tracked, self.tracker.carried)
        if not len(moved):
            return tracked, active, riders
        if riders is not None and associator is not None:
            riders = riders.with_carried(associator.carry(moved, frame.index))
            return riders.road_users, active, riders
        seen = Detections(tracked.xyxy, tracked.confidence, tracked.class_id, tracked.tracker_id)
        seen.data["predicted"] = np.zeros(len(seen), dtype=bool)
        return Detections.merge([seen, moved]), active, riders

    def _with_riders(self, violations: list[Violation]) -> list[Violation]:
        """Each two-wheeler's violation carries the number of people riding it."""
        if self.riders is None:
            return violations
        return [
            replace(v, riders=self.riders.count(v.track_id))
            if v.vehicle_class in ("motorcycle", "bicycle")
            else v
            for v in violations
        ]

    def finish(self) -> list[Violation]:
        """Flush the violation stage and tell the sinks; call once, after the last frame."""
        if self._finished:
            return []
        self._finished = True
        late: list[Violation] = []
        if self.violation_stage is not None:
            late = self._with_riders(self.violation_stage.finish(self.store.tracks))
            self.summary.violations.extend(late)
        for sink in self.sinks:
            sink.finish(late)
        by_class = dict(self._classes_seen)
        for track in self.store.tracks.values():
            by_class[track.class_name] = by_class.get(track.class_name, 0) + 1
        self.summary.tracks = sum(by_class.values())
        self.summary.tracks_by_class = dict(sorted(by_class.items()))
        return late

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
        if self.violation_stage is not None:
            self.violation_stage.close()
        self.tracker.close()
        if self.riders is not None:
            self.riders.close()
        if self.rider_rules is not None:
            self.rider_rules.close()
        self.detector.close()
