"""Signal phase per camera: from the image (lamp boxes) or from the controller (plan or phase log).

Every source answers `update(frame) -> SignalState`. A state carries the phase, how long it has
lasted, the time into red and the amber that preceded the red, so a rule (and a reviewer) can judge
a crossing without looking at other frames. Time comes from the frame (stream seconds, or the
capture epoch for live controller feeds), never from the wall clock.
"""

from __future__ import annotations

import csv
import json
import logging
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from detector.config import ArrowConfig, LampConfig, SignalConfig, SignalPlanConfig
from detector.errors import ConfigError
from detector.types import Frame

log = logging.getLogger(__name__)


class Phase(StrEnum):
    RED = "red"
    AMBER = "amber"
    GREEN = "green"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class SignalState:
    """The signal as decided at one moment.

    since_s: time the current phase has lasted; time_into_red_s: since_s when red, else None;
    preceding_amber_s: duration of the amber right before this red (None when not red, or unknown,
    e.g. the stream started during red or red followed green directly). arrows: the turns whose
    arrow lamp is lit (vision sources with `signal.arrows`; empty otherwise).
    """

    phase: Phase
    since_s: float
    time_into_red_s: float | None
    preceding_amber_s: float | None
    arrows: frozenset[str] = frozenset()

    @classmethod
    def unknown(cls) -> SignalState:
        return cls(Phase.UNKNOWN, 0.0, None, None)


class SignalSource(Protocol):
    def update(self, frame: Frame) -> SignalState: ...


class NoSignal:
    """A camera without a signal: always UNKNOWN (red-light rules never fire)."""

    def state_at(self, t: float) -> SignalState:
        return SignalState.unknown()

    def update(self, frame: Frame) -> SignalState:
        return SignalState.unknown()


#: An UNKNOWN reading (no lamp lit) replaces the phase only after this many times the hysteresis.
UNKNOWN_HYSTERESIS_FACTOR = 5


class PhaseTracker:
    """Turns per-frame phase observations into states, with hysteresis.

    A new phase is accepted only after `hysteresis_frames` consecutive observations; its start is
    back-dated to the first of them. Shorter flickers leave the phase unchanged. The first phase of
    a stream has an unknown true start: its `since_s` counts from first sight (a lower bound) and an
    amber seen from the stream start has an unknown duration.
    """

    def __init__(self, hysteresis_frames: int = 3) -> None:
        self.hysteresis_frames = hysteresis_frames
        self._phase = Phase.UNKNOWN
        self._start = 0.0
        self._start_observed = False  # did we see the current phase begin?
        self._candidate: Phase | None = None
        self._cand_start = 0.0
        self._cand_count = 0
        self._amber_before_red: float | None = None

    def observe(self, timestamp: float, observed: Phase) -> SignalState:
        if observed == self._phase:
            self._candidate, self._cand_count = None, 0
        elif observed == self._candidate:
            self._cand_count += 1
        else:
            self._candidate, self._cand_start, self._cand_count = observed, timestamp, 1
        # "no lamp seen" (LED flicker, glare, occlusion) must last much longer before the phase is
        # dropped: a short dark spell keeps the phase and its timing
        needed = self.hysteresis_frames * (
            UNKNOWN_HYSTERESIS_FACTOR if self._candidate == Phase.UNKNOWN else 1
        )
        if self._candidate is not None and self._cand_count >= needed:
            self._switch(self._candidate, self._cand_start)
        return self.state(timestamp)

    def _switch(self, phase: Phase, start: float) -> None:
        if phase == Phase.RED:
            if self._phase == Phase.AMBER:
                self._amber_before_red = start - self._start if self._start_observed else None
            elif self._phase == Phase.GREEN:
                self._amber_before_red = 0.0
            else:
                self._amber_before_red = None
        self._start_observed = self._phase != Phase.UNKNOWN
        self._phase, self._start = phase, start
        self._candidate, self._cand_count = None, 0

    def state(self, timestamp: float) -> SignalState:
        if self._phase == Phase.UNKNOWN:
            return SignalState.unknown()
        since = max(0.0, timestamp - self._start)
        if self._phase == Phase.RED:
            return SignalState(Phase.RED, since, since, self._amber_before_red)
        return SignalState(self._phase, since, None, None)


_HUE_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    # OpenCV hue is 0..179
    "red": ((0, 12), (160, 179)),
    "amber": ((10, 35),),
    "green": ((40, 100),),
}


