"""A camera's scene over its frames: rule zones, signal lamps and phase, the ignore mask and the
calibration grid, as annotators (geometry drawn by `annotate`, text returned by `labels` for the
picture's one `LabelAnnotator`).

Colours (BGR): stop lines red (the phase colour when the signal is known), lanes blue (closed to some
classes orange), solid lines white, no-stopping zones magenta, right-turn exit zones green, arrow exit
zones light green, lamp boxes in their colour, ignore-mask areas grey, calibration grid yellow,
calibration points cyan circles (measured) and white crosses (reprojected).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt
from shapely.geometry import Polygon

from detector.annotate.labels import Colour, Image, Label, LabelAnnotator, Place, Style
from detector.annotate.shapes import (
    PRIORITY_DETAIL,
    PRIORITY_SIGNAL,
    PRIORITY_ZONE,
    WHITE,
    Shape,
    ShapeAnnotator,
    points,
)
from detector.config import RulesConfig
from detector.geometry import Homography, Scene, calibration_from_config
from detector.signals import Phase, SignalState

BLUE: Colour = (255, 140, 0)
ORANGE: Colour = (0, 140, 255)
MAGENTA: Colour = (255, 0, 255)
GREEN: Colour = (0, 200, 0)
LIGHT_GREEN: Colour = (120, 255, 120)
GRID_YELLOW: Colour = (0, 230, 230)
CYAN: Colour = (255, 255, 0)
IGNORE_GREY: Colour = (128, 128, 128)
PHASE_BGR: dict[Phase, Colour] = {
    Phase.RED: (0, 0, 255),
    Phase.AMBER: (0, 190, 255),
    Phase.GREEN: (0, 200, 0),
    Phase.UNKNOWN: (160, 160, 160),
}
LAMP_BGR: dict[str, Colour] = {"red": (0, 0, 255), "amber": (0, 190, 255), "green": (0, 200, 0)}


def inside_point(polygon: object) -> tuple[float, float]:
    """A point inside the polygon to hang its label on: the centroid, or a point surely inside."""
    poly = Polygon(np.asarray(polygon, dtype=np.float64))
    if not poly.is_valid or poly.is_empty:
        c = np.asarray(polygon, dtype=np.float64).mean(axis=0)
        return float(c[0]), float(c[1])
    p = poly.centroid if poly.contains(poly.centroid) else poly.representative_point()
    return float(p.x), float(p.y)


def _point(x: float, y: float) -> tuple[float, float, float, float]:
    return (x, y, x, y)


def signal_text(state: SignalState) -> str:
    """The phase and how long it has lasted, once (on red that is the time into red), and the lit arrows:
    "signal red since 2.0 s, arrow lit: left"; an unknown phase has no duration."""
    text = f"signal {state.phase.value}"
    if state.phase is not Phase.UNKNOWN:
        text += f" since {state.since_s:.1f} s"
    if state.arrows:
        text += (", arrows lit: " if len(state.arrows) > 1 else ", arrow lit: ") + ", ".join(
            sorted(state.arrows)
        )
    return text


def _lane_text(lane: object) -> str:
    text: str = lane.id  # type: ignore[attr-defined]
    if lane.allowed_classes is not None:  # type: ignore[attr-defined]
        text += ": " + ",".join(lane.allowed_classes)  # type: ignore[attr-defined]
    if lane.right_turn_on_red:  # type: ignore[attr-defined]
        text += " (right on red)"
    if lane.turn_on_arrow:  # type: ignore[attr-defined]
        text += " (" + ",".join(lane.turn_on_arrow) + " on arrow)"  # type: ignore[attr-defined]
    return text


class ZoneAnnotator:
    """The configured zones, lines and lamp boxes of `rules`, and the signal phase when known."""

    def __init__(self, rules: RulesConfig) -> None:
        self.rules = rules
        self._shapes = ShapeAnnotator()

    def shapes(self, signal: SignalState | None = None) -> list[Shape]:
        z = self.rules.zones
        out: list[Shape] = []
        out += [Shape(tz.polygon, LIGHT_GREEN, fill=0.2, outline=1) for tz in z.arrow_exit_zones]
        out += [Shape(zone.polygon, MAGENTA, fill=0.25) for zone in z.no_stopping_zones]
        out += [Shape(zone.polygon, GREEN, fill=0.2, outline=0) for zone in z.right_turn_zones]
        for lane in z.lanes:
            colour = ORANGE if lane.allowed_classes is not None else BLUE
            out.append(Shape(lane.polygon, colour))
            out.append(Shape(lane.direction, colour, closed=False, arrow=True, extra=1))
        out += [Shape(line.points, WHITE, closed=False, extra=1) for line in z.solid_lines]
        stop_colour = PHASE_BGR[signal.phase] if signal is not None else PHASE_BGR[Phase.RED]
        for stop in z.stop_lines:
            if stop.crosswalk:
                out.append(Shape(stop.crosswalk, WHITE, fill=0.15, outline=0))
            out.append(Shape(stop.points, stop_colour, closed=False, extra=2))
            p = np.asarray(stop.points, dtype=np.float64)
            mid = p[len(p) // 2 - 1 : len(p) // 2 + 1].mean(axis=0) if len(p) > 1 else p[0]
            v = np.asarray(stop.forward_point, dtype=np.float64) - mid
            tip = mid + v / max(float(np.linalg.norm(v)), 1e-9) * 25
            out.append(Shape([mid, tip], stop_colour, closed=False, arrow=True))
        return out

    def annotate(self, frame: Image, signal: SignalState | None = None, style: Style | None = None) -> Image:
        """Draw the zones on `frame` (in place; returned)."""
        self._shapes.annotate(frame, self.shapes(signal), style)
        sig = self.rules.signal
        for box, colour in [(lp.box, lp.colour) for lp in sig.lamps] + [
            (a.box, a.colour) for a in sig.arrows
        ]:
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            cv2.rectangle(frame, (x1, y1), (x2, y2), LAMP_BGR[colour], 1)
        return frame

    def labels(self, shape: tuple[int, ...], signal: SignalState | None = None) -> list[Label]:
        """The zones' names, the arrow lamps' and the signal phase, for a frame of `shape`."""
        z = self.rules.zones
        out: list[Label] = []

        def zone(text: str, polygon: object, colour: Colour) -> None:
            out.append(Label(text, _point(*inside_point(polygon)), colour, PRIORITY_ZONE, Place.CENTRE))

        for tz in z.arrow_exit_zones:
            zone(f"{tz.turn} on arrow: {tz.id}", tz.polygon, LIGHT_GREEN)
        for nz in z.no_stopping_zones:
            zone(f"no stopping: {nz.id}", nz.polygon, MAGENTA)
        for rz in z.right_turn_zones:
            zone(f"right turn: {rz.id}", rz.polygon, GREEN)
        for lane in z.lanes:
            zone(_lane_text(lane), lane.polygon, ORANGE if lane.allowed_classes is not None else BLUE)
        for line in z.solid_lines:
            p = np.asarray(line.points, dtype=np.float64)
            mid = p[len(p) // 2] if len(p) > 2 else p.mean(axis=0)
            out.append(Label(line.id, _point(*mid), WHITE, PRIORITY_ZONE, Place.CENTRE, size=0.85))
        stop_colour = PHASE_BGR[signal.phase] if signal is not None else PHASE_BGR[Phase.RED]
        for stop in z.stop_lines:
            x, y = stop.points[0]
            out.append(Label(f"stop line: {stop.id}", _point(x, y), stop_colour, PRIORITY_ZONE))
        for arrow in self.rules.signal.arrows:
            out.append(Label(f"{arrow.turn} arrow", tuple(arrow.box), LAMP_BGR[arrow.colour], PRIORITY_ZONE))  # type: ignore[arg-type]
        if signal is not None:
            h = int(shape[0])
            out.append(
                Label(
                    signal_text(signal), _point(0, h), PHASE_BGR[signal.phase], PRIORITY_SIGNAL, Place.FIXED
                )
            )
        return out


class IgnoreAnnotator:
    """The camera's ignore mask: each (id, polygon) area greyed, with its name."""

    def __init__(self, areas: Sequence[tuple[str, Sequence[Sequence[float]]]]) -> None:
        self.areas = list(areas)

    def annotate(self, frame: Image, style: Style | None = None) -> Image:
        shapes = [Shape(poly, IGNORE_GREY, fill=0.5, outline=1) for _, poly in self.areas]
        return ShapeAnnotator().annotate(frame, shapes, style)

    def labels(self) -> list[Label]:
        return [
            Label(f"ignore: {zid}", _point(*inside_point(poly)), (220, 220, 220), PRIORITY_ZONE, Place.CENTRE)
            for zid, poly in self.areas
        ]


