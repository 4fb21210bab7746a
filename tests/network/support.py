"""Traffic-statistics helpers shared by tests/network/test_stats.py (the generator's exact boxes) and
tests/e2e/test_sample.py (the real detector's and tracker's): the expected counts and queue, derived
from the sample scene's exact motion."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from detector.config import load_camera_config
from detector.geometry import Scene
from detector.network.stats import (
    ALL,
    OFF_LANE,
    TrafficStat,
    TrafficStatsConfig,
    geometry_from_scene,
    traffic_stats,
)
from detector.sample.groundtruth import GroundTruth
from detector.sample.scene import LANE_EDGES_X, STOP_LINE_Y

ROOT = Path(__file__).resolve().parents[2]
COUNT_Y = 20.0
INTERVAL_S = 14.0
START = datetime(2026, 11, 20, 0, 30, tzinfo=UTC)
STATS = TrafficStatsConfig(interval_s=INTERVAL_S, count_line=((0.0, COUNT_Y), (12.5, COUNT_Y)))


def truth_counts(truth: GroundTruth) -> Counter[tuple[int, str, str]]:
    """(interval, lane, class) -> vehicles crossing y = COUNT_Y with the traffic, from the exact motion."""
    out: Counter[tuple[int, str, str]] = Counter()
    for v in truth.vehicles:
        for a, b in zip(v.boxes, v.boxes[1:], strict=False):
            if a.world_y < COUNT_Y <= b.world_y:
                f = (COUNT_Y - a.world_y) / (b.world_y - a.world_y)
                t, x = a.t + f * (b.t - a.t), a.world_x + f * (b.world_x - a.world_x)
                lane = next(
                    (f"lane_{i}" for i in range(3) if LANE_EDGES_X[i] <= x < LANE_EDGES_X[i + 1]), OFF_LANE
                )
                out[(int(t // INTERVAL_S), lane, v.vehicle_class)] += 1
                break
    return out


def truth_queue_m(truth: GroundTruth) -> float:
    """Longest queue at the stop line: stopped vehicles' rear points chained back from the line."""
    best = 0.0
    for frame in range(truth.scene.frame_count):
        ds = sorted(
            STOP_LINE_Y - b.world_y
            for v in truth.vehicles
            if (b := v.box_at(frame)) is not None
            and b.speed_kmh < 1.0
            and LANE_EDGES_X[0] <= b.world_x < LANE_EDGES_X[2]
            and b.world_y < STOP_LINE_Y
        )
        length = last = 0.0
        for d in ds:
            if d - last > (STATS.queue_first_m if length == 0 else STATS.queue_gap_m):
                break
            length = last = d
        best = max(best, length)
    return best


def stats_of(records: list[dict[str, object]]) -> list[TrafficStat]:
    scene = Scene.from_config(load_camera_config(ROOT / "configs" / "sample_scene.yaml").rules)
    return traffic_stats(records, geometry_from_scene(scene), STATS, "sample", START, duration_s=28.0)


def counts_of(stats: list[TrafficStat]) -> Counter[tuple[int, str, str]]:
    return Counter(
        {
            (
                int((s.interval_start - START).total_seconds() // INTERVAL_S),
                s.lane_id,
                s.vehicle_class,
            ): s.count
            for s in stats
            if s.vehicle_class != ALL and s.count
        }
    )
