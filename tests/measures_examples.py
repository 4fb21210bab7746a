"""One measurement of each violation type, as its rule writes it (values chosen by hand, in the ranges
the rules produce on the sample scene), for the tests of the fine schedule and the measurements."""

from __future__ import annotations

from detector.measures import (
    LaneRestrictionMeasures,
    NoHelmetMeasures,
    NoStoppingMeasures,
    PassageMeasures,
    RedLightMeasures,
    SolidLineMeasures,
    SpeedingMeasures,
    StopLineMeasures,
    TooManyRidersMeasures,
    ViolationMeasures,
    WrongWayMeasures,
)
from detector.types import ViolationType


def speed_measures(speed: float, limit: float = 60.0, unc: float = 0.0) -> SpeedingMeasures:
    return SpeedingMeasures(
        speed_kmh=speed,
        speed_uncertainty_kmh=unc,
        limit_kmh=limit,
        tolerance_kmh=0.0,
        regression_se_kmh=unc / 2,
        calibration_se_kmh=unc / 2,
        window_s=1.0,
        n_points=11,
        calibration_rms_m=0.05,
    )


#: one measurement of each violation type, as its rule writes it
EXAMPLES: dict[ViolationType, ViolationMeasures] = {
    ViolationType.RED_LIGHT: RedLightMeasures(
        phase="red",
        time_into_red_s=2.4,
        time_into_red_behind_line_s=2.1,
        preceding_amber_s=3.0,
        distance_behind_line_px=14.5,
        distance_past_line_px=41.0,
        lane_id="L1",
    ),
    ViolationType.STOP_LINE: StopLineMeasures(
        phase="red",
        time_into_red_s=9.0,
        time_into_red_at_crossing_s=4.0,
        preceding_amber_s=3.0,
        stopped_s=5.0,
        distance_past_line_px=15.0,
    ),
    ViolationType.LANE_RESTRICTION: LaneRestrictionMeasures(
        vehicle_class="car",
        class_agreement=0.95,
        allowed_classes="motorcycle",
        duration_in_lane_s=4.2,
        min_duration_s=2.0,
    ),
    ViolationType.SOLID_LINE: SolidLineMeasures(
        offset_before_px=12.0, offset_after_px=15.0, confirm_frames=3
    ),
    ViolationType.WRONG_WAY: WrongWayMeasures(cosine_to_lane=-0.98, distance_px=120.0, duration_s=2.5),
    ViolationType.SPEEDING: speed_measures(75.0),
    ViolationType.NO_STOPPING: NoStoppingMeasures(dwell_s=45.0, max_dwell_s=30.0, stopped_since_s=12.0),
    ViolationType.NO_HELMET: NoHelmetMeasures(
        rider_track_id=9,
        votes_no_helmet=4,
        votes_clear=4,
        looks=5,
        no_helmet_fraction=1.0,
        mean_p_no_helmet=0.93,
        head_box="10,10,30,34",
        needs_review=False,
    ),
    ViolationType.TOO_MANY_RIDERS: TooManyRidersMeasures(riders=3, four_or_more=False, held_s=1.5),
    ViolationType.PASSAGE: PassageMeasures(
        section_id="ql1a-km1234",
        track_id=4,
        crossing_utc="2026-11-20T00:30:03.866000+00:00",
        crossing_stream_s=3.866,
        clock_uncertainty_s=0.05,
        timing_uncertainty_s=0.02,
        clock_source="camera wall time",
        chainage_m=1234500.0,
    ),
}
