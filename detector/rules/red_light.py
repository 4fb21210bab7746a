"""Red light and stop-line encroachment.

Red light: the vehicle's anchor was clearly behind the stop line at a frame when the light had been
red for at least `grace_s`, then crossed the line and went on at least `min_past_line_px` into the
intersection. Consequences of that wording:
- a vehicle already past (or on) the line when red began is never a violator: its last clearly-behind
  frame was before red;
- a track lost and re-found under the same id is judged on its real observations (the last behind
  frame and the first past frame, whatever the gap); re-found under a new id with no behind frame,
  it cannot be judged and is not accused;
- a vehicle that stops before the line has no past-line frames and is not accused;
- right turn on red: from a lane that allows it (when no right-turn zones are configured), or when
  the track enters a right-turn exit zone; with such zones the decision waits `right_turn_decision_s`
  after the crossing (or the end of the track).
- turn on an arrow: a lane with `turn_on_arrow` may make that turn on red while the signal's arrow
  for it is lit at the crossing; the vehicle is exempt only if it then enters an arrow exit zone of
  that turn (decided, like the right turn, `right_turn_decision_s` after the crossing). One that
  crosses on the arrow and goes elsewhere (straight on) ran the red; its finding names the arrow.

Stop line: during red, a vehicle crossed the line (clearly behind at a red frame) and then stayed
stopped over it (past the line by less than `max_past_line_px`, or on the crosswalk) for
`min_stopped_s`.
"""

from __future__ import annotations

import numpy as np

from detector.config import RedLightRuleConfig, StopLineRuleConfig
from detector.geometry import LaneZone, LineZone, Scene
from detector.measures import RedLightMeasures, StopLineMeasures
from detector.rules.common import Finding, SignalHistory, TrackView
from detector.signals import Phase, SignalState
from detector.types import ViolationType

RULE_VERSION = "red_light/1.0"
#: The engine shows these rules the last this-many seconds of a track: the crossing (last clearly
#: behind -> proceeded past the line) must happen within it.
CROSSING_HORIZON_S = 15.0
STOP_LINE_RULE_VERSION = "stop_line/1.0"


def _lane_at(scene: Scene, view: TrackView, i: int) -> LaneZone | None:
    li = int(view.feat.lane_idx[i])
    return scene.lanes[li] if li >= 0 else None


def _arrow_turns(lane: LaneZone | None, state: SignalState | None) -> frozenset[str]:
    """Turns the lane may make on the arrows lit in `state`."""
    if lane is None or state is None or not lane.turn_on_arrow:
        return frozenset()
    return lane.turn_on_arrow & state.arrows


def _took_turn(view: TrackView, scene: Scene, c: int, turns: frozenset[str]) -> bool:
    """Did the track enter an arrow exit zone of one of `turns` at or after index c?"""
    idx = view.feat.arrow_exit[c:]
    return any(scene.arrow_exit_zones[int(i)].turn in turns for i in np.unique(idx[idx >= 0]))


def _crossing(
    view: TrackView, d: np.ndarray, line: LineZone, tol: float, min_past: float
) -> tuple[int, int, int] | None:
    """(j, c, k): last clearly-behind index, first clearly-past index, first index past by `min_past`."""
    past_far = d >= min_past
    if not past_far.any():
        return None
    behind = d <= -tol
    if not behind.any():
        return None
    first_behind = int(np.argmax(behind))
    ks = np.nonzero(past_far[first_behind:])[0]
    if not len(ks):
        return None
    k = first_behind + int(ks[0])
    j = int(np.nonzero(behind[:k])[0][-1])
    c = j + 1 + int(np.argmax(d[j + 1 : k + 1] > tol))
    if not line.segment_crosses(view.anchors[j], view.anchors[c]):
        return None  # passed beside the line's ends, not over it
    return j, c, k


