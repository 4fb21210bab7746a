"""World, camera and road of the sample scene.

World frame (metres, on the road plane): x across the road (right positive, 0 at the median kerb),
y along the road away from the camera. Traffic on this carriageway travels +y. The camera is a
pinhole on a pole at (x=CAMERA_X, y=0, height CAMERA_HEIGHT) pitched down, so the ground-plane
homography world -> image is exact and every speed is known in km/h. A `Camera(y_m=...)` stands
further along the road (a second camera of a section, near its own timing line); what lies behind
it is not drawn.

Everything is drawn by projecting world polygons into the image; the signal head is the one thing
drawn in image space (at a fixed pixel box, larger than to scale) so its lamps can be read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]

WIDTH, HEIGHT = 960, 540
FPS = 15.0
DURATION_S = 28.0

# camera (pinhole): focal length in pixels, height over the road, pitch below the horizontal
FOCAL_PX = 1350.0
CAMERA_HEIGHT_M = 6.0
CAMERA_PITCH_DEG = 17.0
CAMERA_X_M = 5.0

# road layout (metres)
LANE_EDGES_X = (0.0, 3.5, 7.0, 10.0)  # lane 0 | lane 1 | lane 2 (motorbikes only)
SHOULDER_X = (10.0, 12.5)
STOP_LINE_Y = 32.0
STOP_LINE_WIDTH_M = 0.4
CROSSWALK_Y = (33.0, 36.5)
JUNCTION_Y = (37.0, 47.0)
SOLID_SECTION_Y = (16.0, STOP_LINE_Y)  # lane 0|1 line is solid here (no lane change before the stop line)
NO_STOPPING_Y = (18.0, 29.0)  # on the shoulder
ROAD_Y = (3.0, 140.0)  # nearest y drawn (in front of the camera, below the frame) to far end
SPEED_LIMIT_KMH = 50.0


class Phase(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


@dataclass(frozen=True, slots=True)
class SignalPlan:
    """Fixed-time plan: green, amber, red, repeating from `cycle_start_s` (stream seconds)."""

    cycle_start_s: float = 0.0
    green_s: float = 8.0
    amber_s: float = 3.0
    red_s: float = 10.0

    @property
    def cycle_s(self) -> float:
        return self.green_s + self.amber_s + self.red_s

    def phase_at(self, t: float) -> Phase:
        tau = (t - self.cycle_start_s) % self.cycle_s
        if tau < self.green_s:
            return Phase.GREEN
        if tau < self.green_s + self.amber_s:
            return Phase.AMBER
        return Phase.RED

    def red_onsets(self, until_s: float) -> list[float]:
        out: list[float] = []
        k = 0
        while True:
            t = self.cycle_start_s + k * self.cycle_s + self.green_s + self.amber_s
            if t > until_s:
                return out
            out.append(t)
            k += 1

    def time_into_red(self, t: float) -> float | None:
        if self.phase_at(t) is not Phase.RED:
            return None
        tau = (t - self.cycle_start_s) % self.cycle_s
        return tau - self.green_s - self.amber_s


@dataclass(frozen=True, slots=True)
class Camera:
    """Pinhole camera over the road plane; `homography` maps world (x, y, 1) to image pixels."""

    focal_px: float = FOCAL_PX
    height_m: float = CAMERA_HEIGHT_M
    pitch_deg: float = CAMERA_PITCH_DEG
    x_m: float = CAMERA_X_M
    y_m: float = 0.0  # where the pole stands along the road
    cx: float = WIDTH / 2
    cy: float = HEIGHT / 2

    @property
    def homography(self) -> npt.NDArray[np.float64]:
        f, h, xc = self.focal_px, self.height_m, self.x_m
        c, s = np.cos(np.radians(self.pitch_deg)), np.sin(np.radians(self.pitch_deg))
        at_pole = np.array(
            [
                [f, self.cx * c, -f * xc + self.cx * h * s],
                [0.0, -f * s + self.cy * c, f * h * c + self.cy * h * s],
                [0.0, c, h * s],
            ]
        )
        if self.y_m == 0.0:
            return at_pole
        return at_pole @ np.array([[1.0, 0.0, 0.0], [0.0, 1.0, -self.y_m], [0.0, 0.0, 1.0]])

    def project(self, pts: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """(N, 2) world metres -> (N, 2) image pixels."""
        p = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        hom = np.c_[p, np.ones(len(p))] @ self.homography.T
        return hom[:, :2] / hom[:, 2:3]

    def unproject(self, pix: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """(N, 2) image pixels -> (N, 2) world metres on the road plane."""
        p = np.asarray(pix, dtype=np.float64).reshape(-1, 2)
        hom = np.c_[p, np.ones(len(p))] @ np.linalg.inv(self.homography).T
        return hom[:, :2] / hom[:, 2:3]

    def px_per_m(self, y_m: float) -> float:
        """Image scale (pixels per metre) of an upright object standing at world distance y."""
        c, s = np.cos(np.radians(self.pitch_deg)), np.sin(np.radians(self.pitch_deg))
        return float(self.focal_px / ((y_m - self.y_m) * c + self.height_m * s))


def lane_center(lane: int) -> float:
    return (LANE_EDGES_X[lane] + LANE_EDGES_X[lane + 1]) / 2


SHOULDER_CENTER_X = sum(SHOULDER_X) / 2

# signal head (image space): housing and lamp boxes (x1, y1, x2, y2), red on top
SIGNAL_HOUSING = (884, 14, 926, 128)
SIGNAL_LAMPS: dict[Phase, tuple[int, int, int, int]] = {
    Phase.RED: (891, 21, 919, 49),
    Phase.AMBER: (891, 57, 919, 85),
    Phase.GREEN: (891, 93, 919, 121),
}
_LAMP_ON = {Phase.RED: (40, 40, 255), Phase.AMBER: (0, 190, 255), Phase.GREEN: (90, 230, 60)}
_LAMP_OFF = {Phase.RED: (30, 25, 60), Phase.AMBER: (25, 45, 60), Phase.GREEN: (30, 55, 30)}


def _poly(cam: Camera, img: Image, world: list[tuple[float, float]], colour: tuple[int, int, int]) -> None:
    near = cam.y_m + ROAD_Y[0]  # the homography flips sign behind the camera: nothing drawn there
    if max(y for _, y in world) <= near:
        return
    pts = cam.project([(x, max(y, near)) for x, y in world])
    cv2.fillPoly(img, [np.round(pts * 16).astype(np.int32)], colour, lineType=cv2.LINE_AA, shift=4)


def _rect(x1: float, x2: float, y1: float, y2: float) -> list[tuple[float, float]]:
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


def _line_x(
    cam: Camera,
    img: Image,
    x: float,
    y1: float,
    y2: float,
    w: float,
    colour: tuple[int, int, int],
    dash: tuple[float, float] | None = None,
) -> None:
    if dash is None:
        _poly(cam, img, _rect(x - w / 2, x + w / 2, y1, y2), colour)
        return
    on, off = dash
    y = y1
    while y < y2:
        _poly(cam, img, _rect(x - w / 2, x + w / 2, y, min(y + on, y2)), colour)
        y += on + off


def _paint_text(
    cam: Camera,
    img: Image,
    text: str,
    xc: float,
    y1: float,
    y2: float,
    w: float,
    colour: tuple[int, int, int],
) -> None:
    """Paint `text` on the road in the rectangle x in [xc-w/2, xc+w/2], y in [y1, y2] (reads from the camera)."""
    if y1 < cam.y_m + ROAD_Y[0]:
        return  # behind (or under) the camera
    res = 80.0  # patch pixels per metre
    pw, ph = int(w * res), int((y2 - y1) * res)
    small = np.zeros((180, 120 * len(text) + 40), np.uint8)
    cv2.putText(small, text, (20, 150), cv2.FONT_HERSHEY_SIMPLEX, 4.8, 255, 12, cv2.LINE_AA)
    ys, xs = np.nonzero(small)
    small = small[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    patch = cv2.resize(small, (pw, ph), interpolation=cv2.INTER_AREA)
    # patch pixel (u, v) -> world (xc - w/2 + u/res, y2 - v/res): the top of the patch is the far end
    a = np.array([[1 / res, 0, xc - w / 2], [0, -1 / res, y2], [0, 0, 1]])
    hmat = cam.homography @ a
    mask = cv2.warpPerspective(patch, hmat, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR).astype(np.float32) / 255
    img[:] = (img * (1 - mask[..., None]) + np.array(colour, np.float32) * mask[..., None]).astype(np.uint8)


def render_background(cam: Camera, rng: np.random.Generator) -> Image:
    """The static scene: verges, carriageway, markings, junction, shoulder and no-stopping box."""
    img = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    img[:] = (70, 110, 85)  # grass/verge
    far = ROAD_Y[1]
    white, yellow = (235, 235, 235), (40, 200, 230)
    # cross street and junction, then the carriageway, median and shoulder
    _poly(cam, img, _rect(-60, 70, JUNCTION_Y[0], JUNCTION_Y[1]), (92, 92, 96))
    _poly(cam, img, _rect(-3.0, 0.0, ROAD_Y[0], JUNCTION_Y[0]), (150, 155, 150))  # median kerb
    _poly(cam, img, _rect(-3.0, 0.0, JUNCTION_Y[1], far), (150, 155, 150))
    _poly(cam, img, _rect(-2.6, -0.4, ROAD_Y[0], JUNCTION_Y[0] - 0.4), (60, 120, 70))
    _poly(cam, img, _rect(-2.6, -0.4, JUNCTION_Y[1] + 0.4, far), (60, 120, 70))
    _poly(cam, img, _rect(LANE_EDGES_X[0], SHOULDER_X[1], ROAD_Y[0], far), (98, 98, 102))
    _poly(cam, img, _rect(SHOULDER_X[1], SHOULDER_X[1] + 3.0, ROAD_Y[0], JUNCTION_Y[0]), (165, 170, 175))
    _poly(cam, img, _rect(SHOULDER_X[1], SHOULDER_X[1] + 3.0, JUNCTION_Y[1], far), (165, 170, 175))
    # asphalt texture: seeded low-amplitude noise, blurred, on the road area only
    noise = np.asarray(
        cv2.GaussianBlur(rng.normal(0.0, 6.0, (HEIGHT, WIDTH)).astype(np.float32), (0, 0), 1.2)
    )
    road = (np.abs(img.astype(np.int16) - np.array([98, 98, 102])).sum(axis=2) < 12) | (
        np.abs(img.astype(np.int16) - np.array([92, 92, 96])).sum(axis=2) < 12
    )
    tex = img.astype(np.float32)
    tex[road] += noise[road][:, None]
    img = np.clip(tex, 0, 255).astype(np.uint8)
    # edge lines
    _line_x(cam, img, LANE_EDGES_X[0] + 0.1, ROAD_Y[0], JUNCTION_Y[0], 0.15, yellow)
    _line_x(cam, img, LANE_EDGES_X[0] + 0.1, JUNCTION_Y[1], far, 0.15, yellow)
    _line_x(cam, img, LANE_EDGES_X[3], ROAD_Y[0], CROSSWALK_Y[0], 0.15, white)
    _line_x(cam, img, LANE_EDGES_X[3], JUNCTION_Y[1], far, 0.15, white)
    # lane 0|1: dashed, solid over the approach to the stop line
    _line_x(cam, img, LANE_EDGES_X[1], ROAD_Y[0], SOLID_SECTION_Y[0], 0.15, white, dash=(3.0, 4.0))
    _line_x(cam, img, LANE_EDGES_X[1], SOLID_SECTION_Y[0], SOLID_SECTION_Y[1], 0.15, white)
    _line_x(cam, img, LANE_EDGES_X[1], JUNCTION_Y[1], far, 0.15, white, dash=(3.0, 4.0))
    # lane 1|2 (motorbike lane): solid; far side dashed
    _line_x(cam, img, LANE_EDGES_X[2], ROAD_Y[0], STOP_LINE_Y, 0.2, white)
    _line_x(cam, img, LANE_EDGES_X[2], JUNCTION_Y[1], far, 0.15, white, dash=(3.0, 4.0))
    # stop line, crosswalk
    _poly(
        cam, img, _rect(LANE_EDGES_X[0], LANE_EDGES_X[3], STOP_LINE_Y, STOP_LINE_Y + STOP_LINE_WIDTH_M), white
    )
    x = LANE_EDGES_X[0] + 0.3
    while x < SHOULDER_X[1] - 0.4:
        _poly(cam, img, _rect(x, x + 0.5, CROSSWALK_Y[0], CROSSWALK_Y[1]), white)
        x += 1.0
    # painted lane word "XE MAY" (motorbikes) in lane 2, elongated along the road as road text is
    _paint_text(cam, img, "XE MAY", lane_center(2), 12.0, 18.5, 2.0, white)
    _paint_text(cam, img, "XE MAY", lane_center(2), 23.0, 30.0, 2.0, white)
    # no-stopping box on the shoulder: yellow outline and zig-zag
    y1, y2 = NO_STOPPING_Y
    x1, x2 = SHOULDER_X[0] + 0.2, SHOULDER_X[1] - 0.2
    for a, b in ((x1, x1 + 0.15), (x2 - 0.15, x2)):
        _poly(cam, img, _rect(a, b, y1, y2), yellow)
    for a, b in ((y1, y1 + 0.15), (y2 - 0.15, y2)):
        _poly(cam, img, _rect(x1, x2, a, b), yellow)
    ys = np.arange(y1, y2, 1.5)
    for k, y in enumerate(ys[:-1]):
        if y < cam.y_m + ROAD_Y[0]:
            continue
        xa, xb = (x1, x2) if k % 2 == 0 else (x2, x1)
        pts = cam.project([(xa, y), (xb, ys[k + 1])])
        cv2.line(
            img,
            tuple(np.round(pts[0]).astype(int)),
            tuple(np.round(pts[1]).astype(int)),
            yellow,
            2,
            cv2.LINE_AA,
        )
    # signal pole (from the ground at the far-right corner of the junction up to the head)
    base = cam.project([(SHOULDER_X[1] + 1.5, JUNCTION_Y[1] + 1.0)])[0]
    hx = (SIGNAL_HOUSING[0] + SIGNAL_HOUSING[2]) // 2
    cv2.line(img, (hx, SIGNAL_HOUSING[3]), (hx, int(base[1])), (60, 60, 60), 4, cv2.LINE_AA)
    return img


def draw_signal(img: Image, phase: Phase) -> None:
    """Draw the signal head with the lamp of `phase` lit (in place)."""
    x1, y1, x2, y2 = SIGNAL_HOUSING
    cv2.rectangle(img, (x1, y1), (x2, y2), (20, 20, 20), -1)
    for p, (a, b, c, d) in SIGNAL_LAMPS.items():
        colour = _LAMP_ON[p] if p is phase else _LAMP_OFF[p]
        centre = ((a + c) // 2, (b + d) // 2)
        cv2.circle(img, centre, (c - a) // 2, colour, -1, cv2.LINE_AA)