def lamp_lit_fraction(image: npt.NDArray[np.uint8], lamp: LampConfig | ArrowConfig, min_value: int) -> float:
    """Fraction of the lamp box's pixels that are bright and of the lamp's hue."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in lamp.box)
    x1, y1 = max(0, x1), max(0, y1)
    x2, y2 = min(w, x2), min(h, y2)
    if x2 <= x1 or y2 <= y1:
        return 0.0
    hsv = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    hue_ok = np.zeros(hue.shape, bool)
    for lo, hi in _HUE_RANGES[lamp.colour]:
        hue_ok |= (hue >= lo) & (hue <= hi)
    # a lamp can saturate the sensor to white in its centre: bright unsaturated pixels also count
    lit = (val >= min_value) & ((hue_ok & (sat >= 80)) | (sat < 40) & (val >= 240))
    return float(lit.mean())


def lamp_colour_fractions(
    image: npt.NDArray[np.uint8], box: Sequence[float], min_value: int
) -> dict[str, float]:
    """For a box around a signal head (or one lamp) whose lamp positions are unknown: the fraction of
    its pixels that are bright (value >= `min_value`), saturated and of each lamp colour's hue."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    if x2 <= x1 or y2 <= y1:
        return dict.fromkeys(_HUE_RANGES, 0.0)
    hsv = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    bright = (val >= min_value) & (sat >= 80)
    out = {}
    for colour, ranges in _HUE_RANGES.items():
        ok = np.zeros(hue.shape, bool)
        for lo, hi in ranges:
            ok |= (hue >= lo) & (hue <= hi)
        out[colour] = float((bright & ok).mean())
    return out


def classify_lamp_colour(
    image: npt.NDArray[np.uint8], box: Sequence[float], min_value: int = 140, min_fraction: float = 0.01
) -> Phase:
    """The colour lit in a box around a signal head whose lamp layout is unknown (a detector's or a
    labeller's box): the colour with the most bright, saturated pixels of its hue, if that is at least
    `min_fraction` of the box; UNKNOWN otherwise. Hue only: an over-exposed red that renders orange
    reads as amber (with per-lamp boxes, `VisionSignal` uses the lamp's position instead)."""
    fractions = lamp_colour_fractions(image, box, min_value)
    colour, frac = max(fractions.items(), key=lambda kv: kv[1])
    return Phase(colour) if frac >= min_fraction else Phase.UNKNOWN


class ArrowTracker:
    """One arrow lamp's lit/dark state with hysteresis: a change is accepted after `hysteresis_frames`
    consecutive observations of it (the first observation is taken as it is)."""

    def __init__(self, hysteresis_frames: int) -> None:
        self.hysteresis_frames = hysteresis_frames
        self.lit: bool | None = None
        self._count = 0

    def observe(self, lit: bool) -> bool:
        if self.lit is None or lit == self.lit:
            self.lit, self._count = lit, 0
            return lit
        self._count += 1
        if self._count >= self.hysteresis_frames:
            self.lit, self._count = lit, 0
        return self.lit


class VisionSignal:
    """Classifies the signal head from its lamp boxes each frame, then applies hysteresis; reads each
    turn arrow (lit or dark) the same way."""

    def __init__(
        self,
        lamps: Sequence[LampConfig],
        hysteresis_frames: int,
        min_value: int,
        min_fraction: float,
        arrows: Sequence[ArrowConfig] = (),
    ):
        self.lamps = list(lamps)
        self.arrows = list(arrows)
        self.min_value = min_value
        self.min_fraction = min_fraction
        self.tracker = PhaseTracker(hysteresis_frames)
        self._arrow_trackers = [ArrowTracker(hysteresis_frames) for _ in self.arrows]

    def arrows_lit(self, image: npt.NDArray[np.uint8]) -> frozenset[str]:
        """The turns whose arrow is lit in this image (no hysteresis)."""
        return frozenset(
            a.turn for a in self.arrows if lamp_lit_fraction(image, a, self.min_value) >= a.min_lit_fraction
        )

    def classify(self, image: npt.NDArray[np.uint8]) -> Phase:
        """The lit lamp with the largest lit fraction above the threshold; UNKNOWN if none is lit."""
        best, best_frac = Phase.UNKNOWN, self.min_fraction
        for lamp in self.lamps:
            frac = lamp_lit_fraction(image, lamp, self.min_value)
            if frac >= best_frac:
                best, best_frac = Phase(lamp.colour), frac
        return best

    def update(self, frame: Frame) -> SignalState:
        state = self.tracker.observe(frame.timestamp, self.classify(frame.image))
        if not self.arrows:
            return state
        seen = self.arrows_lit(frame.image)
        lit = frozenset(
            a.turn
            for a, tr in zip(self.arrows, self._arrow_trackers, strict=True)
            if tr.observe(a.turn in seen)
        )
        return replace(state, arrows=lit)


