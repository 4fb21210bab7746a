"""No stopping: a vehicle stopped inside a no-stopping zone for longer than `max_dwell_s`.

Stopped = the anchor stays within `stopped_radius_px` of where it is now. The dwell is the time
from the first observation of the current stop (every observation since then inside the zone and
within the radius) to now. The engine keeps `history_s` of track history, so `max_dwell_s` must be
below it (checked when the config is loaded).
"""

from __future__ import annotations

import numpy as np

from detector.config import NoStoppingRuleConfig
from detector.geometry import Scene
from detector.measures import NoStoppingMeasures
from detector.rules.common import Finding, SignalHistory, TrackView
from detector.types import ViolationType

RULE_VERSION = "no_stopping/1.0"


def check_no_stopping(
    view: TrackView, scene: Scene, signals: SignalHistory, cfg: NoStoppingRuleConfig, final: bool = False
) -> list[Finding]:
    out: list[Finding] = []
    if len(view) < 2:
        return out
    last = len(view) - 1
    zi = int(view.feat.nostop_idx[last])
    if zi >= 0:
        zone = scene.no_stopping_zones[zi]
        inside = view.feat.nostop_idx == zi
        still = np.linalg.norm(view.anchors - view.anchors[last], axis=1) <= cfg.stopped_radius_px
        bad = np.nonzero(~(inside & still))[0]
        i0 = int(bad[-1]) + 1 if len(bad) else 0
        dwell = float(view.times[last] - view.times[i0])
        if dwell <= cfg.max_dwell_s:
            return out
        at = int(np.nonzero(view.times - view.times[i0] > cfg.max_dwell_s)[0][0])
        out.append(
            Finding(
                violation_type=ViolationType.NO_STOPPING,
                zone_id=zone.id,
                before=int(view.frames[i0]),
                at=int(view.frames[at]),
                at_time=float(view.times[at]),
                after=int(view.frames[last]),
                measured=NoStoppingMeasures(
                    dwell_s=round(dwell, 3),
                    max_dwell_s=cfg.max_dwell_s,
                    stopped_since_s=round(float(view.times[i0]), 3),
                ),
            )
        )
    return out
