"""No-stopping dwell (reference scene: zone N1 x 100..400, y 100..300, max dwell 30 s)."""

from __future__ import annotations

import pytest

from detector.rules.engine import RuleEngine, run_tracks
from detector.signals import SignalState
from detector.types import ViolationType
from tests.rules.synthetic import path_track, reference_rules_config


def run(tracks, cfg=None):
    engine = RuleEngine.from_config(cfg or reference_rules_config(), "cam1")
    return run_tracks(engine, tracks, lambda fi, ts: SignalState.unknown())


CASES = [
    (
        "stops 20 s (under the limit)",
        [(0.0, 250, 350), (2.0, 250, 200), (22.0, 250, 200), (24.0, 250, 50)],
        0,
    ),
    ("stops 40 s (over the limit)", [(0.0, 250, 350), (2.0, 250, 200), (42.0, 250, 200), (44.0, 250, 50)], 1),
    ("drives through slowly", [(0.0, 250, 350), (40.0, 250, 50)], 0),
    ("stops 40 s outside the zone", [(0.0, 600, 350), (2.0, 600, 200), (42.0, 600, 200)], 0),
    (
        "two 20 s stops with a move between",
        [(0.0, 250, 290), (20.0, 250, 290), (21.0, 250, 200), (41.0, 250, 200)],
        0,
    ),
]


@pytest.mark.parametrize("name,wps,expected", CASES, ids=[c[0] for c in CASES])
def test_no_stopping_table(name, wps, expected):
    found = [
        v
        for v in run([path_track(1, wps, fps=10.0, jitter_px=1.5)])
        if v.violation_type == ViolationType.NO_STOPPING
    ]
    assert len(found) == expected, name
    if expected:
        v = found[0]
        assert v.zone_id == "N1"
        assert v.measured.dwell_s > 30.0
        assert v.measured.max_dwell_s == 30.0
        assert v.timestamp == pytest.approx(32.0, abs=0.3)  # decided when the dwell passed 30 s
