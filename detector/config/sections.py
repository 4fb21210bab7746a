"""The network file: road sections timed between cameras for average speed (`detector section check`),
and the settings of traffic statistics (`detector stats compute`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from detector.base import FrozenModel
from detector.config.fields import Id
from detector.config.load import load_model


class SectionCamera(FrozenModel):
    """One camera of a section: where it stands along the road and how well its clock is kept."""

    camera_id: Id = Field(description="Camera id (as in its bundles)")
    chainage_m: float = Field(description="Position along the road, metres (increasing with traffic)")
    clock_uncertainty_s: float = Field(
        ge=0, le=10, description="Bound on the camera clock's error against UTC (e.g. NTP offset bound)"
    )
    timing_uncertainty_s: float = Field(
        default=0.05,
        ge=0,
        le=5,
        description="Bound on the line-crossing time from the frames (half a frame "
        "interval plus the interpolation error)",
    )
    timing_line: tuple[tuple[float, float], tuple[float, float]] | None = Field(
        default=None,
        description="The edge's timing line in this camera's road-plane metres (its calibration), "
        "from p1 to p2 with traffic crossing it from right to left; set it for the edge box to "
        "write a signed passage bundle for every vehicle crossing it",
    )


class SectionSpeedLimit(FrozenModel):
    """A speed limit of a section, for some vehicle classes or all."""

    classes: tuple[str, ...] | None = Field(default=None, description="Vehicle classes; None: all")
    limit_kmh: float = Field(gt=0, le=200, description="Speed limit, km/h")


class SectionConfig(FrozenModel):
    """A road section timed between consecutive cameras (average speed, "đo tốc độ trung bình")."""

    id: Id = Field(description="Section id")
    name: str = Field(default="", description="Road and direction, as printed on a notice")
    cameras: tuple[SectionCamera, ...] = Field(min_length=2, description="Cameras in the direction of travel")
    distance_uncertainty_m: float = Field(
        default=1.0, ge=0, description="Bound on the error of the surveyed distance between two cameras"
    )
    limits: tuple[SectionSpeedLimit, ...] = Field(
        min_length=1, description="Limits; a class entry beats an all-classes one"
    )
    tolerance_kmh: float = Field(default=0.0, ge=0, description="Fine only above limit + tolerance")
    min_travel_s: float = Field(default=0.5, gt=0, description="Shorter passages between cameras are ignored")
    max_travel_s: float = Field(default=3600.0, gt=0, description="Longer passages are not matched")
    fine_match_min: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Plate-match confidence at or above which a violation may be fined",
    )
    review_match_min: float = Field(
        default=0.25, gt=0, le=1, description="Below this a pair of readings is not a match at all"
    )
    ambiguity_margin: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="A second candidate pair this close to the best sends it to review",
    )

    @model_validator(mode="after")
    def _check(self) -> SectionConfig:
        ch = [c.chainage_m for c in self.cameras]
        if any(b <= a for a, b in zip(ch, ch[1:], strict=False)):
            raise ValueError(f"section {self.id}: cameras must be in increasing chainage_m, got {ch}")
        if len({c.camera_id for c in self.cameras}) != len(self.cameras):
            raise ValueError(f"section {self.id}: a camera appears twice")
        if self.review_match_min > self.fine_match_min:
            raise ValueError(f"section {self.id}: review_match_min > fine_match_min")
        return self

    def limit_for(self, vehicle_class: str) -> float:
        specific = [lim.limit_kmh for lim in self.limits if lim.classes and vehicle_class in lim.classes]
        general = [lim.limit_kmh for lim in self.limits if lim.classes is None]
        return (
            min(specific)
            if specific
            else min(general)
            if general
            else min(lim.limit_kmh for lim in self.limits)
        )


class CameraStatistics(FrozenModel):
    """Live traffic statistics of one camera (`detector replay|run --network`)."""

    camera_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Camera id")
    stats: TrafficStatsConfig = Field(description="Counting line, interval and thresholds")


class NetworkCamerasConfig(FrozenModel):
    """The network file: sections (cameras with timing lines) and each camera's live statistics."""

    sections: tuple[SectionConfig, ...] = Field(default=(), description="Average-speed sections")
    statistics: tuple[CameraStatistics, ...] = Field(
        default=(), description="Cameras whose edge computes traffic statistics as it runs"
    )

    def timing_camera(self, camera_id: str) -> tuple[SectionConfig, SectionCamera] | None:
        """The section and entry of `camera_id` where it has a timing line (first found), else None."""
        for sec in self.sections:
            for cam in sec.cameras:
                if cam.camera_id == camera_id and cam.timing_line is not None:
                    return sec, cam
        return None


def load_network_config(path: str | Path) -> NetworkCamerasConfig:
    """Read the network file (sections between cameras); ConfigError names the file, field and value."""
    return load_model(Path(path), NetworkCamerasConfig, "network config")


class TrafficStatsConfig(FrozenModel):
    """How statistics are taken on one camera (world coordinates in metres on the road plane)."""

    interval_s: float = Field(default=60.0, gt=0, description="Length of one statistics interval")
    count_line: tuple[tuple[float, float], tuple[float, float]] = Field(
        description="Counting line (world metres), p1 -> p2 with traffic crossing it from right to left"
    )
    loop_length_m: float = Field(default=4.5, gt=0, le=50, description="Virtual loop just before the line")
    speed_window_s: float = Field(
        default=0.8, gt=0, description="Spot speed: fit over this long around a time"
    )
    queue_speed_kmh: float = Field(default=5.0, gt=0, description="Slower than this counts as stopped")
    queue_first_m: float = Field(
        default=15.0, gt=0, description="First queued vehicle within this of the stop line"
    )
    queue_gap_m: float = Field(
        default=12.0, gt=0, description="Next queued vehicle within this of the previous"
    )
    free_min_kmh: float = Field(
        default=40.0, gt=0, description="Median at or above this (and a low occupancy): free"
    )
    heavy_below_kmh: float = Field(default=20.0, gt=0, description="Median below this: heavy")
    jammed_below_kmh: float = Field(default=8.0, gt=0, description="Median below this: jammed")
    occupancy_moderate: float = Field(default=0.15, gt=0, le=1, description="Occupancy from which: moderate")
    occupancy_heavy: float = Field(default=0.35, gt=0, le=1, description="Occupancy from which: heavy")
    occupancy_jammed: float = Field(default=0.6, gt=0, le=1, description="Occupancy from which: jammed")
