"""Traffic statistics from track records (tracks.jsonl), without any extra inference.

Per camera, interval, lane and class: the vehicles counted at a counting line (crossing it in the
direction of travel; the lane is the one the vehicle is in as it crosses), their spot speeds at the
line (median, 85th percentile); per lane: the occupancy of a virtual loop just before the counting
line (share of the interval with a vehicle's ground point on it, as an inductive loop reports it),
the longest queue at the stop line (stopped vehicles chained back from the line), and a congestion
level from those. Positions are the boxes' bottom centres mapped to the road plane by the camera's
homography; times are the records' stream times.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from shapely.geometry import LineString, Point, Polygon

from detector.config import TrafficStatsConfig
from detector.errors import ConfigError
from detector.types import majority

if TYPE_CHECKING:  # the store computes statistics without cv2, which the scene's homography loads
    from detector.geometry import Scene

OFF_LANE = "off_lane"
ALL = "all"


@dataclass(frozen=True, slots=True)
class StatsGeometry:
    """Lanes (image polygons) and the stop line (world), with the image -> road-plane homography."""

    lanes: tuple[tuple[str, Polygon], ...]
    image_to_world: npt.NDArray[np.float64]
    stop_line_world: LineString | None


@dataclass(frozen=True, slots=True)
class TrafficStat:
    camera_id: str
    interval_start: datetime
    interval_s: float
    lane_id: str
    vehicle_class: str  # "all" on the lane rows, which also carry occupancy, queue and congestion
    count: int
    speed_median_kmh: float | None
    speed_p85_kmh: float | None
    occupancy: float | None = None
    queue_max_m: float | None = None
    congestion: str | None = None


@dataclass(frozen=True, slots=True)
class _Point:
    t: float
    wx: float
    wy: float
    lane: str


def load_track_records(path: str | Path) -> list[dict[str, object]]:
    p = Path(path)
    out = []
    try:
        with p.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    r = json.loads(line)
                    if not {"t", "track_id", "class", "box"} <= set(r):
                        raise ConfigError(f"{p}:{n}: a track record needs t, track_id, class and box")
                    out.append(r)
    except OSError as exc:
        raise ConfigError(f"{p}: track records cannot be read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p}: line {exc.lineno}: not JSON: {exc.msg}") from exc
    return out


def _tracks(
    records: Iterable[dict[str, object]], g: StatsGeometry
) -> tuple[dict[int, list[_Point]], dict[int, str]]:
    h = g.image_to_world
    pts: dict[int, list[_Point]] = defaultdict(list)
    classes: dict[int, Counter[str]] = defaultdict(Counter)
    for r in records:
        tid = int(r["track_id"])  # type: ignore[call-overload]
        if tid < 0:
            continue
        b = r["box"]
        u, v = (float(b[0]) + float(b[2])) / 2, float(b[3])  # type: ignore[index]
        w = h @ np.array([u, v, 1.0])
        lane = next((lid for lid, poly in g.lanes if poly.contains(Point(u, v))), OFF_LANE)
        pts[tid].append(_Point(float(r["t"]), float(w[0] / w[2]), float(w[1] / w[2]), lane))  # type: ignore[arg-type]
        classes[tid][str(r["class"])] += 1
    for p in pts.values():
        p.sort(key=lambda q: q.t)
    return dict(pts), {tid: majority(c)[0] for tid, c in classes.items()}


def _speed_at(pts: Sequence[_Point], t: float, window_s: float) -> float | None:
    """Least-squares speed (km/h) of the points within window_s/2 of t."""
    near = [p for p in pts if abs(p.t - t) <= window_s / 2]
    if len(near) < 3:
        return None
    ts = np.array([p.t for p in near])
    xy = np.array([(p.wx, p.wy) for p in near])
    tc = ts - ts.mean()
    stt = float((tc**2).sum())
    if stt <= 0:
        return None
    v = (tc[:, None] * (xy - xy.mean(axis=0))).sum(axis=0) / stt
    return float(np.linalg.norm(v)) * 3.6


def _side(line: tuple[tuple[float, float], tuple[float, float]], x: float, y: float) -> float:
    (x1, y1), (x2, y2) = line
    return (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def _level(cfg: TrafficStatsConfig, median: float | None, occ: float) -> str:
    if occ >= cfg.occupancy_jammed or (median is not None and median < cfg.jammed_below_kmh):
        return "jammed"
    if occ >= cfg.occupancy_heavy or (median is not None and median < cfg.heavy_below_kmh):
        return "heavy"
    if occ >= cfg.occupancy_moderate or (median is not None and median < cfg.free_min_kmh):
        return "moderate"
    return "free"


Tracks = dict[int, list[_Point]]


def _counts(
    tracks: Tracks, cls: dict[int, str], cfg: TrafficStatsConfig
) -> dict[tuple[int, str, str], list[float | None]]:
    """(interval, lane, class) -> the spot speed of each vehicle crossing the counting line."""
    line = cfg.count_line
    counted: dict[tuple[int, str, str], list[float | None]] = defaultdict(list)
    for tid, ps in tracks.items():
        for a, b in zip(ps, ps[1:], strict=False):
            sa, sb = _side(line, a.wx, a.wy), _side(line, b.wx, b.wy)
            if sa < 0 <= sb:
                t = a.t + (b.t - a.t) * (-sa) / (sb - sa)
                lane = a.lane if (t - a.t) <= (b.t - t) else b.lane
                counted[(int(t // cfg.interval_s), lane, cls[tid])].append(
                    _speed_at(ps, t, cfg.speed_window_s)
                )
                break
    return counted


def _occupied(tracks: Tracks, cfg: TrafficStatsConfig) -> dict[tuple[int, str], set[float]]:
    """(interval, lane) -> the observation times with a ground point on the virtual loop."""
    (x1, y1), (x2, y2) = cfg.count_line
    norm = math.hypot(x2 - x1, y2 - y1)
    occupied: dict[tuple[int, str], set[float]] = defaultdict(set)
    for ps in tracks.values():
        for p in ps:
            behind = -_side(cfg.count_line, p.wx, p.wy) / norm  # metres before the counting line
            if p.lane != OFF_LANE and 0 <= behind <= cfg.loop_length_m:
                occupied[(int(p.t // cfg.interval_s), p.lane)].add(p.t)
    return occupied


def _queues(tracks: Tracks, stop_line: LineString, cfg: TrafficStatsConfig) -> dict[tuple[int, str], float]:
    """(interval, lane) -> the longest queue: stopped vehicles chained back from the stop line."""
    by_time: dict[float, list[tuple[int, _Point]]] = defaultdict(list)
    for tid, ps in tracks.items():
        for p in ps:
            by_time[p.t].append((tid, p))
    queue: dict[tuple[int, str], float] = defaultdict(float)
    for t, items in by_time.items():
        stopped: dict[str, list[float]] = defaultdict(list)
        for tid, p in items:
            sp = _speed_at(tracks[tid], t, cfg.speed_window_s)
            if p.lane != OFF_LANE and sp is not None and sp < cfg.queue_speed_kmh:
                stopped[p.lane].append(stop_line.distance(Point(p.wx, p.wy)))
        for lane, ds in stopped.items():
            length = last = 0.0
            for d in sorted(ds):
                if d - last > (cfg.queue_first_m if length == 0 else cfg.queue_gap_m):
                    break
                length = last = d
            key = (int(t // cfg.interval_s), lane)
            queue[key] = max(queue[key], length)
    return queue


def traffic_stats(
    records: Iterable[dict[str, object]],
    g: StatsGeometry,
    cfg: TrafficStatsConfig,
    camera_id: str,
    start: datetime,
    duration_s: float | None = None,
) -> list[TrafficStat]:
    """Statistics per interval (from stream time 0 = `start`), lane and class."""
    tracks, cls = _tracks(records, g)
    times = sorted({p.t for ps in tracks.values() for p in ps})
    if not times:
        return []
    dt = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    end = duration_s if duration_s is not None else times[-1] + dt
    counted = _counts(tracks, cls, cfg)
    occupied = _occupied(tracks, cfg)
    queue = _queues(tracks, g.stop_line_world, cfg) if g.stop_line_world is not None else {}
    out: list[TrafficStat] = []
    for k in range(max(1, math.ceil(end / cfg.interval_s))):
        t0 = start + timedelta(seconds=k * cfg.interval_s)
        span = min(cfg.interval_s, end - k * cfg.interval_s)
        for lane in [lid for lid, _ in g.lanes] + [OFF_LANE]:
            lane_speeds: list[float] = []
            lane_count = 0
            for (ki, ln, c), speeds in sorted(counted.items()):
                if ki == k and ln == lane:
                    sp = [s for s in speeds if s is not None]
                    lane_speeds += sp
                    lane_count += len(speeds)
                    out.append(
                        TrafficStat(
                            camera_id, t0, cfg.interval_s, lane, c, len(speeds), _pct(sp, 50), _pct(sp, 85)
                        )
                    )
            if lane == OFF_LANE:
                continue
            occ = round(len(occupied.get((k, lane), ())) * dt / span, 4) if span > 0 else 0.0
            med = _pct(lane_speeds, 50)
            q = round(queue.get((k, lane), 0.0), 2)
            out.append(
                TrafficStat(
                    camera_id,
                    t0,
                    cfg.interval_s,
                    lane,
                    ALL,
                    lane_count,
                    med,
                    _pct(lane_speeds, 85),
                    occ,
                    q,
                    _level(cfg, med, occ),
                )
            )
    return out


def geometry_from_scene(scene: Scene) -> StatsGeometry:
    """Lanes, homography and stop line from a camera's scene (its rules zones)."""
    homo = scene.homography
    if homo is None:
        raise ConfigError("traffic statistics need the camera's calibration (rules.calibration)")
    h = np.asarray(homo.H, dtype=np.float64)
    lanes = tuple((lane.id, lane.polygon) for lane in scene.lanes)
    stops = list(scene.stop_lines.values())
    stop = None
    if stops:
        pts = np.c_[stops[0].coords, np.ones(len(stops[0].coords))] @ h.T
        stop = LineString(pts[:, :2] / pts[:, 2:3])
    return StatsGeometry(lanes, h, stop)
