"""Speeding from the road-plane homography.

Speed: the anchor's world positions over a window of `window_s` (inside the calibration's valid
region; back-to-back windows from the track's entry into that region) are fitted with a straight line in time per axis (least squares); the speed is the norm of
the fitted velocity. Uncertainty (k-sigma, k = `sigma_k`) combines
- the regression's standard error (from the residuals: box jitter, tracking noise), and
- the calibration's scale error: sqrt(2) x max(RMS reprojection error, point accuracy) / extent of the
  calibration points, applied to the speed.
A violation needs speed - uncertainty > limit + tolerance, and an uncertainty below
`max_uncertainty_kmh`. The limit is the most specific matching entry (lane and class > lane > class
> default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.config import SpeedingRuleConfig
from detector.geometry import Homography, Scene
from detector.measures import SpeedingMeasures
from detector.rules.common import F64, Finding, SignalHistory, TrackView
from detector.types import ViolationType

RULE_VERSION = "speeding/1.0"
MS_TO_KMH = 3.6


@dataclass(frozen=True, slots=True)
class SpeedEstimate:
    speed_kmh: float
    uncertainty_kmh: float
    regression_se_kmh: float
    calibration_se_kmh: float
    n_points: int
    span_s: float
    distance_m: float


def fit_speed(times: F64, world: F64, homography: Homography, sigma_k: float) -> SpeedEstimate | None:
    """Least-squares velocity of world positions (metres) over time, with its uncertainty."""
    n = len(times)
    if n < 3:
        return None
    t = times - times.mean()
    stt = float((t**2).sum())
    if stt <= 0:
        return None
    v = (t[:, None] * (world - world.mean(axis=0))).sum(axis=0) / stt  # (vx, vy) m/s
    resid = world - world.mean(axis=0) - t[:, None] * v[None]
    sigma2 = (resid**2).sum(axis=0) / max(n - 2, 1)
    se_v = np.sqrt(sigma2 / stt)
    speed = float(np.linalg.norm(v))
    # delta method for |v|; at standstill the norm of the per-axis errors
    se_reg = float(np.sqrt(((v * se_v) ** 2).sum()) / speed) if speed > 1e-9 else float(np.linalg.norm(se_v))
    se_cal = speed * homography.scale_rel_uncertainty
    unc = sigma_k * float(np.hypot(se_reg, se_cal))
    return SpeedEstimate(
        speed_kmh=speed * MS_TO_KMH,
        uncertainty_kmh=unc * MS_TO_KMH,
        regression_se_kmh=se_reg * MS_TO_KMH,
        calibration_se_kmh=se_cal * MS_TO_KMH,
        n_points=n,
        span_s=float(times[-1] - times[0]),
        distance_m=float(np.linalg.norm(world[-1] - world[0])),
    )


def speed_limit_for(cfg: SpeedingRuleConfig, lane_id: str | None, vehicle_class: str) -> float | None:
    best: tuple[int, float] | None = None
    for lim in cfg.limits:
        if lim.lanes is not None and lane_id not in lim.lanes:
            continue
        if lim.classes is not None and vehicle_class not in lim.classes:
            continue
        score = (2 if lim.lanes is not None else 0) + (1 if lim.classes is not None else 0)
        if best is None or score > best[0] or score == best[0] and lim.limit_kmh < best[1]:
            best = (score, lim.limit_kmh)
    if best is not None:
        return best[1]
    return cfg.default_limit_kmh


def estimate_speed(view: TrackView, scene: Scene, cfg: SpeedingRuleConfig) -> SpeedEstimate | None:
    """Speed over the last `window_s` of the track (None when not measurable)."""
    homo = scene.homography
    if homo is None or len(view) < cfg.min_points or not view.feat.valid[-1]:
        return None
    tail = view.tail(cfg.window_s)
    ok = tail.feat.valid
    if ok.sum() < cfg.min_points:
        return None
    times = tail.times[ok]
    if times[-1] - times[0] < 0.7 * cfg.window_s:
        return None
    return fit_speed(times, tail.feat.world[ok], homo, cfg.sigma_k)


def window_closes_now(view: TrackView, window_s: float) -> bool:
    """True when the latest point closes a window of the track's measurable stretch.

    Windows are back to back (t0, t0 + w, t0 + 2w, ... from the first point in the valid region), so a
    passage is judged on a few independent windows, not on every overlapping one (repeated looks at
    noisy data would inflate the false-alarm rate)."""
    valid = np.nonzero(view.feat.valid)[0]
    if len(view) < 2 or not len(valid) or not view.feat.valid[-1]:
        return False
    t0 = view.times[valid[0]]
    k_now = np.floor((view.times[-1] - t0) / window_s)
    k_prev = np.floor((view.times[-2] - t0) / window_s)
    return bool(k_now >= 1 and k_now > k_prev)


def check_speeding(
    view: TrackView, scene: Scene, signals: SignalHistory, cfg: SpeedingRuleConfig, final: bool = False
) -> list[Finding]:
    if not window_closes_now(view, cfg.window_s):
        return []
    est = estimate_speed(view, scene, cfg)
    if est is None or est.uncertainty_kmh > cfg.max_uncertainty_kmh:
        return []
    li = int(view.feat.lane_idx[-1])
    lane_id = scene.lanes[li].id if li >= 0 else None
    limit = speed_limit_for(cfg, lane_id, view.vehicle_class)
    if limit is None or est.speed_kmh - est.uncertainty_kmh <= limit + cfg.tolerance_kmh:
        return []
    tail = view.tail(cfg.window_s)
    return [
        Finding(
            violation_type=ViolationType.SPEEDING,
            zone_id=lane_id,
            before=int(tail.frames[0]),
            at=int(view.frames[-1]),
            at_time=float(view.times[-1]),
            after=None,
            measured=SpeedingMeasures(
                speed_kmh=round(est.speed_kmh, 2),
                speed_uncertainty_kmh=round(est.uncertainty_kmh, 2),
                regression_se_kmh=round(est.regression_se_kmh, 2),
                calibration_se_kmh=round(est.calibration_se_kmh, 2),
                limit_kmh=limit,
                tolerance_kmh=cfg.tolerance_kmh,
                window_s=round(est.span_s, 3),
                n_points=est.n_points,
                calibration_rms_m=round(scene.homography.rms_error_m, 3) if scene.homography else None,
            ),
        )
    ]
