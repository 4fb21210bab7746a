"""Ground truth of the sample scene: geometry in image pixels and the violations each script commits.

Violations are derived from the exact motion (not asserted by hand): the anchor is the vehicle's
rear ground-contact point, the bottom-centre of its box, which is what the rules see from this
camera (traffic drives away from it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from shapely.geometry import LineString, Point, Polygon, box

from detector.platetext import normalize_plate
from detector.sample.groundtruth import (
    BoxTruth,
    CalibrationPoint,
    CameraTruth,
    Lane,
    LineSegment,
    SceneTruth,
    SignalPlanTruth,
    SignalTruth,
    VehicleTruth,
    ViolationTruth,
    Zone,
)
from detector.sample.render import VehicleOnFrame
from detector.sample.scene import (
    FPS,
    HEIGHT,
    LANE_EDGES_X,
    NO_STOPPING_Y,
    SHOULDER_X,
    SIGNAL_HOUSING,
    SIGNAL_LAMPS,
    SOLID_SECTION_Y,
    SPEED_LIMIT_KMH,
    STOP_LINE_Y,
    WIDTH,
    Camera,
    Phase,
    SignalPlan,
)
from detector.sample.traffic import VehicleScript

NEAR_Y = 6.0  # world y where lane polygons start (below the frame; clipped to it)
STOPPED_KMH = 1.0
NO_STOPPING_MIN_DWELL_S = 3.0
MOTORBIKE_LANE_CLASSES = ("motorcycle", "bicycle")
GENERAL_LANE_CLASSES = ("car", "truck", "bus", "motorcycle", "bicycle")
FRAME = box(0, 0, WIDTH, HEIGHT)


def _r(v: float) -> float:
    return round(float(v), 2)


def _img_poly(cam: Camera, world: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    poly = Polygon(cam.project(world)).intersection(FRAME)
    coords = list(poly.exterior.coords)[:-1]
    return tuple((_r(x), _r(y)) for x, y in coords)


def _img_segment(cam: Camera, sid: str, a: tuple[float, float], b: tuple[float, float]) -> LineSegment:
    line = LineString(cam.project([a, b])).intersection(FRAME)
    (x1, y1), (x2, y2) = list(line.coords)[0], list(line.coords)[-1]
    wa, wb = cam.unproject([(x1, y1), (x2, y2)])
    return LineSegment(
        sid, (_r(x1), _r(y1)), (_r(x2), _r(y2)), (_r(wa[0]), _r(wa[1])), (_r(wb[0]), _r(wb[1]))
    )


def _rect(x1: float, x2: float, y1: float, y2: float) -> list[tuple[float, float]]:
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


def _phase_intervals(plan: SignalPlan, frame_count: int) -> tuple[tuple[int, int, str], ...]:
    out: list[tuple[int, int, str]] = []
    for i in range(frame_count):
        p = plan.phase_at(i / FPS).value
        if out and out[-1][2] == p:
            out[-1] = (out[-1][0], i, p)
        else:
            out.append((i, i, p))
    return tuple(out)


def _lanes(cam: Camera) -> tuple[Lane, ...]:
    """The three lanes up to the stop line, with their allowed classes and direction of travel."""
    lanes = []
    names = (
        "lane 0 (left, general traffic)",
        "lane 1 (middle, general traffic)",
        "lane 2 (right, motorbikes only: lan xe may)",
    )
    for i in range(3):
        xl, xr = LANE_EDGES_X[i], LANE_EDGES_X[i + 1]
        world = _rect(xl, xr, NEAR_Y, STOP_LINE_Y)
        xc = (xl + xr) / 2
        near, far = cam.project([(xc, 12.0), (xc, STOP_LINE_Y)])
        lanes.append(
            Lane(
                id=f"lane_{i}",
                name=names[i],
                polygon=_img_poly(cam, world),
                world_polygon=tuple((_r(x), _r(y)) for x, y in world),
                allowed_classes=MOTORBIKE_LANE_CLASSES if i == 2 else GENERAL_LANE_CLASSES,
                direction=((_r(near[0]), _r(near[1])), (_r(far[0]), _r(far[1]))),
                direction_world=(0.0, 1.0),
            )
        )
    return tuple(lanes)


def _calibration_points(cam: Camera) -> tuple[CalibrationPoint, ...]:
    """Lane-edge points at 16 m and at the stop line, in the image and on the road."""
    calib_world = [
        (0.0, 16.0),
        (3.5, 16.0),
        (7.0, 16.0),
        (10.0, 16.0),
        (0.0, STOP_LINE_Y),
        (3.5, STOP_LINE_Y),
        (7.0, STOP_LINE_Y),
        (10.0, STOP_LINE_Y),
    ]
    calib_img = cam.project(calib_world)
    return tuple(
        CalibrationPoint(f"x{w[0]:g}_y{w[1]:g}", (_r(p[0]), _r(p[1])), (w[0], w[1]))
        for w, p in zip(calib_world, calib_img, strict=True)
    )


def _signal_truth(plan: SignalPlan, frame_count: int) -> SignalTruth:
    return SignalTruth(
        id="signal_main",
        housing=tuple(float(v) for v in SIGNAL_HOUSING),  # type: ignore[arg-type]
        lamps={p.value: tuple(float(v) for v in b) for p, b in SIGNAL_LAMPS.items()},  # type: ignore[misc]
        plan=SignalPlanTruth(plan.cycle_start_s, plan.green_s, plan.amber_s, plan.red_s, plan.cycle_s),
        stop_line_id="stop_line",
        phases=_phase_intervals(plan, frame_count),
    )


def scene_truth(cam: Camera, plan: SignalPlan, frame_count: int) -> SceneTruth:
    """The scene's geometry in the image and on the road, its signal and its no-stopping zone."""
    zone_world = _rect(SHOULDER_X[0], SHOULDER_X[1], NO_STOPPING_Y[0], NO_STOPPING_Y[1])
    hom = cam.homography
    return SceneTruth(
        width=WIDTH,
        height=HEIGHT,
        fps=FPS,
        frame_count=frame_count,
        speed_limit_kmh=SPEED_LIMIT_KMH,
        camera=CameraTruth(
            cam.focal_px,
            cam.height_m,
            cam.pitch_deg,
            cam.x_m,
            tuple((float(r[0]), float(r[1]), float(r[2])) for r in hom / hom[2, 2]),
        ),
        calibration_points=_calibration_points(cam),
        stop_line=_img_segment(
            cam, "stop_line", (LANE_EDGES_X[0], STOP_LINE_Y), (LANE_EDGES_X[3], STOP_LINE_Y)
        ),
        lanes=_lanes(cam),
        solid_lines=(
            _img_segment(
                cam,
                "solid_lane0_lane1",
                (LANE_EDGES_X[1], SOLID_SECTION_Y[0]),
                (LANE_EDGES_X[1], SOLID_SECTION_Y[1]),
            ),
            _img_segment(cam, "solid_lane1_lane2", (LANE_EDGES_X[2], NEAR_Y), (LANE_EDGES_X[2], STOP_LINE_Y)),
        ),
        signal=_signal_truth(plan, frame_count),
        no_stopping_zones=(
            Zone(
                "no_stopping_shoulder",
                "no_stopping",
                _img_poly(cam, zone_world),
                tuple((_r(x), _r(y)) for x, y in zone_world),
            ),
        ),
    )


