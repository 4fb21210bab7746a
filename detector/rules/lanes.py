"""Lane rules: vehicle class in a closed lane, solid-line crossing, wrong-way travel.

- Lane restriction: the track's (majority, agreed) class is not allowed in a lane and its anchor
  stays in that lane for `min_duration_s` (observation gaps up to `max_gap_s` do not break the run).
- Solid line: the anchor is clearly on one side (farther than `min_offset_px`) for `confirm_frames`
  consecutive frames, then clearly on the other side for `confirm_frames` consecutive frames, within
  the line's extent. Points near the line are neutral and break runs; short runs are ignored, so box
  jitter along a line does not make a crossing.
- Wrong way: the anchor's displacement over `window_s`, inside a lane, is at least `min_distance_px`
  long and points against the lane direction (cosine <= `max_cosine`) continuously for
  `min_duration_s`.
"""

from __future__ import annotations

import numpy as np

from detector.config import LaneRestrictionRuleConfig, SolidLineRuleConfig, WrongWayRuleConfig
from detector.geometry import Scene
from detector.measures import LaneRestrictionMeasures, SolidLineMeasures, WrongWayMeasures
from detector.rules.common import Finding, SignalHistory, TrackView, runs, split_on_gaps
from detector.types import ViolationType

LANE_RULE_VERSION = "lane_restriction/1.0"
SOLID_LINE_RULE_VERSION = "solid_line/1.0"
WRONG_WAY_RULE_VERSION = "wrong_way/1.0"


def check_lane_restriction(
    view: TrackView, scene: Scene, signals: SignalHistory, cfg: LaneRestrictionRuleConfig, final: bool = False
) -> list[Finding]:
    out: list[Finding] = []
    if len(view) < 2 or view.class_agreement < cfg.min_class_agreement:
        return out
    cls = view.vehicle_class
    if not final:
        li = int(view.feat.lane_idx[-1])
        if li < 0 or scene.lanes[li].allows(cls):
            return out  # called every frame: a run is decided while the latest point is in it
    gaps = split_on_gaps(view.times, cfg.max_gap_s)
    for li, lane in enumerate(scene.lanes):
        if lane.allows(cls):
            continue
        inside = view.feat.lane_idx == li
        if not inside.any():
            continue
        for s, e in runs(inside):
            # a long gap inside a run splits it
            starts = [s] + [i for i in range(s + 1, e + 1) if gaps[i]]
            bounds = list(zip(starts, [*starts[1:], e + 1], strict=True))
            for a, b in bounds:
                t = view.times[a:b]
                reached = np.nonzero(t - t[0] >= cfg.min_duration_s)[0]
                if not len(reached):
                    continue
                at = a + int(reached[0])
                out.append(
                    Finding(
                        violation_type=ViolationType.LANE_RESTRICTION,
                        zone_id=lane.id,
                        before=int(view.frames[a]),
                        at=int(view.frames[at]),
                        at_time=float(view.times[at]),
                        after=int(view.frames[b - 1]),
                        measured=LaneRestrictionMeasures(
                            vehicle_class=cls,
                            class_agreement=round(view.class_agreement, 3),
                            allowed_classes=",".join(sorted(lane.allowed_classes or ())),
                            duration_in_lane_s=round(float(t[-1] - t[0]), 3),
                            min_duration_s=cfg.min_duration_s,
                        ),
                    )
                )
                break
            if out and out[-1].zone_id == lane.id:
                break
    return out


def _long_runs(side: np.ndarray, n: int) -> list[tuple[int, int, int]]:
    """(side, first_index, last_index) of runs of at least `n` consecutive observations on one side
    (neutral points near the line break a run)."""
    result: list[tuple[int, int, int]] = []
    for value in (1, -1):
        for s, e in runs(side == value):
            if e - s + 1 >= n:
                result.append((value, s, e))
    result.sort(key=lambda r: r[1])
    return result


