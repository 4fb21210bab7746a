"""Typed measurements: every kind round-trips through JSON, bad values are refused where they are
made, and a violation carries only its own type's measurements."""

from __future__ import annotations

import json
import math
from dataclasses import fields

import numpy as np
import pytest

from detector.evidence.contents import measured_lines
from detector.measures import (
    MEASURES_BY_KIND,
    MeasuresError,
    NoStoppingMeasures,
    SectionSpeedMeasures,
    TooManyRidersMeasures,
    legacy_measures,
    load_measures,
    measures_json,
    parse_measures,
)
from detector.types import EvidenceFrames, Violation, ViolationType
from tests.measures_examples import EXAMPLES


def test_every_violation_type_has_its_measurements() -> None:
    assert {t.value for t in ViolationType} | {"section_speed"} == set(MEASURES_BY_KIND)


@pytest.mark.parametrize("vtype", list(ViolationType))
def test_json_round_trip(vtype: ViolationType) -> None:
    m = EXAMPLES[vtype]
    data = json.loads(json.dumps(measures_json(m)))
    assert data["kind"] == vtype.value
    assert parse_measures(data) == m == load_measures(vtype.value, data)
    legacy = {k: v for k, v in data.items() if k != "kind"}  # as a version-2 manifest holds it
    assert legacy_measures(vtype.value, legacy | {"not_a_field": 1}) == m
    with pytest.raises(MeasuresError, match="kind"):
        parse_measures(data, "speeding" if vtype != ViolationType.SPEEDING else "red_light")


def test_values_are_plain_and_finite() -> None:
    # the rules hand numpy scalars taken from their arrays (np.float32 is not a float to mypy)
    m = NoStoppingMeasures(
        dwell_s=np.float64(31.5),
        max_dwell_s=30.0,
        stopped_since_s=np.float32(2.0),  # type: ignore[arg-type]
    )
    assert type(m.dwell_s) is float and type(m.stopped_since_s) is float
    with pytest.raises(MeasuresError, match="dwell_s is nan"):
        NoStoppingMeasures(dwell_s=math.nan, max_dwell_s=30.0, stopped_since_s=0.0)
    with pytest.raises(MeasuresError, match="max_dwell_s"):
        parse_measures({"kind": "no_stopping", "dwell_s": 1.0, "max_dwell_s": "long", "stopped_since_s": 0.0})
    with pytest.raises(MeasuresError, match="unknown kind"):
        parse_measures({"kind": "parking"})


def test_a_violation_carries_only_its_own_measurements() -> None:
    kw = dict(
        camera_id="c",
        track_id=1,
        vehicle_class="car",
        frame_index=5,
        timestamp=0.5,
        evidence_frames=EvidenceFrames(4, 5, 6),
        rule_version="x",
    )
    Violation(ViolationType.WRONG_WAY, measured=EXAMPLES[ViolationType.WRONG_WAY], **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="wrong_way violation carries speeding measurements"):
        Violation(ViolationType.WRONG_WAY, measured=EXAMPLES[ViolationType.SPEEDING], **kw)  # type: ignore[arg-type]


def test_rider_rules_say_why_they_need_review() -> None:
    assert TooManyRidersMeasures(riders=3, four_or_more=False, held_s=1.0).review_reasons
    assert not EXAMPLES[ViolationType.NO_HELMET].review_reasons  # sure: 4 of 4 clear looks
    assert not EXAMPLES[ViolationType.RED_LIGHT].review_reasons


def test_section_speed_is_a_speed_measurement_stored_as_its_own_violation() -> None:
    names = {f.name for f in fields(SectionSpeedMeasures)}
    assert {"speed_kmh", "speed_uncertainty_kmh", "limit_kmh", "entry_event_id"} <= names
    m = SectionSpeedMeasures(
        speed_kmh=92.0,
        speed_uncertainty_kmh=1.5,
        limit_kmh=80.0,
        tolerance_kmh=0.0,
        distance_m=1000.0,
        travel_s=39.1,
        plate_match="exact",
        plate_match_confidence=0.97,
        entry_camera="a",
        exit_camera="b",
        entry_event_id="e1",
        exit_event_id="e2",
    )
    assert m.excess_kmh == pytest.approx(10.5)
    # the central store keeps a section violation as a row of its own kind (not one camera's rule)
    assert load_measures("section_speed", measures_json(m)) == m
    with pytest.raises(MeasuresError, match="section_speed"):
        load_measures("speeding", measures_json(m))


def test_the_overview_reads_the_fields() -> None:
    assert measured_lines(EXAMPLES[ViolationType.RED_LIGHT]) == ["signal: red (+2.40 s into red)"]
    assert measured_lines(EXAMPLES[ViolationType.SPEEDING]) == ["speed: 75 km/h +/- 0 (limit 60)"]
    assert measured_lines(EXAMPLES[ViolationType.NO_STOPPING]) == ["stopped: 45 s (limit 30 s)"]
