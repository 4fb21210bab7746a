"""Drawing of a camera's rules geometry over a frame, for operators checking a config by eye.

`draw_zones` is also used by the replay preview. Colours (BGR): stop lines red, lanes blue (closed
classes orange), solid lines white, no-stopping zones magenta, right-turn exit zones green,
calibration grid yellow, calibration points cyan (measured) and white crosses (reprojected),
arrow exit zones light green, arrow lamp boxes green, ignore-mask areas grey hatched.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from detector.config import RulesConfig
from detector.geometry import Homography, Scene, calibration_from_config
from detector.signals import Phase, SignalState

Image = npt.NDArray[np.uint8]

_RED = (0, 0, 255)
_BLUE = (255, 140, 0)
_ORANGE = (0, 140, 255)
_WHITE = (255, 255, 255)
_MAGENTA = (255, 0, 255)
_GREEN = (0, 200, 0)
_YELLOW = (0, 230, 230)
_CYAN = (255, 255, 0)
_PHASE_BGR = {
    Phase.RED: (0, 0, 255),
    Phase.AMBER: (0, 190, 255),
    Phase.GREEN: (0, 200, 0),
    Phase.UNKNOWN: (160, 160, 160),
}


def _pts(points: object) -> npt.NDArray[np.int32]:
    return np.round(np.asarray(points, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)


def _label(
    img: Image, text: str, org: tuple[float, float], colour: tuple[int, int, int], scale: float
) -> None:
    x, y = int(org[0]), int(org[1])
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def _fill(img: Image, polygon: object, colour: tuple[int, int, int], alpha: float) -> None:
    overlay = img.copy()
    cv2.fillPoly(overlay, [_pts(polygon)], colour)
    cv2.addWeighted(overlay, alpha, img, 1 - alpha, 0, dst=img)


def draw_ignore(img: Image, ignore: Sequence[tuple[str, Sequence[Sequence[float]]]], scale: float) -> None:
    """Grey fill and outline of each (id, polygon) of the ignore mask, in place."""
    for zid, poly in ignore:
        _fill(img, poly, (128, 128, 128), 0.5)
        cv2.polylines(img, [_pts(poly)], True, (200, 200, 200), 1, cv2.LINE_AA)
        _label(
            img,
            f"ignore {zid}",
            np.asarray(poly, dtype=np.float64).min(axis=0) + (4, 16),
            (220, 220, 220),
            scale,
        )


def draw_zones(image: Image, rules: RulesConfig, signal_state: SignalState | None = None) -> Image:
    """A copy of `image` with the configured zones, lamp boxes and (optionally) the signal phase."""
    img = image.copy()
    h, w = img.shape[:2]
    scale = max(0.35, min(w, h) / 1100)
    thick = max(1, int(round(min(w, h) / 400)))
    z = rules.zones
    for tz in z.arrow_exit_zones:
        _fill(img, tz.polygon, (120, 255, 120), 0.2)
        cv2.polylines(img, [_pts(tz.polygon)], True, (120, 255, 120), 1, cv2.LINE_AA)
        _label(img, f"{tz.turn} on arrow {tz.id}", tz.polygon[0], (120, 255, 120), scale)
    for zone in z.no_stopping_zones:
        _fill(img, zone.polygon, _MAGENTA, 0.25)
        cv2.polylines(img, [_pts(zone.polygon)], True, _MAGENTA, thick, cv2.LINE_AA)
        _label(img, f"no stopping {zone.id}", zone.polygon[0], _MAGENTA, scale)
    for zone in z.right_turn_zones:
        _fill(img, zone.polygon, _GREEN, 0.2)
        _label(img, f"right turn {zone.id}", zone.polygon[0], _GREEN, scale)
    for lane in z.lanes:
        closed = lane.allowed_classes is not None
        colour = _ORANGE if closed else _BLUE
        cv2.polylines(img, [_pts(lane.polygon)], True, colour, thick, cv2.LINE_AA)
        d = np.asarray(lane.direction, dtype=np.float64)
        cv2.polylines(img, [_pts(d)], False, colour, thick, cv2.LINE_AA)
        seg = float(np.linalg.norm(d[-1] - d[-2]))
        tip = min(0.5, 14.0 / max(seg, 1e-9))
        cv2.arrowedLine(
            img, tuple(_pts(d[-2])[0, 0]), tuple(_pts(d[-1])[0, 0]), colour, thick + 1, cv2.LINE_AA, 0, tip
        )
        text = lane.id + (
            ": " + ",".join(lane.allowed_classes) if closed and lane.allowed_classes is not None else ""
        )
        if lane.right_turn_on_red:
            text += " (right on red)"
        if lane.turn_on_arrow:
            text += " (" + ",".join(lane.turn_on_arrow) + " on arrow)"
        c = np.asarray(lane.polygon).mean(axis=0)
        _label(img, text, (c[0] - 30, c[1]), colour, scale)
    for line in z.solid_lines:
        cv2.polylines(img, [_pts(line.points)], False, _WHITE, thick + 1, cv2.LINE_AA)
        _label(img, line.id, line.points[0], _WHITE, scale * 0.8)
    stop_colour = _PHASE_BGR[signal_state.phase] if signal_state is not None else _RED
    for stop in z.stop_lines:
        if stop.crosswalk:
            _fill(img, stop.crosswalk, _WHITE, 0.15)
        cv2.polylines(img, [_pts(stop.points)], False, stop_colour, thick + 2, cv2.LINE_AA)
        p = np.asarray(stop.points, dtype=np.float64)
        mid = p[len(p) // 2 - 1 : len(p) // 2 + 1].mean(axis=0) if len(p) > 1 else p[0]
        fwd = np.asarray(stop.forward_point, dtype=np.float64)
        v = fwd - mid
        tip = mid + v / max(np.linalg.norm(v), 1e-9) * 25
        cv2.arrowedLine(
            img, tuple(_pts(mid)[0, 0]), tuple(_pts(tip)[0, 0]), stop_colour, thick, cv2.LINE_AA, 0, 0.3
        )
        _label(img, f"stop {stop.id}", p[0] + (0, -6), stop_colour, scale)
    lamp_bgr = {"red": (0, 0, 255), "amber": (0, 190, 255), "green": (0, 200, 0)}
    for lamp in rules.signal.lamps:
        x1, y1, x2, y2 = (int(round(v)) for v in lamp.box)
        cv2.rectangle(img, (x1, y1), (x2, y2), lamp_bgr[lamp.colour], 1)
    for arrow in rules.signal.arrows:
        x1, y1, x2, y2 = (int(round(v)) for v in arrow.box)
        cv2.rectangle(img, (x1, y1), (x2, y2), lamp_bgr[arrow.colour], 1)
        _label(img, f"{arrow.turn} arrow", (x1 - 60, y2 + 14), lamp_bgr[arrow.colour], scale)
    if signal_state is not None:
        text = f"signal {signal_state.phase.value} {signal_state.since_s:.1f}s"
        if signal_state.time_into_red_s is not None:
            text += f" (into red {signal_state.time_into_red_s:.1f}s)"
        if signal_state.arrows:
            text += " arrow " + ",".join(sorted(signal_state.arrows))
        _label(img, text, (8, h - 10), _PHASE_BGR[signal_state.phase], scale * 1.2)
    return img


def _world_box(homo: Homography) -> tuple[float, float, float, float]:
    """World extent (metres) worth gridding: the calibration points' box, grown to what the valid
    region of the image covers."""
    region = np.asarray(homo.valid_region.exterior.coords, dtype=np.float64)
    world = homo.image_to_world(region)
    x0, y0 = world.min(axis=0)
    x1, y1 = world.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def draw_calibration(image: Image, homo: Homography, step_m: float = 5.0) -> Image:
    """A copy of `image` with a world grid every `step_m` metres projected into it, the calibration's
    valid region, and its reprojection error."""
    img = image.copy()
    h, w = img.shape[:2]
    scale = max(0.35, min(w, h) / 1100)
    x0, y0, x1, y1 = _world_box(homo)
    pad = 2 * step_m
    xs = np.arange(np.floor((x0 - pad) / step_m) * step_m, x1 + pad + 1e-9, step_m)
    ys = np.arange(np.floor((y0 - pad) / step_m) * step_m, y1 + pad + 1e-9, step_m)
    t = np.linspace(0.0, 1.0, 60)

    centre = homo.image_to_world(np.asarray(homo.valid_region.centroid.coords))
    front_sign = np.sign((np.c_[centre, [[1.0]]] @ homo.H_inv.T)[0, 2]) or 1.0

    def poly(world_pts: np.ndarray) -> None:
        hom = np.c_[world_pts, np.ones(len(world_pts))] @ homo.H_inv.T
        front = hom[:, 2] * front_sign > 1e-9  # in front of the camera (not beyond the horizon)
        img_pts = hom[:, :2] / np.where(np.abs(hom[:, 2:3]) < 1e-9, 1e-9, hom[:, 2:3])
        ok = front & (np.abs(img_pts) < 4 * max(w, h)).all(axis=1)
        keep = ok[:-1] & ok[1:]
        for a, b in zip(img_pts[:-1][keep], img_pts[1:][keep], strict=True):
            cv2.line(img, tuple(_pts(a)[0, 0]), tuple(_pts(b)[0, 0]), _YELLOW, 1, cv2.LINE_AA)

    for x in xs:
        poly(np.c_[np.full_like(t, x), ys[0] + t * (ys[-1] - ys[0])])
    for y in ys:
        poly(np.c_[xs[0] + t * (xs[-1] - xs[0]), np.full_like(t, y)])
    cv2.polylines(img, [_pts(np.asarray(homo.valid_region.exterior.coords))], True, _CYAN, 1, cv2.LINE_AA)
    text = f"grid {step_m:g} m; reprojection RMS {homo.rms_error_m:.2f} m / {homo.rms_error_px:.1f} px (max {homo.max_error_px:.1f} px)"
    _label(img, text, (8, 18), _YELLOW, scale * 1.1)
    return img


def draw_calibration_points(image: Image, rules: RulesConfig) -> Image:
    """Measured image points (cyan circles) and the world points reprojected (white crosses)."""
    img = image.copy()
    cal = rules.calibration
    if cal is None:
        return img
    homo = calibration_from_config(cal)
    reproj = homo.world_to_image(cal.world_points)
    for (px, py), (rx, ry), (wx, wy) in zip(cal.image_points, reproj, cal.world_points, strict=True):
        cv2.circle(img, (int(round(px)), int(round(py))), 5, _CYAN, 1, cv2.LINE_AA)
        cv2.drawMarker(img, (int(round(rx)), int(round(ry))), _WHITE, cv2.MARKER_CROSS, 8, 1)
        _label(img, f"({wx:g},{wy:g})", (px + 6, py - 4), _CYAN, 0.35)
    return img


def draw_calibration_view(
    image: Image,
    rules: RulesConfig,
    signal_state: SignalState | None = None,
    ignore: Sequence[tuple[str, Sequence[Sequence[float]]]] = (),
) -> Image:
    """Everything `detector calibrate` shows: zones, lamp boxes, grid, points and error, and the
    camera's ignore mask."""
    img = image.copy()
    draw_ignore(img, ignore, max(0.35, min(image.shape[:2]) / 1100))
    img = draw_zones(img, rules, signal_state)
    if rules.calibration is not None:
        scene = Scene.from_config(rules, (image.shape[1], image.shape[0]))
        assert scene.homography is not None
        img = draw_calibration(img, scene.homography)
        img = draw_calibration_points(img, rules)
    return img