def _lane_of(x: float, y: float) -> int | None:
    if not NEAR_Y <= y <= STOP_LINE_Y:
        return None
    for i in range(3):
        if LANE_EDGES_X[i] <= x < LANE_EDGES_X[i + 1]:
            return i
    return None


Measured = float | int | str | None


@dataclass(frozen=True)
class _Path:
    """A vehicle's exact state on the frames it is on screen (anchor in world metres, km/h)."""

    script: VehicleScript
    seen: list[VehicleOnFrame]
    xs: npt.NDArray[np.float64]
    ys: npt.NDArray[np.float64]
    kmh: npt.NDArray[np.float64]
    fr: npt.NDArray[np.int64]

    @classmethod
    def of(cls, script: VehicleScript, seen: list[VehicleOnFrame], frames: list[int]) -> _Path:
        return cls(
            script,
            seen,
            np.array([s.world_x for s in seen]),
            np.array([s.world_y for s in seen]),
            np.array([s.speed_ms * 3.6 for s in seen]),
            np.array(frames),
        )

    def violation(self, kind: str, k: int, **measured: Measured) -> ViolationTruth:
        """A violation decided on the path's `k`-th frame."""
        return ViolationTruth(kind, int(self.fr[k]), _r(self.fr[k] / FPS), dict(measured))


