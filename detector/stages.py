"""Adapters that put the rules and plate stages behind the pipeline's small interfaces.

- `RulesStage`: the signal source plus the rule engine, as the pipeline's `ViolationStage`.
- `TrackPlateLookup`: reads the violator's plate over the frames of its evidence window (only
  vehicles that matter get plate detection), as the evidence sink's `plate_lookup`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from detector.config import RulesConfig
from detector.plates.reader import PlateReader, Sighting
from detector.plates.textdet import TextLineDetector
from detector.plates.vote import PlateObservation
from detector.rules.engine import RuleEngine
from detector.signals import SignalSource, SignalState, signal_source_from_config
from detector.types import Detections, Frame, PlateRead, Track, Violation

log = logging.getLogger(__name__)


def rules_configured(rules: RulesConfig) -> bool:
    z = rules.zones
    return bool(z.stop_lines or z.lanes or z.solid_lines or z.no_stopping_zones or rules.calibration)


class RulesStage:
    """Signal phase, then the rules, once per frame. Keeps the last signal state for drawing."""

    def __init__(
        self,
        rules: RulesConfig,
        camera_id: str,
        image_size: tuple[int, int] | None,
        config_dir: Path | None = None,
        signal: SignalSource | None = None,
        run_id: str = "",
    ) -> None:
        self.rules = rules
        self.run_id = run_id
        self.engine = RuleEngine.from_config(rules, camera_id, image_size)
        self.signal = signal or signal_source_from_config(rules.signal, config_dir)
        self.last_signal: SignalState = SignalState.unknown()

    def process(self, frame: Frame, tracks: dict[int, Track], active: Sequence[int]) -> list[Violation]:
        self.last_signal = self.signal.update(frame)
        return self._stamp(self.engine.update(frame.index, frame.timestamp, self.last_signal, tracks, active))

    def finish(self, tracks: dict[int, Track]) -> list[Violation]:
        return self._stamp(self.engine.finish())

    def _stamp(self, violations: list[Violation]) -> list[Violation]:
        if not self.run_id:
            return violations
        return [replace(v, run_id=self.run_id) for v in violations]

    def display_state(self) -> SignalState:
        return self.last_signal

    def close(self) -> None:
        """The engine holds no resources; its state goes with the object."""


class TrackPlateLookup:
    """Plate of a violator from the frames of its evidence window, as the evidence sink's
    `plate_lookup`: up to `max_frames` frames of the window, largest boxes first (nearest the camera),
    read by `PlateReader.read_track` (the plate detector, else the text detector's lines; the best
    readings voted). Returns the voted read and the crop of the reading that agrees with it best.
    """

    def __init__(
        self, reader: PlateReader, max_frames: int = 10, fallback: TextLineDetector | None = None
    ) -> None:
        self.reader = reader
        self.max_frames = max_frames
        self.fallback = fallback

    def _observe(
        self, frame: Frame, box: tuple[float, float, float, float]
    ) -> tuple[PlateObservation, np.ndarray] | None:
        """One frame's plate reading and crop (`PlateReader.read_sighting`; the hotlist stage reads
        every sighting this way)."""
        return self.reader.read_sighting(Sighting(frame.index, frame.image, box), self.fallback)

    def __call__(
        self, violation: Violation, frames: Sequence[Frame], detections_by_frame: Mapping[int, Detections]
    ) -> tuple[PlateRead | None, np.ndarray | None]:
        candidates: list[tuple[Frame, tuple[float, float, float, float]]] = []
        for frame in frames:
            dets = detections_by_frame.get(frame.index)
            if dets is None or dets.tracker_id is None:
                continue
            rows = np.flatnonzero((dets.tracker_id == violation.track_id) & ~dets.predicted)
            if rows.size:
                x1, y1, x2, y2 = (float(v) for v in dets.xyxy[int(rows[0])])
                candidates.append((frame, (x1, y1, x2, y2)))
        if not candidates:
            return None, None
        # prefer the frames where the vehicle is largest (nearest the camera)
        candidates.sort(key=lambda c: (c[1][2] - c[1][0]) * (c[1][3] - c[1][1]), reverse=True)
        picked = candidates[: self.max_frames]
        # a buffered frame may decode its image on each access: once, as read_track reaches it
        sightings = (Sighting(frame.index, frame.image, box) for frame, box in picked)
        track = self.reader.read_track(sightings, self.fallback)
        if track is None:
            log.info("track %d: no readable plate in %d frames", violation.track_id, len(picked))
            return None, None
        return track.read, track.crop

    def close(self) -> None:
        self.reader.close()
        if self.fallback is not None:
            self.fallback.close()