def _world_box(homo: Homography) -> tuple[float, float, float, float]:
    """World extent (metres) worth gridding: what the valid region of the image covers."""
    region = np.asarray(homo.valid_region.exterior.coords, dtype=np.float64)
    world = homo.image_to_world(region)
    x0, y0 = world.min(axis=0)
    x1, y1 = world.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


class CalibrationAnnotator:
    """A world grid every `step_m` metres projected into the image, the calibration's valid region,
    its measured points (cyan) and the world points reprojected (white crosses), and its error."""

    def __init__(self, rules: RulesConfig, homography: Homography, step_m: float = 5.0) -> None:
        self.rules = rules
        self.homo = homography
        self.step_m = step_m

    def _grid(self, frame: Image, line: int) -> None:
        homo, step = self.homo, self.step_m
        h, w = frame.shape[:2]
        x0, y0, x1, y1 = _world_box(homo)
        pad = 2 * step
        xs = np.arange(np.floor((x0 - pad) / step) * step, x1 + pad + 1e-9, step)
        ys = np.arange(np.floor((y0 - pad) / step) * step, y1 + pad + 1e-9, step)
        t = np.linspace(0.0, 1.0, 60)
        centre = homo.image_to_world(np.asarray(homo.valid_region.centroid.coords))
        front_sign = np.sign((np.c_[centre, [[1.0]]] @ homo.H_inv.T)[0, 2]) or 1.0

        def poly(world_pts: npt.NDArray[np.float64]) -> None:
            hom = np.c_[world_pts, np.ones(len(world_pts))] @ homo.H_inv.T
            front = hom[:, 2] * front_sign > 1e-9  # in front of the camera (not beyond the horizon)
            img_pts = hom[:, :2] / np.where(np.abs(hom[:, 2:3]) < 1e-9, 1e-9, hom[:, 2:3])
            ok = front & (np.abs(img_pts) < 4 * max(w, h)).all(axis=1)
            keep = ok[:-1] & ok[1:]
            for a, b in zip(img_pts[:-1][keep], img_pts[1:][keep], strict=True):
                cv2.line(
                    frame, tuple(points(a)[0, 0]), tuple(points(b)[0, 0]), GRID_YELLOW, line, cv2.LINE_AA
                )

        for x in xs:
            poly(np.c_[np.full_like(t, x), ys[0] + t * (ys[-1] - ys[0])])
        for y in ys:
            poly(np.c_[xs[0] + t * (xs[-1] - xs[0]), np.full_like(t, y)])

    def annotate(self, frame: Image, style: Style | None = None) -> Image:
        st = style or Style.of(frame)
        self._grid(frame, max(1, st.line // 2))
        region = np.asarray(self.homo.valid_region.exterior.coords)
        cv2.polylines(frame, [points(region)], True, CYAN, st.line, cv2.LINE_AA)
        cal = self.rules.calibration
        if cal is not None:
            reproj = calibration_from_config(cal).world_to_image(cal.world_points)
            r = max(4, 3 * st.line)
            for (px, py), (rx, ry) in zip(cal.image_points, reproj, strict=True):
                cv2.circle(frame, (int(round(px)), int(round(py))), r, CYAN, st.line, cv2.LINE_AA)
                cv2.drawMarker(
                    frame, (int(round(rx)), int(round(ry))), WHITE, cv2.MARKER_CROSS, 2 * r, st.line
                )
        return frame

    def labels(self) -> list[Label]:
        h = self.homo
        text = (
            f"grid {self.step_m:g} m; reprojection RMS {h.rms_error_m:.2f} m / {h.rms_error_px:.1f} px"
            f" (max {h.max_error_px:.1f} px)"
        )
        out = [Label(text, _point(0, 0), GRID_YELLOW, PRIORITY_SIGNAL, Place.FIXED)]
        cal = self.rules.calibration
        if cal is not None:
            for (px, py), (wx, wy) in zip(cal.image_points, cal.world_points, strict=True):
                out.append(
                    Label(
                        f"({wx:g},{wy:g})", (px - 4, py - 4, px + 4, py + 4), CYAN, PRIORITY_DETAIL, size=0.8
                    )
                )
        return out


#: A line to propose to the operator: its name and end points (image pixels).
Suggestion = tuple[str, tuple[float, float], tuple[float, float]]
SUGGESTION_BGR: Colour = (255, 255, 0)  # cyan: apart from the zones' colours


def suggestion_labels(img: Image, suggestions: Sequence[Suggestion], style: Style) -> list[Label]:
    """Proposed lines drawn dashed (the first, the best, thicker), each named at its far end."""
    out: list[Label] = []
    for rank, (name, (x1, y1), (x2, y2)) in enumerate(suggestions):
        n = max(2, int(np.hypot(x2 - x1, y2 - y1) // 12))
        width = style.line + (1 if rank == 0 else 0)
        for i in range(0, n, 2):  # dashes
            a, b = i / n, min(i + 1, n) / n
            p = (round(x1 + a * (x2 - x1)), round(y1 + a * (y2 - y1)))
            q = (round(x1 + b * (x2 - x1)), round(y1 + b * (y2 - y1)))
            cv2.line(img, p, q, SUGGESTION_BGR, width, cv2.LINE_AA)
        out.append(Label(name, (x2, y2, x2, y2), SUGGESTION_BGR, PRIORITY_ZONE))
    return out


def calibration_view(
    image: Image,
    rules: RulesConfig,
    signal: SignalState | None = None,
    ignore: Sequence[tuple[str, Sequence[Sequence[float]]]] = (),
    suggestions: Sequence[Suggestion] = (),
) -> Image:
    """Everything `detector calibrate` shows, on a copy of `image`: the ignore mask, zones, lamp boxes
    and signal phase, with a calibration its grid, points and error, and any proposed lines."""
    img = image.copy()
    style = Style.of(img)
    labels: list[Label] = []
    mask = IgnoreAnnotator(ignore)
    mask.annotate(img, style)
    labels += mask.labels()
    zones = ZoneAnnotator(rules)
    zones.annotate(img, signal, style)
    labels += zones.labels(img.shape, signal)
    if rules.calibration is not None:
        scene = Scene.from_config(rules, (image.shape[1], image.shape[0]))
        assert scene.homography is not None
        cal = CalibrationAnnotator(rules, scene.homography)
        cal.annotate(img, style)
        labels += cal.labels()
    labels += suggestion_labels(img, suggestions, style)  # drawn over the configured lines they check
    return LabelAnnotator(style).annotate(img, labels)
