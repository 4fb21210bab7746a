"""Synthetic tracks and a small reference scene, for tests and rule benchmarks (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detector.config import RulesConfig
from detector.types import Track, TrackPoint

CLASS_IDS = {"person": 0, "bicycle": 1, "car": 2, "motorcycle": 3, "bus": 5, "truck": 7}


def path_track(
    track_id: int,
    waypoints: Sequence[tuple[float, float, float]],
    vehicle_class: str = "car",
    fps: float = 25.0,
    box_size: tuple[float, float] = (40.0, 30.0),
    jitter_px: float = 0.0,
    seed: int = 0,
    drop: Sequence[tuple[float, float]] = (),
) -> Track:
    """A track whose anchor (bottom-centre) follows piecewise-linear `waypoints` (t, x, y) at `fps`.

    `jitter_px`: uniform noise on the box edges; `drop`: (t_start, t_end) intervals with no observation
    (a lost track that is re-found under the same id).
    """
    wp = np.asarray(waypoints, dtype=np.float64)
    rng = np.random.default_rng(seed)
    t0, t1 = wp[0, 0], wp[-1, 0]
    f0, f1 = int(round(t0 * fps)), int(round(t1 * fps))
    w, h = box_size
    track = Track(track_id)
    cid = CLASS_IDS[vehicle_class]
    for f in range(f0, f1 + 1):
        t = f / fps
        if any(a <= t < b for a, b in drop):
            continue
        x = float(np.interp(t, wp[:, 0], wp[:, 1]))
        y = float(np.interp(t, wp[:, 0], wp[:, 2]))
        if jitter_px:
            x += float(rng.uniform(-jitter_px, jitter_px))
            y += float(rng.uniform(-jitter_px, jitter_px))
        track.append(TrackPoint(f, t, (x - w / 2, y - h, x + w / 2, y), 0.9, cid))
    return track


def reference_rules_config(**overrides: object) -> RulesConfig:
    """A 1000x800 scene: traffic goes up the image (y decreasing).

    - stop line S1 at y=400 from x=100 to 900 (intersection above it);
    - lane L1 (x 100..500, all vehicles) and lane M1 (x 500..900, motorcycles and bicycles only),
      both from y=400 to 790, travelling up; L1 allows right turn on red when `rtor` is set;
    - solid line D1 at x=500 from y=420 to 780 between them;
    - no-stopping zone N1 (x 100..400, y 100..300) beyond the intersection;
    - calibration: 20 px per metre, world y grows up the image;
    - signal: none (tests pass the signal states directly).
    """
    raw: dict[str, object] = {
        "image_size": (1000, 800),
        "zones": {
            "stop_lines": [{"id": "S1", "points": [(100, 400), (900, 400)], "forward_point": (500, 300)}],
            "lanes": [
                {
                    "id": "L1",
                    "polygon": [(100, 400), (500, 400), (500, 790), (100, 790)],
                    "direction": [(300, 780), (300, 420)],
                    "stop_line": "S1",
                },
                {
                    "id": "M1",
                    "polygon": [(500, 400), (900, 400), (900, 790), (500, 790)],
                    "direction": [(700, 780), (700, 420)],
                    "stop_line": "S1",
                    "allowed_classes": ["motorcycle", "bicycle"],
                },
            ],
            "solid_lines": [{"id": "D1", "points": [(500, 420), (500, 780)]}],
            "no_stopping_zones": [{"id": "N1", "polygon": [(100, 100), (400, 100), (400, 300), (100, 300)]}],
        },
        "calibration": {
            "image_points": [(100, 790), (900, 790), (900, 10), (100, 10), (500, 400)],
            "world_points": [(5, 0.5), (45, 0.5), (45, 39.5), (5, 39.5), (25, 20)],
            "point_sigma_m": 0.05,
        },
        "rules": {"speeding": {"default_limit_kmh": 50.0}},
    }
    raw.update(overrides)
    return RulesConfig.model_validate(raw)