def derive_violations(
    script: VehicleScript, plan: SignalPlan, seen: list[VehicleOnFrame], frames: list[int], frame_count: int
) -> list[ViolationTruth]:
    """The violations of one vehicle, from its exact state at every frame it is on screen."""
    if not seen:
        return []
    path = _Path.of(script, seen, frames)
    red, cross = _red_light(path, plan)
    found = (
        red,
        _speeding(path, cross),
        _wrong_way(path),
        _lane_restriction(path),
        _solid_line(path),
        _no_stopping(path, frame_count),
    )
    return sorted((v for v in found if v is not None), key=lambda v: v.frame)


def _red_light(p: _Path, plan: SignalPlan) -> tuple[ViolationTruth | None, int | None]:
    """The anchor crosses the stop line (with the traffic direction) while the signal is red; and the
    index of the crossing frame, red or not."""
    if p.script.direction <= 0:
        return None, None
    ys = p.ys
    idx = np.nonzero((ys[:-1] < STOP_LINE_Y) & (ys[1:] >= STOP_LINE_Y))[0]
    if not idx.size:
        return None, None
    k = int(idx[0]) + 1
    # exact crossing time by linear interpolation between the two frames
    a = (STOP_LINE_Y - ys[k - 1]) / (ys[k] - ys[k - 1])
    t_cross = (p.fr[k - 1] + a) / FPS
    into = plan.time_into_red(t_cross)
    if into is None or not LANE_EDGES_X[0] <= p.xs[k] <= LANE_EDGES_X[3]:
        return None, k
    red = p.violation(
        "red_light",
        k,
        time_into_red_s=_r(into),
        crossing_t_s=_r(t_cross),
        speed_kmh=_r(p.kmh[k]),
        phase="red",
    )
    return red, k