def check_red_light(
    view: TrackView, scene: Scene, signals: SignalHistory, cfg: RedLightRuleConfig, final: bool = False
) -> list[Finding]:
    out: list[Finding] = []
    if len(view) < 2:
        return out
    for i, line in enumerate(scene.stop_lines.values()):
        d = view.feat.stop_d[:, i]
        jck = _crossing(view, d, line, cfg.line_tolerance_px, cfg.min_past_line_px)
        if jck is None:
            continue
        j, c, k = jck
        behind_state = signals.at_frame(int(view.frames[j]))
        if behind_state is None or behind_state.phase != Phase.RED:
            continue
        if (behind_state.time_into_red_s or 0.0) < cfg.grace_s:
            continue
        amber = behind_state.preceding_amber_s
        if cfg.min_preceding_amber_s > 0 and (amber is None or amber < cfg.min_preceding_amber_s):
            continue
        lane = _lane_at(scene, view, j)
        if lane is not None and lane.right_turn_on_red and not scene.right_turn_zones:
            continue
        at_state = signals.at_frame(int(view.frames[c]))
        arrow_turns = _arrow_turns(lane, at_state)
        after_idx = k
        if arrow_turns and _took_turn(view, scene, c, arrow_turns):
            continue  # turned on its arrow
        if scene.right_turn_zones or arrow_turns:
            if scene.right_turn_zones and view.feat.right_turn[c:].any():
                continue
            waited = view.times[-1] - view.times[c]
            if not final and waited < cfg.right_turn_decision_s:
                continue  # not decided yet: it may still turn right
            after_idx = int(np.searchsorted(view.times, view.times[c] + cfg.right_turn_decision_s))
            after_idx = min(max(after_idx, k), len(view) - 1)
        if at_state is not None and at_state.time_into_red_s is not None:
            into_red = at_state.time_into_red_s
        else:
            into_red = (behind_state.time_into_red_s or 0.0) + float(view.times[c] - view.times[j])
        out.append(
            Finding(
                violation_type=ViolationType.RED_LIGHT,
                zone_id=line.id,
                before=int(view.frames[j]),
                at=int(view.frames[c]),
                at_time=float(view.times[c]),
                after=int(view.frames[after_idx]),
                measured=RedLightMeasures(
                    phase="red",
                    time_into_red_s=round(into_red, 3),
                    time_into_red_behind_line_s=round(behind_state.time_into_red_s or 0.0, 3),
                    preceding_amber_s=None if amber is None else round(amber, 3),
                    distance_behind_line_px=round(float(-d[j]), 1),
                    distance_past_line_px=round(float(d[k]), 1),
                    lane_id=None if lane is None else lane.id,
                    arrow_lit=",".join(sorted(arrow_turns)) or None,
                ),
            )
        )
    return out


def check_stop_line(
    view: TrackView, scene: Scene, signals: SignalHistory, cfg: StopLineRuleConfig, final: bool = False
) -> list[Finding]:
    out: list[Finding] = []
    if len(view) < 2:
        return out
    last = len(view) - 1
    last_state = signals.at_frame(int(view.frames[last]))
    if last_state is None or last_state.phase != Phase.RED:
        return out
    for i, line in enumerate(scene.stop_lines.values()):
        d = view.feat.stop_d[:, i]
        if d[last] <= cfg.line_tolerance_px:
            continue
        over = (d > cfg.line_tolerance_px) & ((d <= cfg.max_past_line_px) | view.feat.crosswalk[:, i])
        over &= view.feat.stop_within[:, i]
        if not over[last]:
            continue
        still = np.linalg.norm(view.anchors - view.anchors[last], axis=1) <= cfg.stopped_radius_px
        bad = np.nonzero(~(over & still))[0]
        i0 = int(bad[-1]) + 1 if len(bad) else 0
        dwell = float(view.times[last] - view.times[i0])
        if dwell < cfg.min_stopped_s:
            continue
        behind = np.nonzero(d[:i0] <= -cfg.line_tolerance_px)[0]
        if not len(behind):
            continue  # never seen behind the line: may have been there before red
        j = int(behind[-1])
        st = signals.at_frame(int(view.frames[j]))
        if st is None or st.phase != Phase.RED or (st.time_into_red_s or 0.0) < cfg.grace_s:
            continue
        at = min(int(np.searchsorted(view.times, view.times[i0] + cfg.min_stopped_s)), last)
        out.append(
            Finding(
                violation_type=ViolationType.STOP_LINE,
                zone_id=line.id,
                before=int(view.frames[j]),
                at=int(view.frames[at]),
                at_time=float(view.times[at]),
                after=int(view.frames[last]),
                measured=StopLineMeasures(
                    phase="red",
                    time_into_red_s=None
                    if last_state.time_into_red_s is None
                    else round(last_state.time_into_red_s, 3),
                    time_into_red_at_crossing_s=round(st.time_into_red_s or 0.0, 3),
                    preceding_amber_s=None
                    if st.preceding_amber_s is None
                    else round(st.preceding_amber_s, 3),
                    stopped_s=round(dwell, 3),
                    distance_past_line_px=round(float(np.median(d[i0 : last + 1])), 1),
                ),
            )
        )
    return out
