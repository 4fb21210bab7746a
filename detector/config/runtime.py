"""The `runtime` section of a camera config: how the frame loop spends the box's CPU, and what it
does when the disk fills."""

from __future__ import annotations

from pydantic import Field, field_validator

from detector.base import FrozenModel
from detector.classes import COCO_ROAD_USERS


class DiskConfig(FrozenModel):
    """Free-space thresholds of the output filesystem."""

    shed_below_mb: float = Field(
        default=1024.0, ge=0, description="Below this much free space previews and track records are shed"
    )
    floor_mb: float = Field(
        default=128.0, ge=0, description="Below this no new evidence bundle is started (decisions go on)"
    )
    check_every: int = Field(default=30, ge=1, description="Measure free space at most every N writes")


class RuntimeConfig(FrozenModel):
    """How the frame loop spends the box's CPU: which frames are detected, what may wait."""

    disk: DiskConfig = Field(
        default_factory=DiskConfig, description="Free-space thresholds: shed, then floor"
    )

    detect_every: int = Field(
        default=2,
        ge=1,
        le=10,
        description="Run the detector on every Nth frame; the tracker's motion carries the tracks between "
        "(every frame still reaches the tracker and the rules). Decisive frames are always detected.",
    )
    detect_ahead: int = Field(
        default=2,
        ge=0,
        le=8,
        description="Frames the detector may run ahead of the tracker: which frames are detected is decided "
        "from the tracks this many frames earlier (the full-rate reach covers them), so detection of the next "
        "frames overlaps tracking and rules. 0: one frame at a time. A replay's results depend on it, not on "
        "the machine's speed",
    )
    detect_workers: int = Field(
        default=2,
        ge=1,
        le=8,
        description="Detections run at once when `detect_ahead` > 0, sharing `detector.threads` (2 workers of "
        "2 threads: one onnxruntime thread each). On 2 cores two single-thread inferences side by side do more "
        "per second than one on two threads, in a replay and on a live camera alike (measured on 10 minutes "
        "of RTSP: p95 latency 235 ms with 2 workers, 442 ms with 1; benchmarks/RESULTS.md)",
    )
    full_rate_margin_px: float = Field(
        default=40.0,
        ge=0,
        description="Detect every frame while a track's ground point is within this many pixels of a stop line "
        "or solid line, or can reach one before the next periodic detection",
    )
    crop_max_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="A detection forced between periodic ones (a track near a decision, a young track) runs on "
        "a crop around the tracks that force it, at the whole frame's scale, when that crop is at most this "
        "share of the frame; the tracks outside it are carried by their motion. 0 (the default): always the "
        "whole frame. Measured (benchmarks/RESULTS.md): 0.5 cut the CPU per frame by 15-30% on the UA-DETRAC "
        "intersection (cars) at the cost of 0.7 points of track coverage where rules judge; with crops kept off "
        "two-wheelers and people (`crop_avoid_classes`) the Vietnamese clips lost nothing where rules judge, but "
        "a dusk road without zones lost 6 points (dim cars get fewer whole-frame detections to start a track)",
    )
    crop_avoid_classes: tuple[str, ...] = Field(
        default=("person", "bicycle", "motorcycle"),
        description="No crop while a track of one of these classes (tracked, lost or not yet confirmed) overlaps "
        "it: the whole frame is detected instead. YOLO boxes a rider and its two-wheeler differently in a crop "
        "than in the whole frame (its attention block sees the whole input), which broke those tracks "
        "(benchmarks/RESULTS.md); cars, buses and trucks keep their boxes",
    )
    full_rate_young_s: float = Field(
        default=0.3, ge=0, description="Detect every frame while a track is younger than this (seconds)"
    )
    max_gap: int = Field(
        default=4,
        ge=1,
        le=30,
        description="Live: at most this many frames in a row without a detection when the loop falls behind",
    )
    max_lag_s: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="Live: how far (seconds) the loop may fall behind the camera before frames are dropped. "
        "Until then frames not yet processed wait in the connection, compressed; every live start and "
        "reconnect brings a second or more of them, read faster than real time. Beyond it the oldest decoded "
        "frames are dropped (counted) until the loop is within half of it",
    )
    queue_size: int = Field(
        default=8,
        ge=1,
        le=1000,
        description="Decoded frames waiting between capture and processing. A replay waits for the loop (and "
        "keeps at most 4 ahead); a live camera waits too until `max_lag_s`, then drops the oldest and counts",
    )
    output_queue_size: int = Field(
        default=8,
        ge=1,
        le=10000,
        description="Frames waiting for the track records and the preview writer (each holds its image: a "
        "1080p frame is 6 MB)",
    )

    @field_validator("crop_avoid_classes")
    @classmethod
    def _known_classes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(value) - set(COCO_ROAD_USERS.values())
        if unknown:
            raise ValueError(f"unknown classes {sorted(unknown)}; known: {sorted(COCO_ROAD_USERS.values())}")
        return value