def _speeding(p: _Path, cross: int | None) -> ViolationTruth | None:
    """The constant cruise speed over the visible track, decided where it crosses the stop line (or
    halfway along its moving frames)."""
    moving = p.kmh > STOPPED_KMH
    if not moving.any() or p.kmh[moving].max() <= SPEED_LIMIT_KMH:
        return None
    k = cross if cross is not None else int(np.nonzero(moving)[0][len(np.nonzero(moving)[0]) // 2])
    top = p.kmh[moving].max()
    return p.violation(
        "speeding", k, speed_kmh=_r(top), limit_kmh=SPEED_LIMIT_KMH, over_kmh=_r(top - SPEED_LIMIT_KMH)
    )


def _wrong_way(p: _Path) -> ViolationTruth | None:
    """Travelling -y in a lane whose legal direction is +y; flagged after 5 m on screen."""
    if p.script.direction >= 0:
        return None
    travelled = p.ys[0] - p.ys
    k = int(np.nonzero(travelled >= 5.0)[0][0])
    lane = _lane_of(p.xs[-1], min(p.ys[-1], STOP_LINE_Y))
    return p.violation(
        "wrong_way",
        k,
        lane_id=f"lane_{lane}" if lane is not None else None,
        speed_kmh=_r(p.kmh[k]),
        heading_deg=180.0,
        distance_m=5.0,
    )


def _lane_restriction(p: _Path) -> ViolationTruth | None:
    """A class not allowed in the motorbike lane, anchor inside it (fully visible)."""
    if p.script.vehicle_class in MOTORBIKE_LANE_CLASSES:
        return None
    in_lane2 = [
        i for i in range(len(p.seen)) if _lane_of(p.xs[i], p.ys[i]) == 2 and p.seen[i].visible >= 0.99
    ]
    if not in_lane2:
        return None
    return p.violation(
        "lane_restriction",
        in_lane2[0],
        lane_id="lane_2",
        vehicle_class=p.script.vehicle_class,
        allowed_classes=",".join(MOTORBIKE_LANE_CLASSES),
        frames_in_lane=len(in_lane2),
    )


def _solid_line(p: _Path) -> ViolationTruth | None:
    """The anchor's x crosses the solid lane 0|1 line inside the solid section (the first time)."""
    side = np.sign(p.xs - LANE_EDGES_X[1])
    for i in range(1, len(p.xs)):
        if side[i] != side[i - 1] and SOLID_SECTION_Y[0] <= p.ys[i] <= SOLID_SECTION_Y[1]:
            return p.violation(
                "solid_line",
                i,
                line_id="solid_lane0_lane1",
                world_y_m=_r(p.ys[i]),
                from_lane="lane_0" if side[i - 1] < 0 else "lane_1",
                to_lane="lane_1" if side[i] > 0 else "lane_0",
            )
    return None


def _no_stopping(p: _Path, frame_count: int) -> ViolationTruth | None:
    """Stationary with the anchor inside the no-stopping box for at least 3 s (the first stop)."""
    zone = Polygon(_rect(SHOULDER_X[0], SHOULDER_X[1], NO_STOPPING_Y[0], NO_STOPPING_Y[1]))
    inside = np.array(
        [zone.contains(Point(x, y)) and v <= STOPPED_KMH for x, y, v in zip(p.xs, p.ys, p.kmh, strict=True)]
    )
    if not inside.any():
        return None
    first = int(np.nonzero(inside)[0][0])
    last = first
    while last + 1 < len(inside) and inside[last + 1]:
        last += 1
    dwell = (p.fr[last] - p.fr[first] + 1) / FPS
    if dwell < NO_STOPPING_MIN_DWELL_S:
        return None
    still = bool(p.fr[last] == frame_count - 1)
    return p.violation(
        "no_stopping",
        first,
        zone_id="no_stopping_shoulder",
        dwell_s=_r(dwell),
        stop_start_frame=int(p.fr[first]),
        stop_end_frame=None if still else int(p.fr[last]),
        still_stopped_at_end=str(still).lower(),
    )


def vehicle_truth(
    script: VehicleScript,
    plate: str,
    sprite: str,
    plan: SignalPlan,
    seen: list[VehicleOnFrame],
    frames: list[int],
    frame_count: int,
) -> VehicleTruth:
    boxes = tuple(
        BoxTruth(
            frame=f,
            t=_r(f / FPS),
            x1=s.box[0],
            y1=s.box[1],
            x2=s.box[2],
            y2=s.box[3],
            visible=_r(s.visible),
            occluded=_r(s.occluded),
            world_x=_r(s.world_x),
            world_y=_r(s.world_y),
            speed_kmh=_r(s.speed_ms * 3.6),
            plate_box=(
                (float(s.plate_box[0]), float(s.plate_box[1]), float(s.plate_box[2]), float(s.plate_box[3]))
                if s.plate_box
                else None
            ),
        )
        for f, s in zip(frames, seen, strict=True)
    )
    return VehicleTruth(
        id=script.vehicle_id,
        vehicle_class=script.vehicle_class,
        plate=plate,
        plate_normalized=normalize_plate(plate),
        sprite=sprite,
        role=script.role,
        speed_kmh=script.speed_kmh,
        direction="with_traffic" if script.direction > 0 else "wrong_way",
        boxes=boxes,
        violations=tuple(derive_violations(script, plan, seen, frames, frame_count)),
    )


def phase_name(plan: SignalPlan, frame: int) -> Phase:
    return plan.phase_at(frame / FPS)