def _frame_time(frame: Frame, time_base: str) -> float:
    if time_base == "wall":
        if frame.wall_time is None:
            raise ConfigError("rules.signal.time_base=wall but the source gives no wall_time (a replay?)")
        return frame.wall_time
    return frame.timestamp


class PlanSignal:
    """A fixed-time plan: green, amber, red repeating from `offset_s`."""

    def __init__(self, plan: SignalPlanConfig, time_base: str = "stream") -> None:
        self.plan = plan
        self.time_base = time_base

    @property
    def cycle_s(self) -> float:
        return self.plan.green_s + self.plan.amber_s + self.plan.red_s

    def state_at(self, t: float) -> SignalState:
        p = self.plan
        u = (t - p.offset_s) % self.cycle_s
        if u < p.green_s:
            return SignalState(Phase.GREEN, u, None, None)
        if u < p.green_s + p.amber_s:
            return SignalState(Phase.AMBER, u - p.green_s, None, None)
        into = u - p.green_s - p.amber_s
        return SignalState(Phase.RED, into, into, p.amber_s)

    def update(self, frame: Frame) -> SignalState:
        return self.state_at(_frame_time(frame, self.time_base))


class PhaseLogSignal:
    """Timestamped phase changes from the controller (CSV with header timestamp,phase or JSONL)."""

    def __init__(self, changes: Sequence[tuple[float, Phase]], time_base: str = "stream") -> None:
        ordered = sorted(changes, key=lambda c: c[0])
        self.times = [t for t, _ in ordered]
        self.phases = [p for _, p in ordered]
        self.time_base = time_base

    @classmethod
    def from_file(cls, path: str | Path, time_base: str = "stream") -> PhaseLogSignal:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"rules.signal.file: {p} not found")
        changes: list[tuple[float, Phase]] = []
        line_no = 0
        try:
            if p.suffix.lower() in (".jsonl", ".json", ".ndjson"):
                for line_no, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):  # noqa: B007
                    if line.strip():
                        row = json.loads(line)
                        changes.append((float(row["timestamp"]), Phase(str(row["phase"]).lower())))
            else:
                with p.open(newline="", encoding="utf-8") as fh:
                    for line_no, rec in enumerate(csv.DictReader(fh), 2):  # noqa: B007
                        changes.append((float(rec["timestamp"]), Phase(rec["phase"].strip().lower())))
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise ConfigError(f"rules.signal.file: {p}: bad row at line {line_no}: {exc}") from exc
        if not changes:
            raise ConfigError(f"rules.signal.file: {p} holds no phase changes")
        return cls(changes, time_base)

    def state_at(self, t: float) -> SignalState:
        i = bisect_right(self.times, t) - 1
        if i < 0:
            return SignalState.unknown()
        phase, since = self.phases[i], t - self.times[i]
        if phase != Phase.RED:
            return SignalState(phase, since, None, None)
        amber: float | None = None
        if i >= 1 and self.phases[i - 1] == Phase.AMBER:
            amber = self.times[i] - self.times[i - 1]
        elif i >= 1 and self.phases[i - 1] == Phase.GREEN:
            amber = 0.0
        return SignalState(Phase.RED, since, since, amber)

    def update(self, frame: Frame) -> SignalState:
        return self.state_at(_frame_time(frame, self.time_base))


def signal_source_from_config(cfg: SignalConfig, base_dir: str | Path | None = None) -> SignalSource:
    """Build the configured source; a relative `file` resolves against `base_dir` (the config's folder)."""
    if cfg.source == "vision":
        return VisionSignal(
            cfg.lamps, cfg.hysteresis_frames, cfg.min_lit_value, cfg.min_lit_fraction, cfg.arrows
        )
    if cfg.source == "controller_plan":
        assert cfg.plan is not None
        return PlanSignal(cfg.plan, cfg.time_base)
    if cfg.source == "controller_file":
        assert cfg.file is not None
        path = Path(cfg.file)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        return PhaseLogSignal.from_file(path, cfg.time_base)
    return NoSignal()