def check_solid_line(
    view: TrackView, scene: Scene, signals: SignalHistory, cfg: SolidLineRuleConfig, final: bool = False
) -> list[Finding]:
    out: list[Finding] = []
    if len(view) < 2 * cfg.confirm_frames:
        return out
    for i, line in enumerate(scene.solid_lines):
        if not final and (
            abs(view.feat.solid_d[-1, i]) < cfg.min_offset_px or not view.feat.solid_within[-1, i]
        ):
            continue  # called every frame: a crossing is confirmed by the latest point
        d = view.feat.solid_d[:, i]
        side = np.where(d >= cfg.min_offset_px, 1, np.where(d <= -cfg.min_offset_px, -1, 0))
        side[~view.feat.solid_within[:, i]] = 0
        if (side > 0).sum() < cfg.confirm_frames or (side < 0).sum() < cfg.confirm_frames:
            continue
        long_runs = _long_runs(side, cfg.confirm_frames)
        for (s1, _a1, e1), (s2, a2, _e2) in zip(long_runs, long_runs[1:], strict=False):
            if s1 == s2:
                continue
            confirm = a2 + cfg.confirm_frames - 1
            out.append(
                Finding(
                    violation_type=ViolationType.SOLID_LINE,
                    zone_id=line.id,
                    before=int(view.frames[e1]),
                    at=int(view.frames[a2]),
                    at_time=float(view.times[a2]),
                    after=int(view.frames[confirm]),
                    measured=SolidLineMeasures(
                        offset_before_px=round(float(abs(d[e1])), 1),
                        offset_after_px=round(float(abs(d[confirm])), 1),
                        confirm_frames=cfg.confirm_frames,
                    ),
                )
            )
            break
    return out


def check_wrong_way(
    view: TrackView, scene: Scene, signals: SignalHistory, cfg: WrongWayRuleConfig, final: bool = False
) -> list[Finding]:
    out: list[Finding] = []
    n = len(view)
    if n < 3 or view.times[-1] - view.times[0] < cfg.window_s:
        return out
    if not final:
        # called every frame: a new decision needs the latest point inside a lane and moving against it
        li = int(view.feat.lane_idx[-1])
        if li < 0:
            return out
        j = int(np.searchsorted(view.times, view.times[-1] - cfg.window_s, side="right")) - 1
        disp_last = view.anchors[-1] - view.anchors[max(j, 0)]
        dl = float(np.hypot(*disp_last))
        dirs_last = scene.lanes[li].direction_at(view.anchors[-1:])[0]
        if dl < cfg.min_distance_px or float(disp_last @ dirs_last) / dl > cfg.max_cosine:
            return out
    i0 = np.searchsorted(view.times, view.times - cfg.window_s, side="right") - 1
    valid = (i0 >= 0) & (np.arange(n) > i0)
    i0c = np.clip(i0, 0, n - 1)
    span = view.times - view.times[i0c]
    valid &= span >= 0.7 * cfg.window_s
    disp = view.anchors - view.anchors[i0c]
    dist = np.linalg.norm(disp, axis=1)
    mid = (view.anchors + view.anchors[i0c]) / 2
    for li, lane in enumerate(scene.lanes):
        inside = view.feat.lane_idx == li
        ok = valid & inside & inside[i0c] & (dist >= cfg.min_distance_px)
        if not ok.any():
            continue
        dirs = lane.direction_at(mid)
        cos = np.where(dist > 0, (disp * dirs).sum(axis=1) / np.maximum(dist, 1e-9), 0.0)
        against = ok & (cos <= cfg.max_cosine)
        for s, e in runs(against):
            start_t = view.times[i0c[s]]
            reached = np.nonzero(view.times[s : e + 1] - start_t >= cfg.min_duration_s)[0]
            if not len(reached):
                continue
            at = s + int(reached[0])
            out.append(
                Finding(
                    violation_type=ViolationType.WRONG_WAY,
                    zone_id=lane.id,
                    before=int(view.frames[i0c[s]]),
                    at=int(view.frames[at]),
                    at_time=float(view.times[at]),
                    after=int(view.frames[e]),
                    measured=WrongWayMeasures(
                        cosine_to_lane=round(float(np.mean(cos[s : at + 1])), 3),
                        distance_px=round(float(np.linalg.norm(view.anchors[at] - view.anchors[i0c[s]])), 1),
                        duration_s=round(float(view.times[at] - start_t), 3),
                    ),
                )
            )
            break
    return out
