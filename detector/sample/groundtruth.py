"""Ground truth of the sample scene: frozen dataclasses, JSON read/write (atomic).

Image coordinates are pixels of the 960x540 frame (x right, y down); world coordinates are metres
on the road plane (x across, y along the road away from the camera). Frames are 0-based indices;
`t` is stream seconds (frame / fps).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from detector.errors import ConfigError

SCHEMA_VERSION = 1

Pt = tuple[float, float]
Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class CalibrationPoint:
    name: str
    image: Pt
    world: Pt


@dataclass(frozen=True, slots=True)
class LineSegment:
    id: str
    p1: Pt
    p2: Pt
    world_p1: Pt
    world_p2: Pt


@dataclass(frozen=True, slots=True)
class Lane:
    id: str
    name: str
    polygon: tuple[Pt, ...]  # image, clipped to the frame
    world_polygon: tuple[Pt, ...]
    allowed_classes: tuple[str, ...]
    direction: tuple[Pt, Pt]  # image points: from near to far along the travel direction
    direction_world: Pt  # unit vector of legal travel in world metres


@dataclass(frozen=True, slots=True)
class Zone:
    id: str
    kind: str
    polygon: tuple[Pt, ...]
    world_polygon: tuple[Pt, ...]


@dataclass(frozen=True, slots=True)
class SignalPlanTruth:
    cycle_start_s: float
    green_s: float
    amber_s: float
    red_s: float
    cycle_s: float


@dataclass(frozen=True, slots=True)
class SignalTruth:
    id: str
    housing: Box
    lamps: dict[str, Box]  # "red" | "amber" | "green" -> lamp box in the image
    plan: SignalPlanTruth
    stop_line_id: str
    phases: tuple[tuple[int, int, str], ...]  # (first frame, last frame, "green" | "amber" | "red")


@dataclass(frozen=True, slots=True)
class CameraTruth:
    focal_px: float
    height_m: float
    pitch_deg: float
    x_m: float
    homography_world_to_image: tuple[tuple[float, float, float], ...]


@dataclass(frozen=True, slots=True)
class SceneTruth:
    width: int
    height: int
    fps: float
    frame_count: int
    speed_limit_kmh: float
    camera: CameraTruth
    calibration_points: tuple[CalibrationPoint, ...]
    stop_line: LineSegment
    lanes: tuple[Lane, ...]
    solid_lines: tuple[LineSegment, ...]
    signal: SignalTruth
    no_stopping_zones: tuple[Zone, ...]


@dataclass(frozen=True, slots=True)
class BoxTruth:
    frame: int
    t: float
    x1: float
    y1: float
    x2: float
    y2: float
    visible: float  # fraction of the unclipped box inside the frame
    occluded: float  # fraction of the clipped box covered by nearer vehicles
    world_x: float  # anchor (bottom-centre, the rear contact point) in world metres
    world_y: float
    speed_kmh: float
    plate_box: Box | None  # the rendered plate, clipped; None when off-frame or under 8 px wide

    @property
    def xyxy(self) -> Box:
        return (self.x1, self.y1, self.x2, self.y2)

    @property
    def area(self) -> float:
        return (self.x2 - self.x1) * (self.y2 - self.y1)


@dataclass(frozen=True, slots=True)
class ViolationTruth:
    type: str  # red_light | stop_line | lane_restriction | solid_line | wrong_way | speeding | no_stopping
    frame: int
    t: float
    measured: dict[str, float | int | str | None]


@dataclass(frozen=True, slots=True)
class VehicleTruth:
    id: int
    vehicle_class: str
    plate: str
    plate_normalized: str
    sprite: str
    role: str
    speed_kmh: float  # cruise speed (constant-speed vehicles keep it throughout)
    direction: str  # "with_traffic" | "wrong_way"
    boxes: tuple[BoxTruth, ...]
    violations: tuple[ViolationTruth, ...]

    def box_at(self, frame: int) -> BoxTruth | None:
        for b in self.boxes:
            if b.frame == frame:
                return b
        return None


@dataclass(frozen=True, slots=True)
class GroundTruth:
    schema_version: int
    generator: str
    seed: int
    video_file: str
    scene: SceneTruth
    vehicles: tuple[VehicleTruth, ...]
    imagery: dict[str, str]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=False, ensure_ascii=False)

    def violations(self) -> list[tuple[int, ViolationTruth]]:
        return [(v.id, x) for v in self.vehicles for x in v.violations]


def _pts(seq: Any) -> tuple[Pt, ...]:
    return tuple((float(p[0]), float(p[1])) for p in seq)


def _pair(seq: Any) -> tuple[Pt, Pt]:
    a, b = _pts(seq)
    return (a, b)


def _seg(d: dict[str, Any]) -> LineSegment:
    return LineSegment(d["id"], tuple(d["p1"]), tuple(d["p2"]), tuple(d["world_p1"]), tuple(d["world_p2"]))


def ground_truth_from_dict(d: dict[str, Any]) -> GroundTruth:
    s = d["scene"]
    cam = CameraTruth(
        **{
            **s["camera"],
            "homography_world_to_image": tuple(tuple(r) for r in s["camera"]["homography_world_to_image"]),
        }
    )
    sig = s["signal"]
    scene = SceneTruth(
        width=s["width"],
        height=s["height"],
        fps=s["fps"],
        frame_count=s["frame_count"],
        speed_limit_kmh=s["speed_limit_kmh"],
        camera=cam,
        calibration_points=tuple(
            CalibrationPoint(c["name"], tuple(c["image"]), tuple(c["world"])) for c in s["calibration_points"]
        ),
        stop_line=_seg(s["stop_line"]),
        lanes=tuple(
            Lane(
                ln["id"],
                ln["name"],
                _pts(ln["polygon"]),
                _pts(ln["world_polygon"]),
                tuple(ln["allowed_classes"]),
                _pair(ln["direction"]),
                tuple(ln["direction_world"]),
            )
            for ln in s["lanes"]
        ),
        solid_lines=tuple(_seg(x) for x in s["solid_lines"]),
        signal=SignalTruth(
            sig["id"],
            tuple(sig["housing"]),
            {k: tuple(v) for k, v in sig["lamps"].items()},
            SignalPlanTruth(**sig["plan"]),
            sig["stop_line_id"],
            tuple((int(a), int(b), str(c)) for a, b, c in sig["phases"]),
        ),
        no_stopping_zones=tuple(
            Zone(z["id"], z["kind"], _pts(z["polygon"]), _pts(z["world_polygon"]))
            for z in s["no_stopping_zones"]
        ),
    )
    vehicles = tuple(
        VehicleTruth(
            id=v["id"],
            vehicle_class=v["vehicle_class"],
            plate=v["plate"],
            plate_normalized=v["plate_normalized"],
            sprite=v["sprite"],
            role=v["role"],
            speed_kmh=v["speed_kmh"],
            direction=v["direction"],
            boxes=tuple(
                BoxTruth(**{**b, "plate_box": tuple(b["plate_box"]) if b["plate_box"] else None})
                for b in v["boxes"]
            ),
            violations=tuple(ViolationTruth(**x) for x in v["violations"]),
        )
        for v in d["vehicles"]
    )
    return GroundTruth(
        d["schema_version"], d["generator"], d["seed"], d["video_file"], scene, vehicles, dict(d["imagery"])
    )


def load_ground_truth(path: str | Path) -> GroundTruth:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: ground-truth file not found (regenerate with: detector sample generate)")
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p}: not valid JSON: {exc}") from exc
    if d.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(f"{p}: schema_version {d.get('schema_version')!r}, expected {SCHEMA_VERSION}")
    try:
        return ground_truth_from_dict(d)
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{p}: malformed ground truth: {exc!r}") from exc
