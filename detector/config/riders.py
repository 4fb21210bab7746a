"""Settings of the riders stage: rider association, the helmet check and the rider-count rule."""

from __future__ import annotations

from pydantic import Field

from detector.base import FrozenModel
from detector.config.fields import (
    ClosedFraction,
    Count,
    Fraction,
    ImagePolygon,
    NonNegative,
    OpenFraction,
    Positive,
    Threads,
)


class AssociationConfig(FrozenModel):
    """When a person track is a rider of a two-wheeler track (geometry held over time, with hysteresis)."""

    min_x_overlap: Fraction = Field(
        default=0.5,
        description="Horizontal overlap of the person and vehicle boxes over the narrower of the two",
    )
    max_head_below_top: ClosedFraction = Field(
        default=0.35,
        description="The person's top may be at most this fraction of the vehicle's height below the vehicle's top",
    )
    min_feet_into_vehicle: ClosedFraction = Field(
        default=0.25,
        description="The person's bottom must reach at least this fraction of the vehicle's height into its box",
    )
    max_feet_below_vehicle: ClosedFraction = Field(
        default=0.15,
        description="The person's bottom may be at most this fraction of the vehicle's height below the vehicle",
    )
    height_ratio: tuple[float, float] = Field(
        default=(0.5, 3.5), description="Allowed person height / vehicle height (a rider is about 1 to 2.5)"
    )
    max_offset_drift: Positive = Field(
        default=0.4,
        description="Moving together: the person's centre offset from the vehicle's (in vehicle heights) may drift "
        "at most this far from its value over the pair's first frames (a walker passing a bike drifts away)",
    )
    confirm_frames: Count = Field(
        default=4,
        description="Detected frames in which the geometry holds before the person is a rider",
    )
    confirm_s: NonNegative = Field(
        default=0.5,
        description="...and at least this long after the first of them (in 0.5 s a walker drifts ~0.6 bike heights)",
    )
    solo_speed: Positive = Field(
        default=2.0,
        description="A `person` track whose ground point moves at least this many of its own box heights a "
        "second is a rider boxed with its two-wheeler (a walker does under 1), and becomes a motorcycle",
    )
    solo_window_s: Positive = Field(default=0.6, description="Time over which that speed is measured")
    release_frames: Count = Field(
        default=6,
        description="Detected frames without the geometry before a confirmed rider is released",
    )


class HelmetConfig(FrozenModel):
    """The helmet check on riders' heads (Decree 168/2024, Art. 7(2)(h) and (i))."""

    enabled: bool = Field(
        default=False, description="Classify riders' heads and report riders without a helmet"
    )
    model: str | None = Field(
        default=None,
        description="ONNX helmet detector; unset: models/helmet-yolo.onnx (`detector models export-helmet`)",
    )
    threads: Threads = Field(default=1, description="onnxruntime intra-op threads")
    zone: ImagePolygon | None = Field(
        default=None,
        description="Only riders whose vehicle's ground point is inside this polygon are checked; unset: all",
    )
    min_head_px: Positive = Field(
        default=28.0,
        description="A head region narrower than this (pixels) is not clearly seen: never judged",
    )
    min_sharpness: NonNegative = Field(
        default=30.0,
        description="Least variance of the Laplacian of the head region (grey, resized to 64 px): blurred heads are not judged",
    )
    max_occlusion: ClosedFraction = Field(
        default=0.15,
        description="Most of the head region another road user's box may cover (other than the rider's own vehicle)",
    )
    min_confidence: OpenFraction = Field(
        default=0.5,
        description="Least detector confidence of the head box for a sample to count as a vote",
    )
    min_margin: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="'No helmet' only when its score beats every 'With Helmet' score on the same head by this much",
    )
    max_head_top: OpenFraction = Field(
        default=0.3,
        description="The head box's top must lie within this fraction of the rider box's height from its top",
    )
    crop_px: int = Field(
        default=160,
        ge=32,
        description="Side (pixels) the head-and-shoulders crop is resized to, centred on the model's grey input "
        "canvas (at most the input's side): with the 320 export, a head fills as much of the input as in "
        "the close views the model was trained on",
    )
    max_samples: Count = Field(default=8, description="Head samples classified per rider at most")
    min_sample_gap_s: NonNegative = Field(
        default=0.15, description="Least time between two samples of one rider"
    )
    max_crops_per_frame: Count = Field(
        default=4, description="Head crops classified per frame at most (CPU budget)"
    )
    min_votes: Count = Field(default=3, description="Clear samples needed before a rider is judged")
    min_no_helmet_fraction: float = Field(
        default=0.8,
        gt=0.5,
        le=1,
        description="Fraction of a rider's votes that must say 'no helmet' to report it",
    )
    sure_fraction: float = Field(
        default=1.0,
        gt=0.5,
        le=1,
        description="A report with a smaller 'no helmet' fraction, or fewer than 2 x min_votes votes, is flagged for review",
    )
    always_review: bool = Field(
        default=True,
        description="Flag every no-helmet report for review, however sure the votes: the helmet model does not "
        "meet the accuracy bar on labelled heads (benchmarks/RESULTS.md, Helmets)",
    )


class RiderCountConfig(FrozenModel):
    """More people on a motorbike than allowed (Decree 168/2024, Art. 7(2)(g) and 7(3)(b))."""

    enabled: bool = Field(default=True, description="Report two-wheelers carrying three or more people")
    min_riders: int = Field(default=3, ge=2, description="People on one motorbike from which it is reported")
    min_duration_s: Positive = Field(
        default=0.5, description="The count must hold this long (detected frames) before it is reported"
    )


class RidersConfig(FrozenModel):
    """Riders of motorbikes and bicycles: one road user per two-wheeler, its riders counted and checked."""

    enabled: bool = Field(
        default=True, description="Associate riders to their two-wheeler (one road user each)"
    )
    association: AssociationConfig = Field(default_factory=AssociationConfig, description="Rider association")
    helmet: HelmetConfig = Field(default_factory=HelmetConfig, description="Helmet check on riders' heads")
    count: RiderCountConfig = Field(default_factory=RiderCountConfig, description="More riders than allowed")
